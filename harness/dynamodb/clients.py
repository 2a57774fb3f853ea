"""boto3 clients for the mocked regions: one shared session, dummy credentials.

One boto3 session for the process: loading service models once keeps client creation cheap, and
boto3 registers its per-session event handlers (S3's ``upload_file`` injection among them) only
once, which it requires. Creating clients from one session is serialised with a lock, because a
boto3 session is not thread-safe.
"""

from __future__ import annotations

import threading
from typing import Any

import boto3

_session_lock = threading.Lock()
_boto3_session: boto3.session.Session | None = None


class _LockedSession:
    """The shared boto3 session, handing out clients one at a time."""

    def client(self, *args: Any, **kwargs: Any) -> Any:
        global _boto3_session
        with _session_lock:
            if _boto3_session is None:
                _boto3_session = boto3.session.Session(aws_access_key_id="testing", aws_secret_access_key="testing")
            return _boto3_session.client(*args, **kwargs)


def session() -> _LockedSession:
    """The shared session (only ``client(...)`` is offered)."""
    return _LockedSession()
