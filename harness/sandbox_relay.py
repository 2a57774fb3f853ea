"""Relay traffic arriving on the sandbox's sockets to the real services outside it.

A sandboxed command talks to ``host:port`` inside its own network namespace; the socket there was
created by the sandbox child and handed to the parent, which reads it here and talks to the real
service from its own namespace: ``TcpForward`` per accepted connection, ``UdpForward`` per client
address (so every client source port keeps its own upstream socket, as DNS retries expect).
Everything runs on the harness's ``LoopThread``: no thread per connection or client, and
``close()`` ends every relayed connection and closes every socket.
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
from collections.abc import Awaitable, Callable

_CHUNK = 65536


async def _pipe(reader: asyncio.StreamReader, writer: asyncio.StreamWriter, other: asyncio.StreamWriter) -> None:
    """Copy one direction; pass EOF on as a half-close, and on an error close both sides."""
    try:
        while data := await reader.read(_CHUNK):
            writer.write(data)
            await writer.drain()
        if writer.can_write_eof():
            writer.write_eof()
    except (ConnectionError, OSError):
        writer.close()
        other.close()


Opener = Callable[[], Awaitable[tuple[asyncio.StreamReader, asyncio.StreamWriter]]]


class TcpForward:
    """Accepts on ``listener`` (a listening socket from another namespace) and relays to ``target``.

    ``connect`` opens the upstream side instead of connecting to ``target`` from here: traffic
    into the sandbox gets a socket connected inside it (``harness.sandbox.Connector``).
    """

    def __init__(self, listener: socket.socket, target: tuple[str, int], *, connect: Opener | None = None) -> None:
        self.listener = listener
        self.target = target
        self._connect = connect or (lambda: asyncio.open_connection(*self.target))
        self._server: asyncio.base_events.Server | None = None
        self._connections: set[asyncio.Task[None]] = set()

    async def start(self) -> None:
        self.listener.setblocking(False)
        self._server = await asyncio.start_server(self._handle, sock=self.listener)

    async def _handle(self, client_reader: asyncio.StreamReader, client_writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        self._connections.add(task)
        upstream_writer = None
        try:
            upstream_reader, upstream_writer = await self._connect()
            await asyncio.gather(
                _pipe(client_reader, upstream_writer, client_writer),
                _pipe(upstream_reader, client_writer, upstream_writer),
            )
        except OSError:
            pass  # the real service refused: the client sees its connection closed, as it would
        except asyncio.CancelledError:
            pass  # close(): end quietly (a cancelled server-callback task is logged as an error by asyncio)
        finally:
            self._connections.discard(task)
            for writer in (client_writer, upstream_writer):
                if writer is not None:
                    writer.close()

    async def close(self) -> None:
        """Stop accepting and end every relayed connection."""
        if self._server is not None:
            self._server.close()
            self._server = None
        tasks = list(self._connections)
        for task in tasks:
            task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await asyncio.gather(*tasks, return_exceptions=True)
        self.listener.close()


class UdpForward:
    """Relays datagrams from clients of ``listener`` to ``target`` and the replies back."""

    def __init__(self, listener: socket.socket, target: tuple[str, int]) -> None:
        self.listener = listener
        self.target = target
        self._upstreams: dict[tuple, socket.socket] = {}
        self._loop: asyncio.AbstractEventLoop | None = None

    async def start(self) -> None:
        self._loop = asyncio.get_running_loop()
        self.listener.setblocking(False)
        self._loop.add_reader(self.listener.fileno(), self._from_clients)

    def _upstream(self, client: tuple) -> socket.socket:
        sock = self._upstreams.get(client)
        if sock is None:
            family = socket.AF_INET6 if ":" in self.target[0] else socket.AF_INET
            sock = socket.socket(family, socket.SOCK_DGRAM)
            sock.setblocking(False)
            sock.connect(self.target)
            assert self._loop is not None
            self._loop.add_reader(sock.fileno(), self._from_upstream, sock, client)
            self._upstreams[client] = sock
        return sock

    def _from_clients(self) -> None:
        while True:
            try:
                data, client = self.listener.recvfrom(65535)
            except (BlockingIOError, InterruptedError):
                return
            except OSError:
                continue  # an ICMP error for an earlier reply; the client went away
            with contextlib.suppress(OSError):
                self._upstream(client).send(data)

    def _from_upstream(self, sock: socket.socket, client: tuple) -> None:
        while True:
            try:
                data = sock.recv(65535)
            except (BlockingIOError, InterruptedError):
                return
            except OSError:
                continue  # upstream port unreachable: the client times out, as it would
            with contextlib.suppress(OSError):
                self.listener.sendto(data, client)

    async def close(self) -> None:
        assert self._loop is not None
        for sock in self._upstreams.values():
            self._loop.remove_reader(sock.fileno())
            sock.close()
        self._upstreams.clear()
        self._loop.remove_reader(self.listener.fileno())
        self.listener.close()
