"""boto3 clients for the mocked regions: one shared session, dummy credentials.

``botocore.session.get_session()`` returns a *new* session that reads endpoint data and service
models from disk again (about 0.1-0.2 s each), so the process keeps one botocore session for every
metadata lookup and one boto3 session over it for every client. boto3 registers its per-session
event handlers (S3's ``upload_file`` injection among them) once per session, which it requires, and
a session is not thread-safe while it creates clients (the clients themselves are): creating one is
serialised with a lock.
"""

from __future__ import annotations

import functools
import threading
from typing import Any

import boto3
import botocore.session

_session_lock = threading.Lock()
_botocore_session: botocore.session.Session | None = None
_boto3_session: boto3.session.Session | None = None


def _shared_botocore() -> botocore.session.Session:
    """The botocore session; the caller holds ``_session_lock``."""
    global _botocore_session
    if _botocore_session is None:
        _botocore_session = botocore.session.get_session()
    return _botocore_session


def botocore_session() -> botocore.session.Session:
    """The process's botocore session: endpoint data and service models are loaded once."""
    with _session_lock:
        return _shared_botocore()


class _LockedSession:
    """The shared boto3 session, handing out clients one at a time."""

    def client(self, *args: Any, **kwargs: Any) -> Any:
        global _boto3_session
        with _session_lock:
            if _boto3_session is None:
                _boto3_session = boto3.session.Session(aws_access_key_id="testing", aws_secret_access_key="testing",
                                                       botocore_session=_shared_botocore())
            return _boto3_session.client(*args, **kwargs)


class _MotoRegionLists:
    """The two questions moto asks its own boto3 session, answered by the shared botocore session."""

    def get_available_partitions(self) -> list[str]:
        return botocore_session().get_available_partitions()

    def get_available_regions(self, service_name: str, partition_name: str = "aws",
                              allow_non_regional: bool = False) -> list[str]:
        return botocore_session().get_available_regions(service_name, partition_name, allow_non_regional)


@functools.cache  # once per process: the hook is moto's, process-wide
def share_region_lists_with_moto() -> None:
    """Let moto list a service's regions from the shared botocore session.

    moto builds each service's per-account backends for the regions botocore knows, asking a boto3
    ``Session`` of its own (``AccountSpecificBackend.get_session``), which loads and parses
    botocore's endpoint data a second time: about 0.1 s of every harness start. The answers are the
    same, read from data this process has loaded already. A moto without that hook keeps its own.
    """
    from moto.core.base_backend import AccountSpecificBackend

    if callable(getattr(AccountSpecificBackend, "get_session", None)):
        lists = _MotoRegionLists()
        AccountSpecificBackend.get_session = classmethod(lambda cls: lists)  # type: ignore[method-assign]


def session() -> _LockedSession:
    """The shared session (only ``client(...)`` is offered)."""
    return _LockedSession()


def dynamodb_client(region: str, endpoint_url: str, config: Any = None) -> Any:
    """A DynamoDB client of the shared session."""
    return session().client("dynamodb", region_name=region, endpoint_url=endpoint_url, config=config)
