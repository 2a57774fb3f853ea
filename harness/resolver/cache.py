"""A client-side DNS cache: how long a client keeps believing an answer, good or bad.

Recovery from the 2025 outage was paced by caches: once the record came back, clients that had
cached the empty answer kept failing until their negative TTL ran out (RFC 2308: min(SOA TTL, SOA
MINIMUM), taken from the SOA in the authority section; Route 53's is 900 s). Positive answers are
kept for their TTL. ``clock`` is injectable so tests move time instead of waiting.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

from dnslib import QTYPE, RCODE, DNSRecord

from harness.dns.zone import normalize_name


def _positive_ttl(reply: DNSRecord) -> int | None:
    ttls = [rr.ttl for rr in reply.rr]
    return min(ttls) if ttls else None


def _negative_ttl(reply: DNSRecord) -> int | None:
    """RFC 2308 s5: min(SOA TTL, SOA MINIMUM); no SOA in the authority section: do not cache."""
    for rr in reply.auth:
        if rr.rtype == QTYPE.SOA:
            return min(rr.ttl, rr.rdata.times[-1])
    return None


class DnsCache:
    """Replies per (name, type) until their TTL runs out; ``max_ttl``/``negative_ttl`` cap them."""

    def __init__(self, max_ttl: float | None = None, negative_ttl: float | None = None,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.max_ttl = max_ttl
        self.negative_ttl = negative_ttl
        self.clock = clock
        self.hits = 0
        self.misses = 0
        self._lock = threading.Lock()
        self._entries: dict[tuple[str, str], tuple[float, DNSRecord]] = {}

    def get(self, name: str, qtype: str) -> DNSRecord | None:
        key = (normalize_name(name), qtype)
        with self._lock:
            entry = self._entries.get(key)
            if entry is not None and entry[0] > self.clock():
                self.hits += 1
                return entry[1]
            self._entries.pop(key, None)
            self.misses += 1
            return None

    def put(self, name: str, qtype: str, reply: DNSRecord) -> None:
        """Keep an answer (NOERROR with records) or a negative answer (NXDOMAIN/NODATA with SOA)."""
        rcode = reply.header.rcode
        if rcode == RCODE.NOERROR and reply.rr:
            ttl, cap = _positive_ttl(reply), self.max_ttl
        elif rcode in (RCODE.NOERROR, RCODE.NXDOMAIN):
            ttl, cap = _negative_ttl(reply), self.negative_ttl
        else:
            return  # server failures are not cached
        if ttl is None:
            return
        if cap is not None:
            ttl = min(ttl, cap)
        if ttl <= 0:
            return
        with self._lock:
            self._entries[(normalize_name(name), qtype)] = (self.clock() + ttl, reply)

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()

    def __len__(self) -> int:
        with self._lock:
            return len(self._entries)
