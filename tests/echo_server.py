"""A small upstream server to put behind a proxy in tests, contract checks and bench/proxy_bench.py.

``EchoServer`` answers every byte with the same byte and mirrors a half-close, which is enough to
observe every toxic from the client side (delay, cut, split, stall, reset, slow close).
"""

from __future__ import annotations

import asyncio

from harness.httpserver import Served
from harness.loop_thread import LoopThread
from harness.loopback import bind_socket, require_loopback


class _Echo(asyncio.Protocol):
    def __init__(self, owner: "EchoServer") -> None:
        self.owner = owner
        self.transport: asyncio.Transport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]
        self.owner.connections.add(transport)  # type: ignore[arg-type]
        self.owner.accepted += 1

    def data_received(self, data: bytes) -> None:
        assert self.transport is not None
        self.transport.write(data)

    def eof_received(self) -> bool:
        return False  # close once the client has finished sending

    def connection_lost(self, exc: Exception | None) -> None:
        self.owner.connections.discard(self.transport)  # type: ignore[arg-type]


class EchoServer(Served):
    """An asyncio echo server on a loopback address; ``stop()`` drops every connection."""

    def __init__(self, host: str = "127.0.0.1", port: int = 0, *, loop: LoopThread | None = None) -> None:
        self.host = require_loopback(host, what="echo server")
        self.port = port
        self._loop = loop
        self._owns_loop = loop is None
        self._server: asyncio.base_events.Server | None = None
        self.connections: set[asyncio.Transport] = set()
        self.accepted = 0

    @property
    def address(self) -> str:
        return f"{self.host}:{self.port}"

    def start(self) -> "EchoServer":
        if self._loop is None:
            self._loop = LoopThread("echo-server")
        self._loop.start()
        sock = bind_socket(self.host, self.port, what="echo server")
        sock.listen(128)
        sock.setblocking(False)
        self.port = sock.getsockname()[1]

        async def _start() -> asyncio.base_events.Server:
            return await asyncio.get_running_loop().create_server(lambda: _Echo(self), sock=sock)

        self._server = self._loop.run(_start())
        return self

    def stop(self) -> None:
        if self._loop is None:
            return

        def _stop() -> None:
            if self._server is not None:
                self._server.close()
                self._server = None
            for transport in list(self.connections):
                transport.abort()

        self._loop.call(_stop)
        if self._owns_loop:
            self._loop.close()
            self._loop = None
