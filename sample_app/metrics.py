"""Counters the drills read: what users saw, where it was served, and what the app did about it.

Available in-process (``AppServer.metrics.snapshot()``) and as ``GET /metrics`` JSON. Breaker
transitions keep their wall-clock times so a drill report can line them up with injected faults.
"""

from __future__ import annotations

import collections
import threading
import time
from collections.abc import Callable
from typing import Any


class Metrics:
    """Thread-safe counters; ``snapshot()`` returns plain JSON-ready data."""

    def __init__(self, clock: Callable[[], float] = time.time) -> None:
        self.clock = clock
        self._lock = threading.Lock()
        self.reset()

    def reset(self) -> None:
        with self._lock:
            self._by_status: collections.Counter[str] = collections.Counter()
            self._by_route: collections.Counter[str] = collections.Counter()
            self._by_region: collections.Counter[str] = collections.Counter()
            self._by_source: collections.Counter[str] = collections.Counter()
            self._failovers: collections.Counter[str] = collections.Counter()
            self._retries: collections.Counter[str] = collections.Counter()
            self._transitions: list[dict[str, Any]] = []
            self._breakers: dict[str, str] = {}

    def count_request(self, route: str, status: int, region: str | None, source: str | None) -> None:
        with self._lock:
            self._by_status[str(status)] += 1
            self._by_route[route] += 1
            if region:
                self._by_region[region] += 1
            if source:
                self._by_source[source] += 1

    def count_failover(self, from_region: str, to_region: str) -> None:
        with self._lock:
            self._failovers[f"{from_region}->{to_region}"] += 1

    def count_retries(self, region: str, retries: int) -> None:
        with self._lock:
            self._retries[region] += retries

    def track_breaker(self, region: str, state: str) -> None:
        """Start reporting a breaker's state (no transition recorded)."""
        with self._lock:
            self._breakers[region] = state

    def breaker_changed(self, region: str, old: str, new: str) -> None:
        with self._lock:
            self._breakers[region] = new
            self._transitions.append({"region": region, "from": old, "to": new, "at": self.clock()})

    def snapshot(self) -> dict[str, Any]:
        with self._lock:
            return {
                "requests": {
                    "total": sum(self._by_status.values()),
                    "by_status": dict(self._by_status),
                    "by_route": dict(self._by_route),
                    "by_region": dict(self._by_region),
                    "by_source": dict(self._by_source),
                },
                "failovers": {"total": sum(self._failovers.values()), "by_path": dict(self._failovers)},
                "retries": {"total": sum(self._retries.values()), "by_region": dict(self._retries)},
                "breakers": {
                    "states": dict(self._breakers),
                    "transitions": [dict(t) for t in self._transitions],
                },
            }
