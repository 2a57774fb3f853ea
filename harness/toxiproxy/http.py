"""A minimal HTTP/1.1 server on asyncio for a JSON API: keep-alive, Content-Length bodies.

Enough for the Toxiproxy API and its clients (requests, curl, the Go client) without adding a
web framework to the harness. Handlers map a request to ``Response``; anything malformed gets a
4xx and the connection is closed; a request that looks like a browser's gets 403 before the
handler runs (``harness.httpguard``); an exception a handler did not expect becomes a JSON 500
and one log line. Every request gets a response.
"""

from __future__ import annotations

import asyncio
import dataclasses
import itertools
import json
import re
from collections.abc import Awaitable, Callable
from http import HTTPStatus
from typing import Any

from harness.httpguard import browser_reason, log_unexpected

MAX_BODY = 16 << 20
MAX_HEADERS = 100
_DIGITS = re.compile(r"[0-9]{1,12}")


@dataclasses.dataclass
class Request:
    method: str
    path: str
    headers: dict[str, str]
    body: bytes


@dataclasses.dataclass
class Response:
    status: int
    body: bytes = b""
    content_type: str = "application/json"

    @classmethod
    def json(cls, status: int, payload: Any) -> "Response":
        return cls(status, (json.dumps(payload) + "\n").encode())


Handler = Callable[[Request], Awaitable[Response]]


class BadRequest(Exception):
    """The bytes on the wire are not an HTTP request this server accepts (answered, then closed)."""

    def __init__(self, message: str, status: int = 400) -> None:
        super().__init__(message)
        self.status = status


class HttpServer:
    """Serves ``handler`` on an already bound, listening socket."""

    def __init__(self, handler: Handler) -> None:
        self._handler = handler
        self._server: asyncio.base_events.Server | None = None
        self._writers: set[asyncio.StreamWriter] = set()
        self._listen: tuple[str, int] = ("", 0)

    async def start(self, sock: Any) -> None:
        self._listen = sock.getsockname()[:2]
        self._server = await asyncio.start_server(self._serve, sock=sock)

    async def stop(self) -> None:
        if self._server is not None:
            self._server.close()
            self._server = None
        for writer in list(self._writers):
            writer.close()

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self._writers.add(writer)
        try:
            keep_alive = True
            while keep_alive:
                try:
                    request, keep_alive = await _read_request(reader)
                except BadRequest as exc:
                    await _write(writer, _error(exc.status, str(exc)), False)
                    return
                if request is None:
                    return
                await _write(writer, await self._respond(request), keep_alive)
        except (ConnectionError, asyncio.IncompleteReadError):
            pass
        finally:
            self._writers.discard(writer)
            writer.close()

    async def _respond(self, request: Request) -> Response:
        refused = browser_reason(request.method, request.headers.get, self._listen)
        if refused is not None:
            return _error(403, refused)
        try:
            return await self._handler(request)
        except Exception as exc:  # a bug must not cost the client its answer, nor spill a traceback
            return _error(500, log_unexpected("embedded Toxiproxy API", exc))


def _error(status: int, message: str) -> Response:
    return Response.json(status, {"error": message, "status": status})


async def _line(reader: asyncio.StreamReader) -> bytes:
    """One line; ``BadRequest`` 431 when it exceeds the reader's limit (64 KiB)."""
    try:
        return await reader.readline()
    except (ValueError, asyncio.LimitOverrunError):
        raise BadRequest("request line or header line too large", 431) from None


async def _read_request(reader: asyncio.StreamReader) -> tuple[Request | None, bool]:
    line = await _line(reader)
    if not line:
        return None, False
    try:
        method, target, version = line.decode("latin-1").split()
    except ValueError:
        raise BadRequest(f"malformed request line {line[:80]!r}") from None
    headers: dict[str, str] = {}
    for count in itertools.count():
        raw = await _line(reader)
        if raw in (b"\r\n", b"\n", b""):
            break
        if count >= MAX_HEADERS:
            raise BadRequest(f"more than {MAX_HEADERS} header lines", 431)
        name, sep, value = raw.decode("latin-1").partition(":")
        if not sep:
            raise BadRequest(f"malformed header {raw[:80]!r}")
        headers[name.strip().lower()] = value.strip()
    if "chunked" in headers.get("transfer-encoding", "").lower():
        raise BadRequest("chunked request bodies are not supported; send Content-Length")
    length_text = headers.get("content-length", "0")
    if not _DIGITS.fullmatch(length_text):
        raise BadRequest(f"bad Content-Length {length_text[:40]!r}")
    if int(length_text) > MAX_BODY:
        raise BadRequest(f"body of {length_text} bytes is more than {MAX_BODY}", 413)
    body = await reader.readexactly(int(length_text)) if int(length_text) else b""
    connection = headers.get("connection", "").lower()
    keep_alive = connection != "close" if version == "HTTP/1.1" else connection == "keep-alive"
    path = target.split("?", 1)[0]
    return Request(method.upper(), path, headers, body), keep_alive


async def _write(writer: asyncio.StreamWriter, response: Response, keep_alive: bool) -> None:
    reason = HTTPStatus(response.status).phrase
    head = [
        f"HTTP/1.1 {response.status} {reason}",
        f"Content-Type: {response.content_type}",
        f"Content-Length: {len(response.body)}",
        f"Connection: {'keep-alive' if keep_alive else 'close'}",
    ]
    writer.write(("\r\n".join(head) + "\r\n\r\n").encode("latin-1") + response.body)
    await writer.drain()
