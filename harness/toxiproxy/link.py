"""One direction of a proxied connection, and the sockets at its ends.

A ``Link`` moves bytes from one ``Side`` (a socket's protocol) to the other. With no toxic acting
on it, it is a plain relay: each read lands in a large buffer shared by the loop's proxy sockets and is
sent straight from there to the other socket, and reading pauses while the other socket's send
buffer is full (flow control). Large reads into one reused buffer, and large socket receive
buffers, are what keep bulk transfers near direct speed (see bench/proxy_bench.py). With toxics
it queues the chunks, stamped with their arrival time, and one task per link pushes each through
the toxic chain in order. The link re-reads its chain on every ``sync`` so toxics added or removed
while the connection is open affect the data sent afterwards, as in Toxiproxy.
"""

from __future__ import annotations

import asyncio
import collections
import functools
import random
import socket
import struct
import sys
import weakref
from collections.abc import Callable, Sequence
from typing import Any, Protocol

from harness.toxiproxy.toxics import Chunk, Toxic

READ_SIZE = 1 << 20  # bytes per socket read (asyncio reads 256 KiB at a time, each into a new bytes object)
RECEIVE_BUFFER = 4 << 20  # SO_RCVBUF of proxy sockets: lets a short bulk transfer flow at once
HIGH_WATER = 1 << 20  # queued bytes at which a toxic link stops reading its source
LOW_WATER = 256 << 10
WRITE_HIGH_WATER = 4 << 20  # a socket's pending writes before its peer stops reading (bulk speed)
# Since 3.12 a transport keeps unsent bytes as a view of the caller's buffer; before, it copies them.
TRANSPORT_KEEPS_VIEWS = sys.version_info >= (3, 12)


class Connection(Protocol):
    """What the links and sides need of the connection they belong to (``proxy.Connection``).

    Declared here so the link layer does not import the proxy that builds it.
    """

    index: int
    closed: bool

    def side_made(self, side: "Side") -> None: ...

    def side_lost(self, side: "Side") -> None: ...

    def link_finished(self) -> None: ...

    def close(self) -> None: ...

    def reset(self) -> None: ...


class ToxicEntry(Protocol):
    """A toxic as configured on a proxy (``proxy.ToxicEntry``), as a link uses it."""

    @property
    def toxic(self) -> Toxic: ...

    def draw(self, connection_index: int) -> tuple[bool, random.Random]: ...


@functools.cache
def receive_buffer_size() -> int | None:
    """``RECEIVE_BUFFER`` if the kernel grants that much (``net.core.rmem_max``), else ``None``.

    A fixed SO_RCVBUF switches off receive autotuning, so it is only worth setting when the kernel
    does not cap it below what autotuning would reach (Linux's default cap is 208 KiB).
    """
    try:
        with open("/proc/sys/net/core/rmem_max") as limit:
            return RECEIVE_BUFFER if int(limit.read()) >= RECEIVE_BUFFER else None
    except (OSError, ValueError):
        return None


class ReadBuffer:
    """The buffer sockets read into, shared by every proxy socket on one event loop.

    Each read is sent or copied before the loop reads another socket, so one buffer serves all,
    except when a transport keeps unsent bytes: since Python 3.12 it keeps them as a view of the
    buffer rather than a copy, so the buffer is then handed over to it and replaced (``renew``).
    One per loop, not per proxy: a thousand idle proxies once held a mebibyte each (issue 12).
    """

    def __init__(self) -> None:
        self.view = memoryview(bytearray(READ_SIZE))

    def renew(self) -> None:
        self.view = memoryview(bytearray(READ_SIZE))


_READ_BUFFERS: "weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, ReadBuffer]" = weakref.WeakKeyDictionary()


def loop_read_buffer() -> ReadBuffer:
    """The running loop's ``ReadBuffer``, made on first use and freed with the loop."""
    loop = asyncio.get_running_loop()
    buffer = _READ_BUFFERS.get(loop)
    if buffer is None:
        buffer = _READ_BUFFERS[loop] = ReadBuffer()
    return buffer


class Side(asyncio.BufferedProtocol):
    """The protocol of one socket of a connection (client side or upstream side)."""

    def __init__(self, conn: "Connection", read_buffer: ReadBuffer) -> None:
        self.conn = conn
        self.read_buffer = read_buffer
        self.transport: asyncio.Transport | None = None
        self.outbound: Link | None = None  # reads from this side
        self.inbound: Link | None = None  # writes to this side
        self._pause_reasons: set[str] = set()
        self._writable = asyncio.Event()
        self._writable.set()

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]
        sock = transport.get_extra_info("socket")
        if sock is not None:
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            receive_buffer = receive_buffer_size()
            if receive_buffer is not None:
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, receive_buffer)
        self.transport.set_write_buffer_limits(high=WRITE_HIGH_WATER)
        self.conn.side_made(self)

    def get_buffer(self, sizehint: int) -> memoryview:
        return self.read_buffer.view

    def buffer_updated(self, nbytes: int) -> None:
        if self.outbound is not None:
            self.outbound.feed(self.read_buffer.view[:nbytes])

    def eof_received(self) -> bool:
        if self.outbound is not None:
            self.outbound.feed_eof()
        return True  # keep the write half open: TCP half-close passes through

    def connection_lost(self, exc: Exception | None) -> None:
        self._writable.set()
        self.conn.side_lost(self)

    def pause_writing(self) -> None:
        self._writable.clear()
        if self.inbound is not None:
            self.inbound.source.pause("peer")

    def resume_writing(self) -> None:
        self._writable.set()
        if self.inbound is not None:
            self.inbound.source.resume("peer")

    def pause(self, reason: str) -> None:
        if not self._pause_reasons and self.transport is not None and not self.transport.is_closing():
            self.transport.pause_reading()
        self._pause_reasons.add(reason)

    def resume(self, reason: str) -> None:
        self._pause_reasons.discard(reason)
        if not self._pause_reasons and self.transport is not None and not self.transport.is_closing():
            self.transport.resume_reading()

    async def drained(self) -> None:
        await self._writable.wait()

    def write(self, data: bytes | memoryview) -> None:
        if self.transport is not None and not self.transport.is_closing():
            self.transport.write(data)

    def unsent(self) -> bool:
        """Whether the transport holds bytes the kernel has not taken yet."""
        return self.transport is not None and self.transport.get_write_buffer_size() > 0

    def write_eof(self) -> None:
        """Half-close; a peer already gone (``ENOTCONN`` from ``shutdown``) closes the connection."""
        if self.transport is not None and not self.transport.is_closing() and self.transport.can_write_eof():
            try:
                self.transport.write_eof()
            except OSError:
                self.conn.close()

    def close(self) -> None:
        if self.transport is not None:
            self.transport.close()

    def reset(self) -> None:
        """Close with RST instead of FIN (``SO_LINGER`` on, timeout 0)."""
        if self.transport is None:
            return
        sock = self.transport.get_extra_info("socket")
        if sock is not None:
            try:
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            except OSError:
                pass
        self.transport.abort()


class ToxicStub:
    """One toxic acting on one link: its per-link state, random stream and timers."""

    def __init__(self, link: "Link", entry: "ToxicEntry", enabled: bool, rng: random.Random) -> None:
        self.link = link
        self.entry = entry
        self.enabled = enabled
        self.rng = rng
        self.state: dict[str, Any] = {}
        self._timers: list[asyncio.TimerHandle] = []

    def now(self) -> float:
        return self.link.loop.time()

    async def sleep_until(self, when: float) -> None:
        delay = when - self.now()
        if delay > 0:
            await asyncio.sleep(delay)

    def call_later(self, delay: float, callback: Callable[[], None]) -> None:
        self._timers.append(self.link.loop.call_later(delay, callback))

    def close(self) -> None:
        self.link.conn.close()

    def reset(self) -> None:
        self.link.conn.reset()

    def stop(self) -> None:
        for timer in self._timers:
            timer.cancel()
        self._timers.clear()


class Link:
    """Bytes from ``source`` to ``dest`` through the toxics configured for ``stream``."""

    def __init__(self, conn: "Connection", stream: str, source: Side, dest: Side) -> None:
        self.conn = conn
        self.stream = stream
        self.source = source
        self.dest = dest
        self.loop = asyncio.get_running_loop()
        self.stubs: list[ToxicStub] = []
        self._any_enabled = False  # any(stub.enabled for stub in stubs), kept by sync(): no per-chunk scan
        self.finished = False
        self._queue: collections.deque[Chunk | None] = collections.deque()
        self._queued_bytes = 0
        self._worker: asyncio.Task[None] | None = None
        source.outbound = self
        dest.inbound = self

    @property
    def active(self) -> list[ToxicStub]:
        return [stub for stub in self.stubs if stub.enabled]

    def sync(self, entries: Sequence["ToxicEntry"]) -> None:
        """Make the chain match ``entries``: keep existing stubs, start new ones, stop removed ones."""
        old = {id(stub.entry): stub for stub in self.stubs}
        fresh: list[ToxicStub] = []
        chain: list[ToxicStub] = []
        for entry in entries:
            stub = old.pop(id(entry), None)
            if stub is None:
                enabled, rng = entry.draw(self.conn.index)
                stub = ToxicStub(self, entry, enabled, rng)
                fresh.append(stub)
            chain.append(stub)
        for stub in old.values():
            stub.stop()
        self.stubs = chain
        self._any_enabled = any(stub.enabled for stub in chain)
        for stub in fresh:
            if stub.enabled and not self.conn.closed:
                stub.entry.toxic.start(stub)

    def feed(self, data: memoryview) -> None:
        """Pass on bytes read from ``source``; ``data`` is a view of its ``ReadBuffer``."""
        if self._worker is None and not self._queue and not self._any_enabled:
            self.dest.write(data)  # fast path: plain relay
            if TRANSPORT_KEEPS_VIEWS and self.dest.unsent():
                self.source.read_buffer.renew()  # a fresh MiB per backed-up read: only when needed
            return
        self._queue.append(Chunk(bytes(data), self.loop.time()))
        self._queued_bytes += len(data)
        if self._queued_bytes > HIGH_WATER:
            self.source.pause("queue")
        self._ensure_worker()

    def feed_eof(self) -> None:
        if self.finished or None in self._queue:
            return
        if self._worker is None and not self._queue and not self._any_enabled:
            self._finish()
            return
        self._queue.append(None)
        self._ensure_worker()

    def stop(self) -> None:
        for stub in self.stubs:
            stub.stop()
        self.stubs = []
        self._any_enabled = False
        self._queue.clear()
        if self._worker is not None and self._worker is not asyncio.current_task():
            self._worker.cancel()

    def _ensure_worker(self) -> None:
        if self._worker is None and not self.conn.closed:
            self._worker = self.loop.create_task(self._work())

    async def _work(self) -> None:
        try:
            while self._queue and not self.conn.closed:
                chunk = self._queue.popleft()
                chain = self.active
                if chunk is None:
                    for stub in chain:
                        await stub.entry.toxic.on_eof(stub)
                    self._finish()
                    return
                self._queued_bytes -= len(chunk.data)
                if self._queued_bytes < LOW_WATER:
                    self.source.resume("queue")
                await self._through(chain, 0, chunk)
                await self.dest.drained()
        finally:
            self._worker = None

    async def _through(self, chain: list[ToxicStub], index: int, chunk: Chunk) -> None:
        if self.conn.closed:
            return
        if index == len(chain):
            self.dest.write(chunk.data)
            return
        stub = chain[index]

        async def emit(out: Chunk) -> None:
            await self._through(chain, index + 1, out)

        await stub.entry.toxic.pipe(chunk, stub, emit)

    def _finish(self) -> None:
        self.finished = True
        self.dest.write_eof()
        self.conn.link_finished()
