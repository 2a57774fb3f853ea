"""Sending one lookup's queries the way glibc's ``res_send`` does (``send_dg`` / ``send_vc``).

The shape of glibc's exchange decides what a DNS fault looks like to an application, so it is
reproduced step by step (and checked against real glibc by tests/test_resolver_fidelity.py):

- the A and AAAA queries go out together on one UDP socket, with random ids that stay the same for
  every attempt, so a late reply to attempt 1 is still accepted during attempt 2;
- each attempt waits ``timeout``; ``attempts`` attempts in all;
- a SERVFAIL/NOTIMP/REFUSED reply to one query while the other is answered counts as "no data for
  that type"; both failing moves on to the next attempt;
- a timeout after only one of the two replies switches to *single-request* mode (send the second
  query only once the first is answered) and waits again, then once more on a fresh socket
  (*single-request-reopen*), and then settles for the one reply: these waits do not use up attempts;
- a truncated (TC) reply makes glibc ask both questions again over one TCP connection, once.
"""

from __future__ import annotations

import secrets
import select
import socket
import struct
import time
from dataclasses import dataclass

from dnslib import QTYPE, RCODE, DNSError, DNSRecord

from harness.resolver.options import ResolverOptions

# Replies glibc treats as "this server cannot answer now": try the other query / next attempt.
_SERVER_FAILURES = frozenset({RCODE.SERVFAIL, RCODE.NOTIMP, RCODE.REFUSED})


class NoAnswer(Exception):
    """Every attempt failed (timeouts, server failures, TCP errors): glibc's TRY_AGAIN."""


@dataclass(frozen=True)
class Exchange:
    """The replies to one lookup's queries, in query order; ``None``: that query failed."""

    replies: tuple[DNSRecord | None, ...]


@dataclass
class _Mode:
    """glibc's RES_SNGLKUP / RES_SNGLKUPREOP, switched on for the rest of the lookup."""

    single: bool = False
    reopen: bool = False


def _question(name: str, qtype: str) -> DNSRecord:
    query = DNSRecord.question(name, qtype)
    query.header.id = secrets.randbelow(65536)
    return query


def _match(data: bytes, queries: list[DNSRecord]) -> tuple[int, DNSRecord] | None:
    """Which query a datagram answers (id and question must match, as glibc checks), if any."""
    try:
        reply = DNSRecord.parse(data)
    except (DNSError, ValueError, IndexError, struct.error):
        return None
    for index, query in enumerate(queries):
        if (reply.header.qr and reply.header.id == query.header.id and reply.questions
                and reply.q.qtype == query.q.qtype and str(reply.q.qname).lower() == str(query.q.qname).lower()):
            return index, reply
    return None


class _Datagram:
    """The UDP socket glibc keeps for a lookup, connected to the server (reopened on demand)."""

    def __init__(self, server: tuple[str, int]) -> None:
        self.server = server
        self.sock = self._open()

    def _open(self) -> socket.socket:
        family = socket.AF_INET6 if ":" in self.server[0] else socket.AF_INET
        sock = socket.socket(family, socket.SOCK_DGRAM)
        sock.connect(self.server)
        return sock

    def reopen(self) -> None:
        self.sock.close()
        self.sock = self._open()

    def send(self, query: DNSRecord) -> None:
        try:
            self.sock.send(query.pack())
        except OSError:
            pass  # ICMP from an earlier send; glibc carries on and waits

    def receive(self, deadline: float) -> bytes | None:
        """One datagram, or None once the deadline has passed."""
        while (remaining := deadline - time.monotonic()) > 0:
            readable, _, _ = select.select([self.sock], [], [], remaining)
            if readable:
                try:
                    return self.sock.recv(65535)
                except ConnectionRefusedError:
                    return b""  # port unreachable: this attempt is over at once (glibc too)
        return None

    def close(self) -> None:
        self.sock.close()


def _partial(replies: list[DNSRecord | None]) -> Exchange | None:
    """Settle for the replies that came; with none at all, the attempt failed."""
    return Exchange(tuple(replies)) if any(r is not None for r in replies) else None


_TCP = object()  # sentinel: a reply was truncated, ask again over TCP


def _send_dg(channel: _Datagram, queries: list[DNSRecord], timeout: float, mode: _Mode) -> Exchange | None | object:
    """One attempt over UDP: the replies, None (try the next attempt) or ``_TCP``."""
    pair = len(queries) == 2
    while True:  # glibc's "retry" label: a mode switch restarts the wait with a fresh timeout
        replies: list[DNSRecord | None] = [None] * len(queries)
        received = [False] * len(queries)
        channel.send(queries[0])
        if pair and not mode.single:
            channel.send(queries[1])
        deadline = time.monotonic() + timeout
        while not all(received):
            data = channel.receive(deadline)
            if data == b"":
                return None
            if data is None:  # timed out
                if not (pair and any(received)):
                    return None
                if not mode.single:
                    mode.single = True
                    break
                if not mode.reopen:
                    mode.reopen = True
                    channel.reopen()
                    break
                return _partial(replies)
            matched = _match(data, queries)
            if matched is None or received[matched[0]]:
                continue
            index, reply = matched
            if reply.header.tc:
                return _TCP
            if reply.header.rcode in _SERVER_FAILURES:
                if not pair:
                    return None
                if any(received):
                    return _partial(replies)
            else:
                replies[index] = reply
            received[index] = True
            if pair and mode.single and index == 0:
                channel.send(queries[1])
        else:
            return Exchange(tuple(replies))


def _read_exactly(sock: socket.socket, size: int) -> bytes:
    data = b""
    while len(data) < size:
        chunk = sock.recv(size - len(data))
        if not chunk:
            raise ConnectionError("DNS server closed the TCP connection")
        data += chunk
    return data


def _send_vc(server: tuple[str, int], queries: list[DNSRecord], timeout: float) -> Exchange:
    """Both questions over one TCP connection; one try only, as glibc does after truncation."""
    replies: list[DNSRecord | None] = [None] * len(queries)
    try:
        with socket.create_connection(server, timeout=timeout) as sock:
            for query in queries:
                packed = query.pack()
                sock.sendall(struct.pack("!H", len(packed)) + packed)
            while any(reply is None for reply in replies):
                size = struct.unpack("!H", _read_exactly(sock, 2))[0]
                matched = _match(_read_exactly(sock, size), queries)
                if matched is not None:
                    replies[matched[0]] = matched[1]
    except OSError:
        raise NoAnswer("TCP exchange with the DNS server failed") from None
    return Exchange(tuple(replies))


def exchange(server: tuple[str, int], name: str, qtypes: tuple[str, ...], options: ResolverOptions) -> Exchange:
    """Ask ``qtypes`` for ``name`` like glibc; raise ``NoAnswer`` when every attempt failed."""
    assert all(qt in QTYPE.reverse for qt in qtypes) and 1 <= len(qtypes) <= 2
    queries = [_question(name, qt) for qt in qtypes]
    mode = _Mode()
    channel = _Datagram(server)
    try:
        for _attempt in range(options.attempts):
            result = _send_dg(channel, queries, options.timeout, mode)
            if result is _TCP:
                return _send_vc(server, queries, options.timeout)
            if isinstance(result, Exchange):
                return result
    finally:
        channel.close()
    raise NoAnswer(f"no usable answer for {name} after {options.attempts} attempt(s)")
