"""Verdicts with evidence: Wilson intervals, three outcomes, and the harness's own lag left out."""

from __future__ import annotations

import threading

import pytest

from harness.drill import slo
from harness.drill.lag import LagMonitor, LagReport
from harness.drill.records import RequestRecord, WriteAudit
from harness.drill.runner import DrillResult
from harness.loop_thread import LoopThread
from harness.scenario import parse_scenario

SCENARIO = """\
title: verdicts
load: {duration: 10s, rps: 20, lag_budget: 150ms}
steady_state:
  - success_rate: {min: 90%, window: 5s, min_requests: 20}
  - p99_latency: {max: 500ms}
  - lost_writes: 0
method: []
"""


def rec(seq: int, t: float, ok: bool = True, latency: float = 0.01, send_lag: float = 0.0) -> RequestRecord:
    return RequestRecord(seq=seq, t=t, op="validate", user="u", status=200 if ok else 503, latency=latency, ok=ok,
                         send_lag=send_lag)


def steady(n: int = 200, failing: range = range(0)) -> list[RequestRecord]:
    """``n`` requests over 10 s (20 a second); those whose index is in ``failing`` fail."""
    return [rec(i, i / 20, ok=i not in failing) for i in range(n)]


def judge(records, lag: LagReport | None = None) -> dict[str, slo.SLOResult]:
    sc = parse_scenario(SCENARIO, "v.yaml")
    found = slo.evaluate(sc.steady_state, records, [], WriteAudit(checked=1), 10.0, lag)
    return {r.spec.kind: r for r in found}


def test_wilson_interval_matches_the_textbook_values() -> None:
    assert slo.wilson(0, 0) == (0.0, 1.0)
    low, high = slo.wilson(19, 39)  # the window that failed a gate on a loaded runner
    assert low == pytest.approx(0.3390, abs=1e-3) and high == pytest.approx(0.6377, abs=1e-3)
    low, high = slo.wilson(100, 100)
    assert low == pytest.approx(0.9630, abs=1e-3) and high == 1.0


@pytest.mark.parametrize("failing, verdict", [
    (range(0), slo.PASS),                # 100/100 per window: the interval lies above 90%
    (range(20, 60), slo.FAIL),          # 60/100: the interval lies below 90%
    (range(20, 29), slo.INCONCLUSIVE),  # 91/100: the interval straddles 90%
])
def test_success_rate_passes_fails_or_says_it_cannot_tell(failing, verdict) -> None:
    result = judge(steady(failing=failing))["success_rate"]
    assert result.verdict == verdict
    low, high = result.interval
    assert low <= result.measured <= high
    assert "95% CI" in result.detail


def test_requests_the_harness_sent_late_are_left_out() -> None:
    """A stalled harness sent 40 requests 700 ms late and they timed out: not the app's fault."""
    records = [rec(i, i / 20, ok=not 20 <= i < 60, latency=2.0 if 20 <= i < 60 else 0.01,
                   send_lag=0.7 if 20 <= i < 60 else 0.0) for i in range(200)]
    assert judge(records)["success_rate"].verdict == slo.FAIL  # blamed on the app without the lag report
    monitor = LagMonitor(0.15)
    lag = monitor.report(records)
    assert lag.late_sends == 40 and len(lag.disturbed) == 40
    judged = judge(records, lag)
    assert judged["success_rate"].verdict != slo.FAIL and judged["p99_latency"].verdict == slo.PASS


def drill_result(records: list[RequestRecord], lag: LagReport) -> DrillResult:
    sc = parse_scenario(SCENARIO, "v.yaml")
    result = DrillResult(sc, "http://127.0.0.1:1", "now", records=records, lag=lag)
    result.slos = slo.evaluate(sc.steady_state, records, [], WriteAudit(checked=1), 10.0, lag)
    return result


def test_a_harness_that_disturbed_too_much_gives_no_pass() -> None:
    records = steady()
    quiet = drill_result(records, LagReport(0.15, 500, 0.01, 0.01, ()))
    assert quiet.verdict == slo.PASS and quiet.reason == "every objective held"
    busy = LagReport(0.15, 500, 0.9, 0.5, ((3.0, 4.0),), frozenset(range(60, 84)))  # 12% of the requests
    result = drill_result(records, busy)
    assert result.verdict == slo.INCONCLUSIVE
    assert result.reason.startswith("harness lag over budget: it disturbed 12% of the requests (max lag 900ms")


def test_lost_writes_fail_whatever_the_lag() -> None:
    sc = parse_scenario(SCENARIO, "v.yaml")
    busy = LagReport(0.15, 500, 0.9, 0.5, ((0.0, 10.0),), frozenset(range(200)))
    records = steady()
    result = DrillResult(sc, "http://127.0.0.1:1", "now", records=records, lag=busy)
    result.slos = slo.evaluate(sc.steady_state, records, [], WriteAudit(checked=5, lost=("s1",)), 10.0, busy)
    assert result.verdict == slo.FAIL and "lost_writes" in result.reason


def test_the_monitor_sees_a_stalled_harness_loop_and_marks_what_overlapped_it() -> None:
    with LoopThread("lag-test-loop") as loop:
        monitor = LagMonitor(0.1, loop=loop.loop)
        t0 = monitor.clock()
        monitor.start(t0)
        released = threading.Event()
        blocked = threading.Event()

        def stall() -> None:  # a DNS packet that takes the loop 400 ms to parse, say
            blocked.set()
            released.wait(0.4)

        loop.loop.call_soon_threadsafe(stall)
        blocked.wait(5)
        stalled_at = monitor.clock() - t0
        released.wait(0.4)  # the loop stays blocked for its full 400 ms
        monitor.stop()
    report = monitor.report([rec(1, stalled_at, latency=0.05), rec(2, stalled_at + 5, latency=0.05)])
    assert report.max_lag > 0.1 and report.stalls
    assert report.disturbed == frozenset({1})


def test_a_slow_failover_during_a_harness_stall_is_not_blamed_on_the_app() -> None:
    """The app looked down from 2 s until after the fault ended, but the harness stalled meanwhile."""
    from harness.drill.records import FaultWindow

    sc = parse_scenario(SCENARIO.replace("  - lost_writes: 0", "  - time_to_failover: {max: 1s}"), "v.yaml")
    records = steady(failing=range(40, 130))  # 2.0 s - 6.5 s
    windows = [FaultWindow("dns.empty_answer", 2.0, 6.0)]
    quiet = LagReport(0.15, 500, 0.01, 0.01, ())
    (failover,) = [r for r in slo.evaluate(sc.steady_state, records, windows, WriteAudit(), 10.0, quiet)
                   if r.spec.kind == "time_to_failover"]
    assert failover.verdict == slo.FAIL  # with a quiet harness this is the app's doing
    stalled = LagReport(0.15, 500, 0.4, 0.02, ((3.0, 3.4),))
    (failover,) = [r for r in slo.evaluate(sc.steady_state, records, windows, WriteAudit(), 10.0, stalled)
                   if r.spec.kind == "time_to_failover"]
    assert failover.verdict == slo.INCONCLUSIVE and "a stall of the harness overlapped it" in failover.detail


def test_on_a_starved_machine_only_writes_can_fail() -> None:
    """Timeouts and errors while the machine ran everything at a fraction of its speed prove nothing
    about the app's retry logic; a lost write proves something anywhere."""
    def failing(error: str, status: int) -> list[RequestRecord]:
        return [RequestRecord(seq=i, t=i / 20, op="validate", user="u", status=200 if i % 4 else status,
                              latency=0.01 if i % 4 else 2.0, ok=bool(i % 4), error=None if i % 4 else error)
                for i in range(200)]

    starved = LagReport(0.15, 500, 0.1, 0.05, (), pace=0.3)
    assert starved.starved and starved.over_budget(200)
    for error, status in (("TimeoutError: timed out", 0), ("HTTP 503 unavailable", 503)):
        judged = judge(failing(error, status))["success_rate"]
        assert judged.verdict == slo.FAIL and judged.measured == 0.75  # on a machine keeping pace
        starved_judged = judge(failing(error, status), starved)["success_rate"]
        assert starved_judged.verdict == slo.INCONCLUSIVE and "the machine was too busy" in starved_judged.detail
