"""Serving the sample app's Flask API (``sample_app.api``) with werkzeug's threaded server.

``AppServer`` runs it in-process (``start()``/``stop()``/``url``): ``python -m sample_app`` for the
harness's process mode, and the in-process replicas and test fixtures. It binds loopback unless
told otherwise, names the address in one line when the port is taken, and ``stop()`` ends every
open connection and joins every handler thread, so nothing leaks.

werkzeug's server answers every request with ``Connection: close`` (it dropped keep-alive in 2.1),
so each client request opens a new connection and resolves the app's name again, the way clients
reach a service whose load balancer does not keep idle connections. The DynamoDB side is where
pooled connections matter, and the harness's own fronts keep those open.
"""

from __future__ import annotations

import logging
import socket
import threading
import time
from collections.abc import Callable
from typing import Any

from flask import Flask
from werkzeug.serving import ThreadedWSGIServer, WSGIRequestHandler

from harness.loopback import bind_socket, require_loopback
from sample_app.api import create_app
from sample_app.config import AppConfig, RetrySettings, Timeouts
from sample_app.metrics import Metrics
from sample_app.sessions import SessionService
from sample_app.store import check_tables, make_client

log = logging.getLogger(__name__)

REQUEST_TIMEOUT = 30.0  # seconds a connection may wait for its request before its thread lets go


class _Handler(WSGIRequestHandler):
    timeout = REQUEST_TIMEOUT
    disable_nagle_algorithm = True  # headers and body are separate writes: don't wait on delayed ACKs

    def log(self, type: str, message: str, *args: Any) -> None:  # noqa: A002 - werkzeug's signature
        """Quiet: a drill sends thousands of requests; the app's metrics count them."""
        log.log(logging.ERROR if type == "error" else logging.DEBUG, message, *args)


class _Server(ThreadedWSGIServer):
    """werkzeug's threaded server, made to end with its connections: handler threads are joined
    on close instead of left as daemons, and open connections are tracked so ``stop()`` and
    ``drain()`` can end them."""

    daemon_threads = False
    block_on_close = True

    def __init__(self, sock: socket.socket, app: Flask) -> None:
        host, port = sock.getsockname()[:2]
        super().__init__(host, port, app, _Handler, fd=sock.fileno())  # serves a duplicate of ``sock``
        self._connections: set[socket.socket] = set()
        self._lock = threading.Lock()
        self._connection_ended = threading.Condition(self._lock)

    def process_request(self, request: Any, client_address: Any) -> None:
        with self._lock:
            self._connections.add(request)
        super().process_request(request, client_address)

    def shutdown_request(self, request: Any) -> None:
        with self._lock:
            self._connections.discard(request)
            self._connection_ended.notify_all()
        super().shutdown_request(request)

    def close_connections(self) -> set[socket.socket]:
        """End every open connection; returns them (their handlers may still be finishing)."""
        with self._lock:
            connections = set(self._connections)
        for conn in connections:
            try:
                conn.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
        return connections

    def drain(self) -> None:
        """End every open connection and wait until each one's handler let go of it, so no request
        still finishing can change state after this returns; the listener keeps accepting."""
        ending = self.close_connections()
        with self._connection_ended:
            self._connection_ended.wait_for(lambda: self._connections.isdisjoint(ending))

    def handle_error(self, request: Any, client_address: Any) -> None:
        log.debug("connection from %s ended with an error", client_address, exc_info=True)


class AppServer:
    """The sample app on ``host:port`` (port 0 picks one); ``url`` once started.

    ``clock`` (wall time, for session expiry and the cache) and ``breaker_clock`` (monotonic, for
    breaker cool-downs) are injectable so tests can move time without sleeping. ``check_tables``
    False skips the start-up table check (a few DynamoDB round trips) for a caller that has just
    created the tables itself, such as the harness.
    """

    def __init__(
        self,
        config: AppConfig,
        host: str | None = None,
        port: int | None = None,
        *,
        metrics: Metrics | None = None,
        clock: Callable[[], float] = time.time,
        breaker_clock: Callable[[], float] = time.monotonic,
        check_tables: bool = True,
    ) -> None:
        self.config = config
        self.check_tables = check_tables
        self.host = require_loopback(
            config.host if host is None else host, allow_non_loopback=config.allow_non_loopback, what="sample app"
        )
        self.port = config.port if port is None else port
        self.metrics = metrics or Metrics()
        self.clock = clock
        self.breaker_clock = breaker_clock
        self.service: SessionService | None = None
        self._server: _Server | None = None
        self._thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        if self._server is None:
            raise RuntimeError("AppServer is not started")
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{host}:{self.port}"

    def start(self) -> AppServer:
        """Check every region's tables, bind, and serve in a background thread."""
        if self._server is not None:
            return self
        if self.check_tables:
            self._check_tables()
        sock = bind_socket(self.host, self.port, what="sample app")
        service = SessionService.from_config(self.config, self.metrics, clock=self.clock, breaker_clock=self.breaker_clock)
        try:
            sock.listen(_Server.request_queue_size)
            server = _Server(sock, create_app(service, self.metrics))
        except BaseException:
            service.close()
            raise
        finally:
            sock.close()  # the server listens on its own duplicate
        self.service, self._server = service, server
        self.port = server.port
        self._thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, name=f"sample-app:{self.port}")
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop accepting, end open connections, join every thread, close DynamoDB pools."""
        server, thread, service = self._server, self._thread, self.service
        if server is None:
            return
        server.shutdown()
        server.close_connections()
        if thread is not None:
            thread.join()  # serve_forever ends with server_close(), which joins the handler threads
        if service is not None:
            service.close()
        self._server = self._thread = self.service = None

    @property
    def running(self) -> bool:
        return self._server is not None

    def drain(self) -> None:
        """End every client connection and wait for requests in flight (no-op when stopped)."""
        if self._server is not None:
            self._server.drain()

    def reset(self) -> None:
        """Fresh per-test state on the listener that keeps running: breakers closed, cache and
        connection pools emptied, breakers reported to ``metrics`` again. A stopped server is
        started (a test may have killed it). Call ``drain()`` first so no request is in flight."""
        if self.service is None:
            self.start()
            return
        self.service.reset(self.metrics)

    def _check_tables(self) -> None:
        """A missing table is a setup mistake worth one clear error at start, not 502s later.
        Uses single-attempt clients with short timeouts: a region that is down at start is fine."""
        probe_timeouts = Timeouts(min(self.config.timeouts.connect, 2.0), min(self.config.timeouts.read, 2.0))
        for region in self.config.regions:
            client = make_client(region, self.config.endpoints[region], RetrySettings("standard", 1), probe_timeouts)
            try:
                check_tables(region, client)
            finally:
                client.close()

    def __enter__(self) -> AppServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
