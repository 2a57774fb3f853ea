"""What the DNS server was asked and what it answered, for assertions and drill reports.

Tests wait on the log ("the app looked the name up again") rather than sleeping, so the log
owns a ``ChangeSignal``. It keeps the most recent entries in a bounded deque (a long drill cannot
exhaust memory) but counts every query in exact counters, so ``count()`` never silently drops
queries that fell out of the window.
"""

from __future__ import annotations

import threading
from collections import Counter, deque
from collections.abc import Callable
from dataclasses import dataclass
from typing import TypeVar

from harness.dns.zone import normalize_name
from harness.waiting import ChangeSignal

T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class QueryLogEntry:
    """One query and its fate. ``name`` is lower-case without trailing dot ("" if unparsable)."""

    monotonic: float
    wall: float
    client: tuple[str, int]
    transport: str
    name: str
    qtype: str
    rcode: str
    answers: tuple[str, ...]
    faults: tuple[str, ...] = ()
    dropped: bool = False
    delay: float = 0.0


class QueryLog:
    """Bounded, awaitable, exactly counted log of DNS queries."""

    def __init__(self, maxlen: int = 100_000) -> None:
        self.changed = ChangeSignal()
        self._lock = threading.Lock()
        self._entries: deque[QueryLogEntry] = deque(maxlen=maxlen)
        self._counts: Counter[tuple[str, str]] = Counter()
        self.total = 0

    def record(self, entry: QueryLogEntry, *, notify: bool = True) -> None:
        """Add an entry; ``notify=False`` lets a caller logging a burst wake waiters once at its end."""
        with self._lock:
            self._entries.append(entry)
            self._counts[(entry.name, entry.qtype)] += 1
            self.total += 1
        if notify:
            self.changed.notify()

    def entries(self, name: str | None = None) -> list[QueryLogEntry]:
        """Entries still in the window, oldest first, optionally for one name."""
        with self._lock:
            items = list(self._entries)
        if name is None:
            return items
        key = normalize_name(name)
        return [e for e in items if e.name == key]

    def count(self, name: str | None = None, qtype: str | None = None) -> int:
        """Exact number of queries logged (since the last clear), optionally filtered."""
        key = None if name is None else normalize_name(name)
        qtype = None if qtype is None else qtype.upper()
        with self._lock:
            if key is None and qtype is None:
                return self.total
            return sum(n for (nm, qt), n in self._counts.items()
                       if (key is None or nm == key) and (qtype is None or qt == qtype))

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()
            self._counts.clear()
            self.total = 0
        self.changed.notify()

    def wait_for(self, predicate: Callable[[], T], timeout: float, what: str = "a DNS query log condition") -> T:
        """Block until ``predicate()`` is truthy (re-checked on every logged query)."""
        return self.changed.wait_for(predicate, timeout, what)

    def __len__(self) -> int:
        return self.count()
