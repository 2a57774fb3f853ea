"""One way to serve the harness's HTTP APIs: aiohttp on a loopback socket on a ``LoopThread``.

The embedded Toxiproxy API, the control API (and the tests' health-check replicas) are aiohttp
applications served by ``HttpServer``: it binds the socket itself (loopback, one-line error when the
address is in use), runs aiohttp on the harness's loop (or a loop of its own when given none), and
``stop()`` closes the listener and every connection before it returns. aiohttp is imported by
``start()`` only, so importing the harness stays fast. (The DynamoDB fronts keep their own server:
they close and recycle client connections on command, which no HTTP library exposes.)
"""

from __future__ import annotations

import abc
import socket
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any, Self

from harness.httpsettings import Settings
from harness.loop_thread import LoopThread
from harness.loopback import bind_socket

if TYPE_CHECKING:
    from aiohttp import web


class Served(abc.ABC):
    """``with server:`` starts it and stops it however the block ends."""

    @abc.abstractmethod
    def start(self) -> Self: ...

    @abc.abstractmethod
    def stop(self) -> None: ...

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


class HttpServer:
    """Serves ``handler`` (every method, every path) on a loopback socket, on ``loop`` or a loop of its own."""

    def __init__(self, handler: Callable[["web.Request"], Awaitable["web.StreamResponse"]], settings: Settings,
                 loop: LoopThread | None = None) -> None:
        self.settings = settings
        self._handler = handler
        self._given_loop = loop
        self._loop: LoopThread | None = None
        self._runner: Any = None
        self.address: tuple[str, int] = ("", 0)

    @property
    def loop(self) -> LoopThread:
        if self._loop is None:
            raise RuntimeError(f"{self.settings.what} is not started")
        return self._loop

    @property
    def running(self) -> bool:
        return self._runner is not None

    def start(self, host: str, port: int = 0, *, sock: socket.socket | None = None) -> tuple[str, int]:
        """Listen on ``host:port`` (or the already bound ``sock``); return the bound address."""
        if self._runner is not None:
            return self.address
        sock = sock or bind_socket(host, port, what=self.settings.what)
        self._loop = self._given_loop or LoopThread(self.settings.what)
        try:
            self._loop.start()
            self.address = sock.getsockname()[:2]
            self._runner = self._loop.run(self._serve(sock))
        except BaseException:
            sock.close()
            self._close_own_loop()
            raise
        return self.address

    async def _serve(self, sock: socket.socket) -> Any:
        from harness import aioweb, httpguard

        guard = [httpguard.middleware(self.address)] if self.settings.guard else []
        return await aioweb.serve(self._handler, sock, self.settings, [*guard, *self.settings.middlewares()])

    def stop(self) -> None:
        """Close the listener and every connection (a request in progress gets a few seconds)."""
        runner, self._runner = self._runner, None
        if runner is not None and self._loop is not None:
            self._loop.run(runner.cleanup())
        self._close_own_loop()

    def _close_own_loop(self) -> None:
        if self._loop is not None and self._loop is not self._given_loop:
            self._loop.close()
        self._loop = None
