"""How late the harness itself ran during a drill, so its own slowness is never blamed on the app.

On a busy CI runner the harness (load generator, DNS, proxies, an in-process app) can be starved of
CPU. A request sent 800 ms late, or answered late because the harness's event loop was stalled,
says nothing about the app's retry logic. ``LagMonitor`` samples the harness's responsiveness every
``interval``: how much later than asked a sleeping thread wakes (CPU and GIL starvation of the whole
process) and, when given the harness loop, how long a callback waits to run on it (DNS and proxy
stalls). From the samples comes the harness's *pace*: the share of its time it ran when it asked
to (``interval / (interval + mean lag)``). A machine so busy that the harness waits on average
longer than it asked to sleep slows everything evenly, without any single stall: it is *starved*.

A *stall* is a stretch of samples whose lag exceeds the budget. A request is *disturbed*, and
judged by nobody, when it went out more than the budget later than it could have, or when it was
sent during a stall or within one budget before it. The choice is by send time only, never by how
the request ended, so leaving disturbed requests out cannot favour passing or failing.
"""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from harness.drill.records import RequestRecord

# A verdict that rests on fewer than 90% of the drill's requests is no fair test: when the harness
# disturbed more than this share, timing objectives are not failed and a pass becomes INCONCLUSIVE.
MAX_DISTURBED_SHARE = 0.10
# Below this pace the harness is starved: it ran less than half the time it asked to, and so did
# everything else on the machine (the in-process app too); timing then says nothing about the app.
MIN_PACE = 0.5


@dataclass(frozen=True)
class LagReport:
    """The harness's own lag over one drill (wall seconds since the load started)."""

    budget: float
    samples: int
    max_lag: float
    p99_lag: float
    stalls: tuple[tuple[float, float], ...]  # (start, end) where lag exceeded the budget
    disturbed: frozenset[int] = field(default_factory=frozenset)  # request seqs the harness disturbed
    late_sends: int = 0
    pace: float = 1.0  # interval / (interval + mean lag): 1.0 on an idle machine

    @property
    def starved(self) -> bool:
        return self.pace < MIN_PACE

    def is_disturbed(self, rec: RequestRecord) -> bool:
        return rec.seq in self.disturbed

    def stalled_during(self, start: float, end: float) -> bool:
        return any(s < end and start < e for s, e in self.stalls)

    def over_budget(self, total_requests: int) -> bool:
        """No fair test of timing: the harness was starved of CPU, or it disturbed more than
        ``MAX_DISTURBED_SHARE`` of the load."""
        return self.starved or (bool(total_requests) and len(self.disturbed) / total_requests > MAX_DISTURBED_SHARE)

    def why_over_budget(self, total_requests: int) -> str:
        share = len(self.disturbed) / total_requests if total_requests else 0.0
        if self.starved:
            return (f"the machine was too busy: the harness ran {self.pace:.0%} of the time it asked to "
                    f"(at least {MIN_PACE:.0%} needed); it disturbed {share:.0%} of the requests")
        return (f"it disturbed {share:.0%} of the requests (max lag {self.max_lag * 1000:.0f}ms, "
                f"budget {self.budget * 1000:.0f}ms)")

    def to_dict(self, total_requests: int) -> dict[str, Any]:
        return {
            "budget": self.budget,
            "samples": self.samples,
            "max_lag": round(self.max_lag, 6),
            "p99_lag": round(self.p99_lag, 6),
            "stalls": [[round(s, 3), round(e, 3)] for s, e in self.stalls],
            "disturbed_requests": len(self.disturbed),
            "late_sends": self.late_sends,
            "disturbed_share": (len(self.disturbed) / total_requests) if total_requests else 0.0,
            "pace": round(self.pace, 3),
            "over_budget": self.over_budget(total_requests),
        }


class LagMonitor:
    """Samples harness lag in a thread of its own until ``stop()``.

    ``loop`` (optional) is the harness's asyncio loop: each sample also measures how long a
    callback waited to run on it. Times are ``clock()`` seconds relative to ``t0``.
    """

    def __init__(self, budget: float, *, interval: float = 0.02, clock: Callable[[], float] = time.monotonic,
                 loop: asyncio.AbstractEventLoop | None = None) -> None:
        self.budget = budget
        self.interval = interval
        self.clock = clock
        self.loop = loop
        self._samples: list[tuple[float, float]] = []
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._t0 = 0.0

    def start(self, t0: float) -> "LagMonitor":
        self._t0 = t0
        self._thread = threading.Thread(target=self._run, name="drill-lag-monitor")
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join()
            self._thread = None

    def _run(self) -> None:
        while True:
            asked = self.clock()
            if self._stop.wait(self.interval):
                return
            woke = self.clock()
            lag = max(0.0, woke - asked - self.interval, self._loop_delay())
            self._samples.append((asked - self._t0, lag))

    def _loop_delay(self) -> float:
        """How long a callback queued now waits before the harness loop runs it (0 without a loop)."""
        if self.loop is None or self.loop.is_closed():
            return 0.0
        ran = threading.Event()
        queued = self.clock()
        try:
            self.loop.call_soon_threadsafe(ran.set)
        except RuntimeError:  # the loop closed meanwhile
            return 0.0
        # Bounded: a loop stalled longer than this is already far over any sensible budget.
        ran.wait(max(1.0, 4 * self.budget))
        return self.clock() - queued

    def report(self, records: Sequence[RequestRecord]) -> LagReport:
        """Summarise the samples and mark the requests the harness disturbed."""
        lags = sorted(lag for _, lag in self._samples)
        stalls = _stalls(self._samples, self.budget, self.interval)
        disturbed = set()
        late = 0
        for rec in records:
            if rec.send_lag > self.budget:
                late += 1
                disturbed.add(rec.seq)
            elif any(start - self.budget <= rec.t < end for start, end in stalls):
                disturbed.add(rec.seq)
        p99 = lags[max(0, int(0.99 * len(lags)) - 1)] if lags else 0.0
        pace = self.interval / (self.interval + sum(lags) / len(lags)) if lags else 1.0
        return LagReport(self.budget, len(lags), lags[-1] if lags else 0.0, p99, tuple(stalls),
                         frozenset(disturbed), late, pace)


def _stalls(samples: Sequence[tuple[float, float]], budget: float, interval: float) -> list[tuple[float, float]]:
    """Merge samples over budget into (start, end) spans; a sample covers the time it waited."""
    spans: list[list[float]] = []
    for asked, lag in samples:
        if lag <= budget:
            continue
        start, end = asked, asked + interval + lag
        if spans and start <= spans[-1][1]:
            spans[-1][1] = max(spans[-1][1], end)
        else:
            spans.append([start, end])
    return [(s, e) for s, e in spans]
