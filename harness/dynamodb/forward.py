"""WSGI app relaying each request to a moto server over HTTP (the external-moto backend's app).

It sits where moto's own WSGI app sits in process, innermost in each region's front, so service
faults, the region check, the request log and write capture all still happen in the front. The
request goes on unchanged (method, path, body, signature, the client's ``Host``, the account header
``PinAccount`` added); the answer comes back unchanged except hop-by-hop headers (the front frames
its own responses and keeps the *client's* connection alive). Connections to moto are pooled and
reused whenever moto allows it; moto's werkzeug server answers ``Connection: close``, so against
it each forwarded request opens a fresh connection (well under a millisecond on loopback).
"""

from __future__ import annotations

from collections.abc import Iterable

import urllib3
import urllib3.exceptions

from harness.dynamodb import awsjson
from harness.dynamodb.awsjson import AwsError

# RFC 9110 hop-by-hop headers, plus framing the front and urllib3 each do themselves.
_HOP_BY_HOP = frozenset({"connection", "keep-alive", "proxy-authenticate", "proxy-authorization", "te",
                         "trailer", "trailers", "transfer-encoding", "upgrade", "expect", "content-length"})


def connection_pool(url: str, *, timeout: float = 30.0, maxsize: int = 32) -> urllib3.HTTPConnectionPool:
    """A keep-alive connection pool to ``url`` (no retries: the client decides what to retry)."""
    return urllib3.connection_from_url(
        url, maxsize=maxsize, block=False, retries=False,
        timeout=urllib3.Timeout(connect=min(5.0, timeout), read=timeout),
    )


def describe_error(exc: BaseException) -> str:
    """The cause of a urllib3 failure in a few words ("[Errno 111] Connection refused"), not object reprs."""
    cause = exc.__cause__ or exc.__context__
    if isinstance(cause, OSError) or cause is None:
        return str(cause or exc)
    return describe_error(cause)


def request_headers(environ: dict) -> dict[str, str]:
    """The client's end-to-end request headers from a WSGI environ (``Host`` included)."""
    headers = {name[5:].replace("_", "-").title(): value
               for name, value in environ.items() if name.startswith("HTTP_")}
    if environ.get("CONTENT_TYPE"):
        headers["Content-Type"] = environ["CONTENT_TYPE"]
    return {name: value for name, value in headers.items() if name.lower() not in _HOP_BY_HOP}


class ForwardToMoto:
    """Relay every request to the moto server at ``url``; answer InternalServerError if it is gone."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.pool = connection_pool(url)

    def close(self) -> None:
        """Close pooled connections; a fresh pool serves any later request (the regions may restart)."""
        old, self.pool = self.pool, connection_pool(self.url)
        old.close()

    def __call__(self, environ: dict, start_response) -> Iterable[bytes]:
        path = environ.get("PATH_INFO") or "/"  # the front passes the raw (still quoted) path
        if environ.get("QUERY_STRING"):
            path += "?" + environ["QUERY_STRING"]
        try:
            response = self.pool.urlopen(
                environ["REQUEST_METHOD"], path, body=awsjson.read_body(environ) or None,
                headers=request_headers(environ), retries=False, redirect=False, assert_same_host=False,
                preload_content=True, decode_content=False,
            )
        except urllib3.exceptions.HTTPError as exc:
            # botocore retries a 500 InternalServerError like any server-side failure; the message
            # (and the request log) say it was the harness's moto that failed, not a fault.
            message = f"chaos-harness: moto at {self.url} failed: {describe_error(exc)}"
            error = AwsError(500, awsjson.INTERNAL_SERVER_ERROR.type, message)
            return awsjson.send(awsjson.error_response(error), start_response)
        headers = [(name, value) for name, value in response.headers.items() if name.lower() not in _HOP_BY_HOP]
        start_response(f"{response.status} {response.reason or ''}".rstrip(), headers)
        return [response.data]
