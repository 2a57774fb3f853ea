"""The harness's authoritative DNS server (UDP and TCP) with a fault chain in front of it.

It runs on the shared ``LoopThread``. Every query is answered from the ``Topology`` (see
``answers.py``), passed through the active DNS faults, sent, and logged. Two things keep it
fast enough to be hammered by ``dnsperf`` (see bench/dns_bench.py): UDP is read straight off a
non-blocking socket, draining every queued datagram per wake-up instead of one; and while no
fault is active, a query whose bytes (after the 2-byte id) were answered before at the same
topology version is answered from a cache of packed replies with only the id patched, skipping
dnslib entirely. Anything else passes ``precheck.check_query`` (linear in the packet, bounded
size, counts and compression pointers) before dnslib parses it, so no packet can hold the loop.
"""

from __future__ import annotations

import asyncio
import socket
import time
from collections.abc import Callable
from dataclasses import dataclass

from dnslib import OPCODE, RCODE, DNSRecord

from harness.dns.answers import (
    build_reply,
    header_reply,
    pack_reply,
    qtype_name,
    reply_addresses,
    reply_rcode,
    udp_limit,
)
from harness.dns.context import DnsHook, QueryContext, apply_faults
from harness.dns.precheck import MAX_QUERY_SIZE, BadQuery, check_query
from harness.dns.querylog import QueryLog, QueryLogEntry
from harness.dns.zone import Topology, normalize_name
from harness.errors import AddressInUseError
from harness.fault_chain import FaultChain
from harness.loop_thread import LoopThread
from harness.loopback import bind_socket, require_loopback
from harness.waiting import ChangeSignal

_CACHE_MAX = 4096  # distinct cached replies; dropped wholesale when full or the topology changes
_UDP_BURST = 256  # datagrams handled per wake-up before yielding to other loop work


@dataclass(slots=True)
class _Outcome:
    """The fate of one query: what to send (None: nothing), when, and what to log."""

    response: bytes | None
    name: str = ""
    qtype: str = ""
    rcode: str = ""
    answers: tuple[str, ...] = ()
    faults: tuple[str, ...] = ()
    delay: float = 0.0
    cacheable: bool = False
    version: int = -1  # topology version the reply was built from


class DnsServer:
    """Authoritative DNS for the topology's zones on one loopback address, UDP and TCP."""

    def __init__(
        self,
        topology: Topology,
        host: str = "127.0.0.1",
        port: int = 0,
        *,
        loop: LoopThread | None = None,
        allow_non_loopback: bool = False,
        tcp_idle_timeout: float = 10.0,
        log_size: int = 100_000,
    ) -> None:
        self.topology = topology
        self.host = require_loopback(host, allow_non_loopback=allow_non_loopback, what="DNS server")
        self.port = port
        self.faults: FaultChain[DnsHook] = FaultChain()
        self.log = QueryLog(maxlen=log_size)
        self.tcp_idle_timeout = tcp_idle_timeout
        self._loop_thread = loop
        self._own_loop = loop is None
        self._udp_socks: list[socket.socket] = []
        self._tcp_servers: list[asyncio.base_events.Server] = []
        self._tcp_tasks: set[asyncio.Task[None]] = set()
        self._timers: set[asyncio.TimerHandle] = set()
        self._held_tcp = 0
        # Fires when a reply starts or stops being held back by a delay fault (see ``held``).
        self.changed = ChangeSignal()
        self._cache: dict[bytes, tuple[bytes, str, str, str, tuple[str, ...]]] = {}
        self._cache_version = -1
        self._started = False

    # -- lifecycle ------------------------------------------------------------------------------
    @property
    def address(self) -> tuple[str, int]:
        return (self.host, self.port)

    @property
    def loop(self) -> LoopThread:
        if self._loop_thread is None:
            raise RuntimeError("DnsServer is not started")
        return self._loop_thread

    def start(self) -> "DnsServer":
        if self._started:
            return self
        udp, tcp = self._bind()
        if self._loop_thread is None:
            self._loop_thread = LoopThread("chaos-harness-dns").start()
        self._started = True
        try:
            self.loop.run(self._attach(udp, tcp))
        except BaseException:
            self.stop()
            raise
        return self

    def serve_sockets(self, udp_sock: socket.socket | None, tcp_sock: socket.socket | None) -> None:
        """Also answer on sockets bound elsewhere (the sandbox's port 53); closed by ``stop()``."""
        if not self._started:
            raise RuntimeError("DnsServer.serve_sockets() needs a started server")
        self.loop.run(self._attach(udp_sock, tcp_sock))

    def stop(self) -> None:
        """Close every socket and connection this server serves; close its own loop if it made one."""
        if not self._started:
            return
        self._started = False
        if self._loop_thread is not None and self._loop_thread.running:
            self._loop_thread.run(self._detach())
        for sock in self._udp_socks:
            sock.close()
        self._udp_socks.clear()
        if self._own_loop and self._loop_thread is not None:
            self._loop_thread.close()
            self._loop_thread = None

    @property
    def held(self) -> int:
        """Replies currently held back by ``dns.delay`` (received, not yet sent)."""
        return len(self._timers) + self._held_tcp

    def reset(self) -> None:
        """Back to a clean state between tests: no faults, empty log."""
        self.faults.clear()
        self.log.clear()

    def __enter__(self) -> "DnsServer":
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def _bind(self) -> tuple[socket.socket, socket.socket]:
        """UDP and TCP on the same port; with port 0, retry until a port is free for both."""
        attempts = 1 if self.port else 20
        last: AddressInUseError | None = None
        for _ in range(attempts):
            udp = bind_socket(self.host, self.port, socket.SOCK_DGRAM, what="DNS server (UDP)")
            port = udp.getsockname()[1]
            try:
                tcp = bind_socket(self.host, port, socket.SOCK_STREAM, what="DNS server (TCP)")
            except AddressInUseError as exc:
                udp.close()
                last = exc
                continue
            self.port = port
            return udp, tcp
        assert last is not None
        raise last

    async def _attach(self, udp: socket.socket | None, tcp: socket.socket | None) -> None:
        loop = asyncio.get_running_loop()
        if udp is not None:
            udp.setblocking(False)
            self._udp_socks.append(udp)
            loop.add_reader(udp.fileno(), self._on_udp_readable, udp)
        if tcp is not None:
            tcp.setblocking(False)
            self._tcp_servers.append(await asyncio.start_server(self._serve_tcp, sock=tcp))

    async def _detach(self) -> None:
        loop = asyncio.get_running_loop()
        for sock in self._udp_socks:
            loop.remove_reader(sock.fileno())
        for timer in self._timers:
            timer.cancel()
        self._timers.clear()
        self.changed.notify()
        for server in self._tcp_servers:
            server.close()
        tasks = list(self._tcp_tasks)
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        for server in self._tcp_servers:
            await server.wait_closed()
        self._tcp_servers.clear()

    # -- UDP ------------------------------------------------------------------------------------
    def _on_udp_readable(self, sock: socket.socket) -> None:
        hits = 0  # cached replies are logged without waking log waiters; they are woken once, below
        for _ in range(_UDP_BURST):
            try:
                data, client = sock.recvfrom(MAX_QUERY_SIZE + 1)  # longer: FORMERR, unparsed
            except (BlockingIOError, InterruptedError):
                break
            except OSError:  # e.g. ICMP port unreachable from an earlier reply; the socket is fine
                continue
            cached = self._cached(data)
            if cached is not None:
                tail, name, qtype, rcode, answers = cached
                self.log.record(QueryLogEntry(time.monotonic(), time.time(), client[:2], "udp",
                                              name, qtype, rcode, answers), notify=False)
                hits += 1
                self._send_udp(sock, data[:2] + tail, client)
                continue
            received = (time.monotonic(), time.time())
            outcome = self._resolve(data, client[:2], "udp")
            if outcome.cacheable:
                self._remember(data, outcome)
            if outcome.delay > 0:
                self._later(outcome.delay, self._finish_udp, sock, client, outcome, received)
            else:
                self._finish_udp(sock, client, outcome, received)
        if hits:
            self.log.changed.notify()

    def _later(self, delay: float, fn: Callable[..., None], *args: object) -> None:
        """Run ``fn`` after ``delay`` on the loop (never blocking it); cancelled by ``stop()``."""
        def fire() -> None:
            self._timers.discard(handle)
            fn(*args)
            self.changed.notify()

        handle = asyncio.get_running_loop().call_later(delay, fire)
        self._timers.add(handle)
        self.changed.notify()

    def _finish_udp(self, sock: socket.socket, client: tuple, outcome: _Outcome, received: tuple[float, float]) -> None:
        self._log(client[:2], "udp", outcome, received)
        if outcome.response is not None:
            self._send_udp(sock, outcome.response, client)

    @staticmethod
    def _send_udp(sock: socket.socket, payload: bytes, client: tuple) -> None:
        try:
            sock.sendto(payload, client)
        except OSError:  # full buffer or vanished client: UDP may lose a reply, the client retries
            pass

    # -- TCP ------------------------------------------------------------------------------------
    async def _serve_tcp(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        """Length-prefixed queries, several per connection, until idle (RFC 7766)."""
        task = asyncio.current_task()
        assert task is not None
        self._tcp_tasks.add(task)
        client = tuple(writer.get_extra_info("peername")[:2])
        try:
            while True:
                try:
                    prefix = await asyncio.wait_for(reader.readexactly(2), self.tcp_idle_timeout)
                    data = await asyncio.wait_for(reader.readexactly(int.from_bytes(prefix, "big")),
                                                  self.tcp_idle_timeout)
                except (asyncio.IncompleteReadError, asyncio.TimeoutError, ConnectionError):
                    return
                received = (time.monotonic(), time.time())
                outcome = self._resolve(data, client, "tcp")
                if outcome.delay > 0:
                    await self._hold(outcome.delay)
                self._log(client, "tcp", outcome, received)
                if outcome.response is not None:
                    writer.write(len(outcome.response).to_bytes(2, "big") + outcome.response)
                    try:
                        await writer.drain()
                    except ConnectionError:
                        return
        finally:
            self._tcp_tasks.discard(task)
            writer.close()

    async def _hold(self, delay: float) -> None:
        self._held_tcp += 1
        self.changed.notify()
        try:
            await asyncio.sleep(delay)
        finally:
            self._held_tcp -= 1
            self.changed.notify()

    # -- answering ------------------------------------------------------------------------------
    def _cached(self, data: bytes) -> tuple[bytes, str, str, str, tuple[str, ...]] | None:
        if self.faults.active or self._cache_version != self.topology.version:
            return None
        return self._cache.get(data[2:])

    def _remember(self, data: bytes, outcome: _Outcome) -> None:
        """Cache a fault-free UDP reply under the version it was built from; a lookup only
        uses the cache while that version is still current, so a change is never masked."""
        if self._cache_version != outcome.version or len(self._cache) >= _CACHE_MAX:
            self._cache.clear()
            self._cache_version = outcome.version
        assert outcome.response is not None
        self._cache[data[2:]] = (outcome.response[2:], outcome.name, outcome.qtype, outcome.rcode, outcome.answers)

    def _resolve(self, data: bytes, client: tuple[str, int], transport: str) -> _Outcome:
        """Answer one query (never raises: a bug answers SERVFAIL rather than stalling the client)."""
        try:
            return self._answer(data, client, transport)
        except Exception:
            response = header_reply(data, RCODE.SERVFAIL)
            return _Outcome(response, rcode="SERVFAIL" if response else "")

    def _answer(self, data: bytes, client: tuple[str, int], transport: str) -> _Outcome:
        version = self.topology.version
        if len(data) < 12 or data[2] & 0x80:  # no header to reply to, or a response: never answer
            return _Outcome(None)
        if (data[2] >> 3) & 0x0F != OPCODE.QUERY:
            return _Outcome(header_reply(data, RCODE.NOTIMP), rcode="NOTIMP")
        try:
            check_query(data)  # bounded work before dnslib (see precheck.py)
            request = DNSRecord.parse(data)
        except Exception:
            return _Outcome(header_reply(data, RCODE.FORMERR), rcode="FORMERR")

        reply, zone = build_reply(self.topology, request)
        question = request.q
        ctx = QueryContext(
            qname=normalize_name(str(question.qname)),
            qtype=qtype_name(question.qtype),
            transport=transport,
            client=client,
            reply=reply,
            topology=self.topology,
            zone=zone,
        )
        faults = self.faults.active
        if faults and zone is not None:
            apply_faults(faults, ctx)
        outcome = _Outcome(None, ctx.qname, ctx.qtype, faults=tuple(ctx.applied), delay=ctx.delay)
        if ctx.drop:
            return outcome
        limit = udp_limit(request) if transport == "udp" else None
        outcome.response = pack_reply(reply, limit, truncate=ctx.truncate and transport == "udp")
        outcome.rcode = reply_rcode(reply)
        outcome.answers = reply_addresses(reply)
        outcome.version = version
        outcome.cacheable = transport == "udp" and not ctx.applied and not reply.header.tc and len(data) <= 512
        return outcome

    def _log(self, client: tuple, transport: str, outcome: _Outcome, received: tuple[float, float]) -> None:
        """Called just before the reply is sent: a client holding a reply finds it in the log."""
        self.log.record(QueryLogEntry(
            received[0], received[1], client, transport, outcome.name, outcome.qtype, outcome.rcode,
            outcome.answers, outcome.faults, outcome.response is None, outcome.delay,
        ))
