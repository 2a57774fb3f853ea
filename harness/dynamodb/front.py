"""A keep-alive HTTP/1.1 WSGI server for one region's front.

The real DynamoDB endpoint keeps connections open, and botocore pools them; that is why, during the
2025 outage, clients with warm pools kept working while new connections failed their DNS lookup.
werkzeug's development server (what moto's server mode uses) always answers ``Connection: close``,
which would make every call resolve the name again and hide that behaviour. This server speaks
HTTP/1.1 with persistent connections, frames every response with ``Content-Length``, and closes
its open connections on ``stop()`` so no handler thread outlives the harness.

It stays a hand-written server, unlike the harness's HTTP APIs (aiohttp, ``harness.httpserver``):
faults and ``max_connection_age`` close or recycle chosen client connections on command (idle ones
now, busy ones after their response, ``close_connections``), and no HTTP library exposes that.
"""

from __future__ import annotations

import http.server
import io
import socket
import socketserver
import sys
import threading
import time
from collections.abc import Callable, Iterable
from typing import Any

from harness.connection_threads import ReusedThreadsMixIn
from harness.loopback import bind_socket, require_loopback, shutdown_quietly

WSGIApp = Callable[[dict, Callable[..., Any]], Iterable[bytes]]
# Framing is this server's job; Server/Date it sends itself (send_response), as the real endpoint does.
_NOT_FORWARDED = {"connection", "keep-alive", "transfer-encoding", "content-length", "server", "date"}


class _Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "Server"  # what DynamoDB sends
    sys_version = ""
    disable_nagle_algorithm = True  # headers and body go out as separate writes; don't wait on delayed ACKs
    server: "_Server"

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - stdlib signature
        """Quiet: a drill makes thousands of requests; the request log records what matters."""

    def setup(self) -> None:
        super().setup()
        self.opened = time.monotonic()

    def _expired(self) -> bool:
        """Past the server's connection lifetime: this response closes the connection, so the
        client's next call opens a new one and must resolve the endpoint name again."""
        max_age = self.server.max_connection_age
        return max_age is not None and time.monotonic() - self.opened >= max_age

    def parse_request(self) -> bool:
        """A request line arrived: from now until its response is sent the connection is busy, so
        ``close_connections()`` lets this response go out (with ``Connection: close``) first."""
        self.server.set_busy(self.connection, True)
        return super().parse_request()

    def _serve(self) -> None:
        try:
            self._respond()
        finally:
            if self.server.set_busy(self.connection, False):
                self.close_connection = True

    def _respond(self) -> None:
        if "chunked" in self.headers.get("Transfer-Encoding", "").lower():
            self.send_error(411, "Content-Length required")  # botocore always sends Content-Length
            self.close_connection = True
            return
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        status, headers, payload = self._call_app(self._environ(body))
        code, _, reason = status.partition(" ")
        self.send_response(int(code), reason or None)
        for name, value in headers:
            if name.lower() not in _NOT_FORWARDED:
                self.send_header(name, value)
        self.send_header("Content-Length", str(len(payload)))
        if self._expired() or self.server.closing(self.connection):
            self.send_header("Connection", "close")
            self.close_connection = True
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(payload)

    do_GET = do_POST = do_PUT = do_DELETE = do_HEAD = do_PATCH = do_OPTIONS = _serve

    def _environ(self, body: bytes) -> dict[str, Any]:
        path, _, query = self.path.partition("?")
        host, port = self.server.server_address[:2]
        environ: dict[str, Any] = {
            "REQUEST_METHOD": self.command,
            "SCRIPT_NAME": "",
            "PATH_INFO": path,
            "QUERY_STRING": query,
            "SERVER_NAME": host,
            "SERVER_PORT": str(port),
            "SERVER_PROTOCOL": self.request_version,
            "REMOTE_ADDR": self.client_address[0],
            "REMOTE_PORT": str(self.client_address[1]),
            "CONTENT_TYPE": self.headers.get("Content-Type", ""),
            "CONTENT_LENGTH": str(len(body)),
            "wsgi.version": (1, 0),
            "wsgi.url_scheme": "http",
            "wsgi.input": io.BytesIO(body),
            "wsgi.errors": sys.stderr,
            "wsgi.multithread": True,
            "wsgi.multiprocess": False,
            "wsgi.run_once": False,
        }
        for name, value in self.headers.items():
            key = "HTTP_" + name.upper().replace("-", "_")
            if key in ("HTTP_CONTENT_TYPE", "HTTP_CONTENT_LENGTH"):
                continue
            environ[key] = f"{environ[key]},{value}" if key in environ else value
        return environ

    def _call_app(self, environ: dict[str, Any]) -> tuple[str, list[tuple[str, str]], bytes]:
        started: list[Any] = []

        def start_response(status: str, headers: list[tuple[str, str]], exc_info: Any = None) -> Callable:
            started[:] = [status, headers]
            return lambda data: None  # write() callable is not used by Flask/moto

        try:
            result = self.server.app(environ, start_response)
            try:
                payload = b"".join(result)
            finally:
                getattr(result, "close", lambda: None)()
        except Exception as exc:  # an app bug must not kill the connection thread silently
            message = f"front server error: {type(exc).__name__}: {exc}".encode()
            return "500 Internal Server Error", [("Content-Type", "text/plain")], message
        return started[0], started[1], payload


class _Server(ReusedThreadsMixIn, socketserver.TCPServer):
    connection_thread_name = "front connection"

    def __init__(self, sock: socket.socket, app: WSGIApp) -> None:
        super().__init__(sock.getsockname()[:2], _Handler, bind_and_activate=False)
        self.socket.close()
        self.socket = sock
        self.server_address = sock.getsockname()
        self.app = app
        self.max_connection_age: float | None = None
        self.connections: set[socket.socket] = set()
        self._busy: set[socket.socket] = set()
        self._closing: set[socket.socket] = set()  # busy when told to close: closed after their response
        self._conn_lock = threading.Condition()  # notified when a connection is gone

    def process_request(self, request: socket.socket, client_address: Any) -> None:
        with self._conn_lock:
            self.connections.add(request)
        super().process_request(request, client_address)

    def shutdown_request(self, request: socket.socket) -> None:
        with self._conn_lock:
            self.connections.discard(request)
            self._busy.discard(request)
            self._closing.discard(request)
            self._conn_lock.notify_all()
        super().shutdown_request(request)

    def set_busy(self, conn: socket.socket, busy: bool) -> bool:
        """Mark a connection busy (a request is being served) or idle; True if it must close now."""
        with self._conn_lock:
            if busy:
                self._busy.add(conn)
                return False
            self._busy.discard(conn)
            return conn in self._closing

    def closing(self, conn: socket.socket) -> bool:
        with self._conn_lock:
            return conn in self._closing

    def close_connections(self, timeout: float = 5.0) -> list[tuple[str, int]]:
        """Close every kept-alive connection: idle ones at once (returns once their handlers let go
        of them, at most ``timeout`` s), busy ones after their response. Returns the peers told
        to close (the endpoint nodes' upstream sockets, when clients come through them)."""
        with self._conn_lock:
            peers = [_peer(conn) for conn in self.connections]
            idle = [conn for conn in self.connections if conn not in self._busy]
            self._closing.update(self.connections - set(idle))
            for conn in idle:
                shutdown_quietly(conn)
            self._conn_lock.wait_for(lambda: self.connections.isdisjoint(idle), timeout)
            return [peer for peer in peers if peer is not None]

    def handle_error(self, request: Any, client_address: Any) -> None:
        """Peers vanish during network faults (reset, blackhole); that is expected, not an error."""
        if not isinstance(sys.exc_info()[1], OSError):
            super().handle_error(request, client_address)

    def drop_connections(self) -> None:
        with self._conn_lock:
            for conn in self.connections:
                shutdown_quietly(conn)


def _peer(conn: socket.socket) -> tuple[str, int] | None:
    try:
        host, port = conn.getpeername()[:2]
    except OSError:  # already gone
        return None
    return host, port


class KeepAliveWSGIServer:
    """Serve a WSGI app on ``host:port`` with persistent HTTP/1.1 connections.

    ``max_connection_age`` (seconds, None = forever) recycles connections the way real endpoints
    and load balancers do; without it a warm client pool never needs DNS again, and a DNS outage
    would only ever hit clients that start cold.
    """

    def __init__(self, app: WSGIApp, host: str, port: int = 0, *, name: str = "front server",
                 allow_non_loopback: bool = False, max_connection_age: float | None = None) -> None:
        self.app = app
        self._max_connection_age = max_connection_age
        self.name = name
        self._host = require_loopback(host, allow_non_loopback=allow_non_loopback, what=name)
        self._port = port
        self._server: _Server | None = None
        self._thread: threading.Thread | None = None

    def start(self) -> "KeepAliveWSGIServer":
        if self._server is not None:
            return self
        sock = bind_socket(self._host, self._port, what=self.name)
        sock.listen(128)
        self._server = _Server(sock, self.app)
        self._server.max_connection_age = self._max_connection_age
        self._thread = threading.Thread(target=self._server.serve_forever, args=(0.05,), name=self.name)
        self._thread.start()
        return self

    def stop(self) -> None:
        server, thread = self._server, self._thread
        if server is None or thread is None:
            return
        server.shutdown()
        thread.join()
        server.drop_connections()
        server.server_close()
        self._server = self._thread = None

    @property
    def host(self) -> str:
        return self._host

    @property
    def port(self) -> int:
        if self._server is None:
            raise RuntimeError(f"{self.name} is not started")
        return self._server.server_address[1]

    @property
    def address(self) -> tuple[str, int]:
        return self.host, self.port

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    @property
    def max_connection_age(self) -> float | None:
        """Seconds a client connection is kept before the response that closes it (None: forever)."""
        return self._max_connection_age

    @max_connection_age.setter
    def max_connection_age(self, seconds: float | None) -> None:
        """Takes effect on the next response of every open connection (ages count from their open)."""
        self._max_connection_age = seconds
        if self._server is not None:
            self._server.max_connection_age = seconds

    def close_connections(self) -> list[tuple[str, int]]:
        """Close every pooled (kept-alive) client connection now; a request in flight gets its
        response first. Clients reconnect, and so resolve the endpoint name again. Returns the
        peers closed."""
        return self._server.close_connections() if self._server is not None else []

    @property
    def open_connections(self) -> int:
        """Connections currently held open (keep-alive) by clients or proxies."""
        return len(self._server.connections) if self._server else 0

    def __enter__(self) -> "KeepAliveWSGIServer":
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
