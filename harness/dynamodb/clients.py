"""boto3 clients for the mocked regions: one shared botocore session, dummy credentials."""

from __future__ import annotations

import threading

import boto3
import botocore.session

_session_lock = threading.Lock()
_botocore_session: botocore.session.Session | None = None


def session() -> boto3.session.Session:
    """A boto3 session over one shared botocore session: loading service models once keeps client creation cheap."""
    global _botocore_session
    with _session_lock:
        if _botocore_session is None:
            _botocore_session = botocore.session.get_session()
        return boto3.session.Session(
            aws_access_key_id="testing", aws_secret_access_key="testing", botocore_session=_botocore_session
        )
