"""The aiohttp parts of the harness's HTTP servers; imported only when a server starts.

aiohttp parses HTTP, keeps connections alive and closes them on shutdown. Three things are the
harness's own, because its APIs promise them (``tests/test_*_hardening.py``):

* every answer is JSON in the server's error shape, also for bytes that are not HTTP: aiohttp's
  default for those is a text/plain 400 plus a logged traceback (``JsonErrors.handle_error``),
  and a header or request line over the limits is 431 as in Go's net/http (real Toxiproxy);
* a server may cap its open connections, answering one more with 503 and closing it;
* the listening socket is one the harness bound itself (``harness.loopback.bind_socket`` gives
  the one-line "address in use" error), served by ``LoopbackSite``, a ``SockSite`` whose
  connections use ``JsonErrors``.
"""

from __future__ import annotations

import asyncio
import json
import socket
from collections.abc import Awaitable, Callable, Sequence
from http import HTTPStatus
from typing import Any, cast

from aiohttp import web
from aiohttp.http_exceptions import BadHttpMessage, LineTooLong

from harness.httpguard import Refused, log_unexpected, one_line
from harness.httpsettings import Settings

MAX_LINE = 65536  # bytes in the request line or one header line (as the former servers allowed)
MAX_HEADERS = 100

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


def error_json(settings: Settings, status: int, message: str) -> bytes:
    """The server's JSON error (``settings.error_body``) for ``status``, its message on one line."""
    return (json.dumps(settings.error_body(status, one_line(message))) + "\n").encode()


def error_response(settings: Settings, status: int, message: str) -> web.Response:
    return web.Response(status=status, body=error_json(settings, status, message), content_type="application/json")


class JsonErrors(web.RequestHandler):
    """aiohttp's connection handler, answering what is not HTTP (or over a limit) in JSON."""

    def __init__(self, manager: web.Server, settings: Settings, loop: asyncio.AbstractEventLoop) -> None:
        super().__init__(manager, loop=loop, keepalive_timeout=settings.keepalive_timeout, access_log=None,
                         max_line_size=MAX_LINE, max_field_size=MAX_LINE, max_headers=MAX_HEADERS,
                         lingering_time=0)  # a body left unread (refused, too large): close, do not drain it
        self.settings = settings
        self.server = manager

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        super().connection_made(transport)
        limit = self.settings.max_connections
        if limit is not None and len(self.server.connections) > limit:
            body = error_json(self.settings, 503, f"more than {limit} connections at once")
            head = ("HTTP/1.1 503 Service Unavailable\r\nContent-Type: application/json\r\n"
                    f"Content-Length: {len(body)}\r\nConnection: close\r\n\r\n").encode()
            cast(asyncio.Transport, transport).write(head + body)
            self.force_close()  # before a request is read: no handler runs

    def eof_received(self) -> bool:
        """A client that half-closes after its request still gets the answer, then the connection closes.

        aiohttp closes the transport on end of stream, dropping the response to a request that
        is queued or being handled. Idle (waiting for a request, or nothing sent): close as before.
        ``_waiter`` (set while idle) and ``_request_count`` are aiohttp's own connection state.
        """
        waiting = self._waiter is not None and not self._waiter.done()
        if waiting or self._request_count == 0:
            return False
        self.close()  # answer what was sent, then close
        return True

    def handle_error(self, request: Any, status: int = 500, exc: BaseException | None = None,
                     message: str | None = None) -> web.StreamResponse:
        """Bytes that are not an HTTP request, or a handler failure aiohttp caught: JSON, one line at most."""
        if request.writer.output_size > 0:
            raise ConnectionError("the response had started; no error response can follow")
        # aiohttp raises a plain BadHttpMessage for more than max_headers lines, told apart by its text
        if isinstance(exc, LineTooLong) or (isinstance(exc, BadHttpMessage) and "Too many headers" in exc.message):
            status, message = 431, "request line or header fields too large"
        if status >= 500:
            message = log_unexpected(self.settings.what, exc) if exc is not None else HTTPStatus(status).phrase
        response = error_response(self.settings, status, message or HTTPStatus(status).phrase)
        response.force_close()
        return response


class LoopbackSite(web.BaseSite):
    """``web.SockSite`` with ``JsonErrors`` connections on a socket bound by the harness."""

    def __init__(self, runner: web.BaseRunner, sock: socket.socket, settings: Settings, backlog: int = 128) -> None:
        super().__init__(runner, backlog=backlog)
        self.sock = sock
        self.settings = settings

    @property
    def name(self) -> str:
        host, port = self.sock.getsockname()[:2]
        return f"http://{host}:{port}"

    async def start(self) -> None:
        await super().start()
        loop = asyncio.get_running_loop()
        server = self._runner.server
        assert server is not None
        self._server = await loop.create_server(lambda: JsonErrors(server, self.settings, loop),
                                                sock=self.sock, backlog=self._backlog)


def _render_errors(settings: Settings) -> Any:
    @web.middleware
    async def render_errors(request: web.Request, handler: Handler) -> web.StreamResponse:
        """Refusals and aiohttp's HTTP errors as the server's JSON; a bug as a JSON 500 and one log line."""
        try:
            return await handler(request)
        except Refused as exc:
            return error_response(settings, exc.status, str(exc))
        except web.HTTPException as exc:  # no route (absolute-form targets), body over client_max_size
            return error_response(settings, exc.status, exc.reason)
        except Exception as exc:  # a bug must not cost the client its answer, nor spill a traceback
            return error_response(settings, 500, log_unexpected(settings.what, exc))

    return render_errors


async def read_body(request: web.Request, limit: int, timeout: float = 10.0) -> bytes:
    """The request body: 413 over ``limit`` bytes (before reading), 408 when not sent within ``timeout``."""
    length = request.content_length
    if length is not None and length > limit:
        raise Refused(413, f"request body of {length} bytes is more than {limit}")
    try:
        async with asyncio.timeout(timeout):
            return await request.read()
    except TimeoutError:
        raise Refused(408, f"request body not received within {timeout:g} s") from None


async def serve(handler: Handler, sock: socket.socket, settings: Settings, middlewares: Sequence[Any]) -> web.AppRunner:
    """Serve ``handler`` for every path on ``sock`` (listening once this returns)."""
    app = web.Application(middlewares=[_render_errors(settings), *middlewares], client_max_size=settings.client_max_size)
    app.router.add_route("*", "/{path:.*}", handler)
    if settings.on_cleanup is not None:
        cleanup = settings.on_cleanup

        async def _cleanup(_: web.Application) -> None:
            cleanup()

        app.on_cleanup.append(_cleanup)
    runner = web.AppRunner(app, handle_signals=False, shutdown_timeout=settings.shutdown_timeout)
    await runner.setup()
    try:
        await LoopbackSite(runner, sock, settings).start()
    except BaseException:
        await runner.cleanup()
        raise
    return runner
