"""boto3 clients for the mocked regions: one shared botocore session, dummy credentials.

``botocore.session.get_session()`` returns a *new* session that reads endpoint data and service
models from disk again (about 0.1-0.2 s each); everything in the harness and the sample app that
needs botocore metadata or a client goes through the one session here instead.
"""

from __future__ import annotations

import threading
from typing import Any

import boto3
import botocore.session

_session_lock = threading.Lock()
_botocore_session: botocore.session.Session | None = None


def botocore_session() -> botocore.session.Session:
    """The process's botocore session: endpoint data and service models are loaded once."""
    global _botocore_session
    with _session_lock:
        if _botocore_session is None:
            _botocore_session = botocore.session.get_session()
        return _botocore_session


def session() -> boto3.session.Session:
    """A boto3 session over the shared botocore session, with dummy credentials."""
    return boto3.session.Session(
        aws_access_key_id="testing", aws_secret_access_key="testing", botocore_session=botocore_session()
    )


def dynamodb_client(region: str, endpoint_url: str, config: Any = None) -> Any:
    """A DynamoDB client; created under the lock because a botocore session is not thread-safe
    while it creates clients (the clients themselves are)."""
    factory = session()
    with _session_lock:
        return factory.client("dynamodb", region_name=region, endpoint_url=endpoint_url, config=config)
