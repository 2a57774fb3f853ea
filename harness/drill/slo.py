"""Steady-state objectives measured from what users saw during a drill.

Definitions (all times are wall seconds; requests are grouped by the time they were sent):

- success rate: share of ``ok`` requests per fixed window from the load start; windows with fewer
  than ``min_requests`` requests are skipped; the worst window is the measured value. Each window
  gets a 95% Wilson score interval: the objective FAILs when some window's interval lies wholly
  below the threshold, PASSes when every window's interval lies at or above it, and is
  INCONCLUSIVE otherwise (too few requests to tell either way).
- p99 latency: nearest-rank 99th percentile over every load request, failed ones included (a
  request that hangs until its timeout is exactly the latency a user suffers).
- time to fail over: for each fault window (overlapping windows merged), the time from the fault
  starting until service is *restored while the fault is still active*: the first request that
  completes ok and is followed by ``STABLE`` more ok requests. A window in which nothing failed
  counts 0; a window whose service only came back after the fault cleared did not fail over.
- time to recover: from a fault clearing until service is restored the same way (0 if it never
  broke); windows ending with the load cannot be measured and are skipped.
- lost / duplicate writes: counts from the end-of-run ``WriteAudit``.

Requests the harness itself disturbed (``harness.drill.lag``: sent late, or overlapping a stall of
the harness over its lag budget) are left out of every objective: they say nothing about the app.
Writes are audited whatever the lag: an acknowledged write that is gone is never noise.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import Any

from harness.drill.lag import LagReport
from harness.drill.records import FaultWindow, RequestRecord, WriteAudit
from harness.scenario.model import SLOSpec

STABLE = 5  # consecutive ok requests that count as "service restored"
PASS, FAIL, INCONCLUSIVE = "pass", "fail", "inconclusive"
Z_95 = 1.959963984540054  # two-sided 95% normal quantile, for Wilson intervals


@dataclass(frozen=True)
class SLOResult:
    spec: SLOSpec
    verdict: str  # PASS, FAIL or INCONCLUSIVE
    measured: float | None
    detail: str
    interval: tuple[float, float] | None = None  # 95% confidence interval of ``measured``
    span: tuple[float, float] | None = None  # for timing objectives: when the deciding part happened

    @property
    def passed(self) -> bool:
        return self.verdict == PASS

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.spec.title,
            "kind": self.spec.kind,
            "verdict": self.verdict,
            "passed": self.passed,
            "measured": self.measured,
            "interval": None if self.interval is None else [round(v, 6) for v in self.interval],
            "threshold": self.spec.threshold,
            "comparator": self.spec.comparator,
            "unit": self.spec.unit,
            "window": self.spec.window,
            "detail": self.detail,
            "where": self.spec.where,
        }


@dataclass(frozen=True)
class Impact:
    """One merged fault window and how the service fared in it."""

    start: float
    end: float
    failover: float | None  # seconds from the first failure to restored during the fault; None: never
    recovery: float | None  # seconds from end to restored; None: never (or not measurable)
    measurable_recovery: bool
    failures: int
    first_failure: float | None = None  # when the service was first hit in this window
    # Seconds from the first failure to restored, looking past the end of the fault (None: not
    # before the load ended). Judges a failure that came too close to the fault's end for the
    # fault window alone to show whether the service came back (``failover_within``).
    restored_after: float | None = None

    def failover_within(self, threshold: float) -> float | None:
        """The failover time to judge against ``threshold``; None when the service did not come back.

        A service still down ``threshold`` seconds after it was first hit, with the fault still
        active, did not fail over in time. When the fault ended sooner than that after the first
        failure (a request failing in the last moments of a fault, or in flight as the next one
        began), the fault window is too short to tell, so the time until the service was restored,
        before or after the fault cleared, is what counts.
        """
        if self.failover is not None or self.first_failure is None:
            return self.failover
        if self.end - self.first_failure >= threshold:
            return None
        return self.restored_after


def wilson(ok: int, n: int, z: float = Z_95) -> tuple[float, float]:
    """Wilson score interval for ``ok`` successes in ``n`` trials (sound for small n and rates near 1)."""
    if n <= 0:
        return 0.0, 1.0
    p = ok / n
    denominator = 1 + z * z / n
    centre = (p + z * z / (2 * n)) / denominator
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / denominator
    return max(0.0, centre - half), min(1.0, centre + half)


def judge_windows(windows: Sequence[tuple[float, int, int]], threshold: float) -> tuple[str, tuple[float, int, int]]:
    """The objective's verdict over (start, requests, ok) windows, and the window that decides it."""
    bounds = [(w, *wilson(w[2], w[1])) for w in windows]
    below = [b for b in bounds if b[2] < threshold]
    if below:
        return FAIL, min(below, key=lambda b: (b[2], b[0][0]))[0]
    doubtful = [b for b in bounds if b[1] < threshold]
    if doubtful:
        return INCONCLUSIVE, min(doubtful, key=lambda b: (b[1], b[0][0]))[0]
    return PASS, min(windows, key=lambda w: (w[2] / w[1], w[0]))


def percentile(values: Sequence[float], q: float) -> float | None:
    """Nearest-rank percentile (q in 0..100); None for no values."""
    if not values:
        return None
    ordered = sorted(values)
    rank = max(1, math.ceil(q / 100 * len(ordered)))
    return ordered[rank - 1]


def merge_windows(windows: Sequence[FaultWindow], load_end: float) -> list[tuple[float, float]]:
    spans = sorted((w.start, w.end if w.end is not None else load_end) for w in windows)
    merged: list[list[float]] = []
    for start, end in spans:
        if merged and start <= merged[-1][1]:
            merged[-1][1] = max(merged[-1][1], end)
        else:
            merged.append([start, end])
    return [(s, e) for s, e in merged]


def _restored_at(records: Sequence[RequestRecord], after_failure: bool) -> float | None:
    """Completion time of the first ok request followed by STABLE-1 more ok ones.

    With ``after_failure`` only a run starting after the first failure counts (failover); else the
    first stable run at all counts (recovery).
    """
    seen_failure = not after_failure
    run_start: RequestRecord | None = None
    run = 0
    for rec in records:
        if not rec.ok:
            seen_failure, run_start, run = True, None, 0
            continue
        if not seen_failure:
            continue
        if run_start is None:
            run_start = rec
        run += 1
        if run >= STABLE:
            return run_start.done
    # A shorter run that lasts to the end of the requests also counts: nothing failed after it.
    return run_start.done if run_start is not None else None


def impacts(records: Sequence[RequestRecord], windows: Sequence[FaultWindow], load_end: float) -> list[Impact]:
    load = sorted((r for r in records if r.op != "verify"), key=lambda r: r.t)
    spans = merge_windows(windows, load_end)
    out = []
    for i, (start, end) in enumerate(spans):
        next_start = spans[i + 1][0] if i + 1 < len(spans) else math.inf
        during = [r for r in load if start <= r.t < end]
        failures = sum(not r.ok for r in during)
        first_failure: float | None = None
        restored_after: float | None = None
        if failures == 0:
            failover: float | None = 0.0
        else:
            # Measured from the first failure: a window that only hurts late (a later fault of a
            # merged span) must not be charged for the quiet time before.
            first_failure = next(r.t for r in during if not r.ok)
            restored = _restored_at(during, after_failure=True)
            if restored is None or restored > end:
                restored = _restored_at([r for r in load if r.t >= first_failure], after_failure=True)
                failover = None
            else:
                failover = max(0.0, restored - first_failure)
            restored_after = None if restored is None else max(0.0, restored - first_failure)
        measurable = end < load_end
        recovery: float | None = None
        if measurable:
            before = [r for r in load if r.t < end][-STABLE:]
            after = [r for r in load if end <= r.t < next_start]
            if before and all(r.ok for r in before) and (not after or after[0].ok):
                recovery = 0.0
            else:
                restored = _restored_at(after, after_failure=False)
                recovery = None if restored is None else max(0.0, restored - end)
            # The next fault began before the service could show it had recovered from this one:
            # its recovery cannot be seen (the next window's failover judges the service instead).
            measurable = recovery is not None or next_start >= load_end
        out.append(Impact(start, end, failover, recovery, measurable, failures, first_failure, restored_after))
    return out


def success_windows(records: Sequence[RequestRecord], window: float, load_end: float) -> list[tuple[float, int, int]]:
    """(window start, requests, ok) for each window of the load."""
    count = max(1, math.ceil(load_end / window - 1e-9))
    totals = [0] * count
    oks = [0] * count
    for rec in records:
        if rec.op == "verify":
            continue
        i = min(count - 1, max(0, int(rec.t // window)))
        totals[i] += 1
        oks[i] += rec.ok
    return [(i * window, totals[i], oks[i]) for i in range(count)]


def evaluate(
    specs: Sequence[SLOSpec],
    records: Sequence[RequestRecord],
    windows: Sequence[FaultWindow],
    audit: WriteAudit,
    load_end: float,
    lag: LagReport | None = None,
) -> list[SLOResult]:
    """Judge every objective on the requests the harness did not disturb (all of them without ``lag``).

    A timing objective (p99, failover, recovery) is only failed when the harness kept to its lag
    budget while it was decided: a FAIL of one whose span overlapped a stall of the harness, or any
    timing FAIL when the harness was over budget for the drill (``LagReport.over_budget``), is
    INCONCLUSIVE instead. On a starved machine (``LagReport.starved``) the app itself ran at a
    fraction of its speed, so nothing but lost or duplicate writes is failed.
    """
    total = sum(r.op != "verify" for r in records)
    if lag is not None:
        records = [r for r in records if not lag.is_disturbed(r)]
    found = impacts(records, windows, load_end)
    results = [_evaluate_one(spec, records, found, audit, load_end) for spec in specs]
    return results if lag is None else [_excuse_harness_lag(r, lag, total, load_end) for r in results]


TIMING = ("p99_latency", "time_to_failover", "time_to_recover")
WRITES = ("lost_writes", "duplicate_writes")


def _excuse_harness_lag(result: SLOResult, lag: LagReport, total: int, load_end: float) -> SLOResult:
    if result.verdict != FAIL or result.spec.kind in WRITES:
        return result
    if lag.starved:
        why = f"the machine was too busy (the harness ran {lag.pace:.0%} of the time it asked to)"
    elif result.spec.kind not in TIMING:
        return result
    elif result.spec.kind != "p99_latency" and lag.stalled_during(*(result.span or (0.0, load_end))):
        why = "a stall of the harness overlapped it"
    elif lag.over_budget(total):
        why = "the harness disturbed too much of the load"
    else:
        return result
    return replace(result, verdict=INCONCLUSIVE, detail=f"{result.detail}; not judged: {why} (lag budget "
                                                          f"{lag.budget * 1000:.0f}ms, max lag {lag.max_lag * 1000:.0f}ms)")


def _evaluate_one(spec: SLOSpec, records: Sequence[RequestRecord], found: list[Impact], audit: WriteAudit,
                  load_end: float) -> SLOResult:
    load = [r for r in records if r.op != "verify"]
    if spec.kind == "success_rate":
        counted = [(s, n, ok) for s, n, ok in success_windows(load, spec.window or 1.0, load_end)
                   if n >= spec.min_requests]
        if not counted:
            return SLOResult(spec, INCONCLUSIVE, None, f"no window had {spec.min_requests} or more requests to judge")
        verdict, (start, n, ok) = judge_windows(counted, spec.threshold)
        rate = ok / n
        low, high = wilson(ok, n)
        overall = sum(r.ok for r in load) / len(load)
        which = {PASS: "worst", FAIL: "failing", INCONCLUSIVE: "undecided"}[verdict]
        detail = (f"{which} window at {start:.1f}s: {ok}/{n} ok ({rate:.1%}, 95% CI {low:.1%}-{high:.1%}); "
                  f"overall {overall:.1%} over {len(counted)} windows")
        return SLOResult(spec, verdict, rate, detail, (low, high))
    if spec.kind == "p99_latency":
        p99 = percentile([r.latency for r in load], 99)
        if p99 is None:
            return SLOResult(spec, INCONCLUSIVE, None, "no requests to judge")
        detail = f"p99 {p99 * 1000:.0f}ms, p50 {percentile([r.latency for r in load], 50) * 1000:.0f}ms over {len(load)} requests"
        return SLOResult(spec, PASS if p99 <= spec.threshold else FAIL, p99, detail)
    if spec.kind == "time_to_failover":
        return _worst(spec, [(i, i.failover_within(spec.threshold)) for i in found], "fault window",
                      "service did not come back while the fault at {start:.1f}s was active")
    if spec.kind == "time_to_recover":
        measurable = [(i, i.recovery) for i in found if i.measurable_recovery]
        return _worst(spec, measurable, "cleared fault",
                      "service did not recover after the fault cleared at {end:.1f}s")
    if spec.kind == "lost_writes":
        if not audit.ran:
            return SLOResult(spec, FAIL, None, f"acknowledged writes could not be checked: {audit.note}")
        lost, unverified = len(audit.lost), len(audit.unverified)
        sample = f" (e.g. {', '.join(audit.lost[:3])})" if lost else ""
        detail = f"{lost} of {audit.checked} acknowledged writes not found at the end{sample}"
        if unverified:  # no answer is not proof of loss, and no proof of safety either
            detail += f"; {unverified} could not be read back (the app did not answer)"
        return SLOResult(spec, _at_most(lost, spec) if not unverified else FAIL, float(lost), detail)
    dupes = len(audit.duplicates)
    sample = f" (e.g. {', '.join(audit.duplicates[:3])})" if dupes else ""
    return SLOResult(spec, _at_most(dupes, spec), float(dupes),
                     f"{dupes} writes acknowledged with two different keys for one request id{sample}")


def _at_most(value: float, spec: SLOSpec) -> str:
    return PASS if value <= spec.threshold else FAIL


def _worst(spec: SLOSpec, values: list[tuple[Impact, float | None]], noun: str, never: str) -> SLOResult:
    if not values:
        # Nothing to fail over from (a scenario without faults): nothing took longer than 0 s.
        return SLOResult(spec, PASS, 0.0, f"no {noun} to measure; counted as 0s")
    for impact, value in values:
        if value is None:
            return SLOResult(spec, FAIL, None, never.format(start=impact.start, end=impact.end), span=_span(impact, spec))
    impact, worst = max(values, key=lambda v: v[1])
    detail = f"worst {worst:.2f}s for the {noun} {impact.start:.1f}s-{impact.end:.1f}s; {len(values)} measured"
    return SLOResult(spec, _at_most(worst, spec), worst, detail, span=_span(impact, spec))


def _span(impact: Impact, spec: SLOSpec) -> tuple[float, float]:
    """When a failover (the fault window) or a recovery (the time after it) was decided."""
    if spec.kind == "time_to_failover":
        return impact.start, impact.end
    return impact.end, impact.end + spec.threshold + STABLE


def series(records: Sequence[RequestRecord], load_end: float, bucket: float) -> list[dict[str, Any]]:
    """Per-bucket figures for charts: requests, success rate, p50/p99 latency, serving region."""
    count = max(1, math.ceil(load_end / bucket - 1e-9))
    buckets: list[list[RequestRecord]] = [[] for _ in range(count)]
    for rec in records:
        if rec.op != "verify":
            buckets[min(count - 1, max(0, int(rec.t // bucket)))].append(rec)
    out = []
    for i, recs in enumerate(buckets):
        lat = [r.latency for r in recs]
        regions = Counter(r.region for r in recs if r.ok and r.region)
        out.append({
            "t": round(i * bucket, 3),
            "requests": len(recs),
            "ok": sum(r.ok for r in recs),
            "success_rate": (sum(r.ok for r in recs) / len(recs)) if recs else None,
            "p50_ms": None if not lat else round(percentile(lat, 50) * 1000, 1),
            "p99_ms": None if not lat else round(percentile(lat, 99) * 1000, 1),
            "region": regions.most_common(1)[0][0] if regions else None,
            "cached": sum(bool(r.cached) for r in recs),
        })
    return out


def events(found: Sequence[Impact], points: Sequence[dict[str, Any]]) -> list[dict[str, Any]]:
    """Failover/recovery marks and changes of the serving region, sorted by time."""
    out: list[dict[str, Any]] = []
    for impact in found:
        if impact.failures and impact.failover is not None:
            hit = impact.first_failure if impact.first_failure is not None else impact.start
            out.append({"t": round(hit + impact.failover, 3), "kind": "failover",
                        "detail": f"service restored {impact.failover:.2f}s after it was first hit"})
        if impact.failures and impact.failover is None:
            out.append({"t": round(impact.start, 3), "kind": "outage",
                        "detail": "service did not come back while the fault was active"})
        if impact.measurable_recovery and impact.recovery is not None:
            out.append({"t": round(impact.end + impact.recovery, 3), "kind": "recovery",
                        "detail": f"service stable {impact.recovery:.2f}s after the fault cleared"})
    previous = None
    for point in points:
        region = point["region"]
        if region and previous and region != previous:
            out.append({"t": point["t"], "kind": "region", "detail": f"serving from {region} (was {previous})"})
        previous = region or previous
    return sorted(out, key=lambda e: e["t"])
