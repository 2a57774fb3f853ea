"""Drill runner: timeline in wall time, SLO verdicts, and rollbacks after errors and Ctrl-C."""

from __future__ import annotations

import threading

import pytest

from harness.drill import run_drill
from harness.drill.load import plan
from harness.drill.records import FaultWindow, RequestRecord, WriteAudit
from harness.drill.slo import evaluate, impacts, percentile
from drill_double import DrillEnvDouble
from harness.report import drill_report
from harness.scenario import parse_scenario
from scenario_texts import empty_answer_drill

SCENARIO = empty_answer_drill(
    "runner test", settings="seed: 7\n", load="duration: 2.4s, rps: 50, users: 10, workers: 4, request_timeout: 1s",
    success_rate="min: 90%, window: 1.2s, min_requests: 20", at="0.8s", lasting="0.8s",
    objectives="  - time_to_failover: {max: 0.5s}\n  - time_to_recover: {max: 0.5s}\n  - duplicate_writes: 0\n")


def outcome(result):
    return {r.spec.kind: r.passed for r in result.slos}


def no_drill_threads():
    return not [t for t in threading.enumerate() if t.name.startswith(("drill-", "chaos-clear"))]


def test_resilient_app_passes_and_the_fault_ran_on_schedule():
    sc = parse_scenario(SCENARIO, "r.yaml")
    with DrillEnvDouble("failover") as env:
        result = run_drill(sc, env)
        assert env.chaos.active == []
    assert result.passed, [r.detail for r in result.slos]
    (window,) = result.windows
    assert window.name == "dns.empty_answer"
    assert window.start == pytest.approx(0.8, abs=0.15) and window.end == pytest.approx(1.6, abs=0.15)
    regions = {r.region for r in result.records if window.start + 0.05 < r.t < window.end - 0.05}
    assert regions == {"us-west-2"}  # served by the other region while the fault was active
    assert result.audit.checked > 0 and result.audit.lost == ()
    assert no_drill_threads()


def test_the_report_says_which_resolver_settings_the_drill_ran_with():
    from types import SimpleNamespace

    from harness.report import render_html
    from harness.resolver import ResolverOptions

    sc = parse_scenario(SCENARIO, "r.yaml")
    with DrillEnvDouble("failover") as env:
        env.resolver = SimpleNamespace(options=ResolverOptions(1.0, 2, source="host: /etc/resolv.conf"))
        report = drill_report(run_drill(sc, env))
    assert report["resolver"] == {"timeout": 1.0, "attempts": 2, "source": "host: /etc/resolv.conf"}
    assert "timeout 1s x 2 (host: /etc/resolv.conf)" in render_html(report)


def test_naive_app_fails_success_rate_and_failover_but_recovers():
    sc = parse_scenario(SCENARIO, "r.yaml")
    with DrillEnvDouble("fail") as env:
        result = run_drill(sc, env)
    verdict = outcome(result)
    assert not result.passed
    assert verdict["success_rate"] is False and verdict["time_to_failover"] is False
    assert verdict["time_to_recover"] is True and verdict["lost_writes"] is True


def test_acknowledged_writes_that_vanish_are_counted_lost():
    sc = parse_scenario(SCENARIO, "r.yaml")
    with DrillEnvDouble("lose_writes") as env:
        result = run_drill(sc, env)
    lost = next(r for r in result.slos if r.spec.kind == "lost_writes")
    assert not lost.passed and lost.measured == len(result.audit.lost) > 0


FAILING_ACTION = SCENARIO + """\
  - action: pause_replication
    at: 1s
    for: 0.5s
"""


def test_error_mid_timeline_still_clears_faults_and_runs_rollbacks():
    sc = parse_scenario(FAILING_ACTION + "rollbacks:\n  - action: resume_replication\n", "r.yaml")
    with DrillEnvDouble("failover") as env:
        env.dynamodb = None  # the replication action cannot run: a harness error mid-drill
        result = run_drill(sc, env)
        assert env.chaos.active == [] and not env.dns.faults.active
    assert result.error == "replication actions need the DynamoDB regions, which this harness is not running"
    assert not result.passed
    assert any(n["text"] == "clear all faults" for n in result.notes)
    assert any("rollback resume_replication failed" in n["text"] for n in result.notes)
    assert no_drill_threads()


def test_ctrl_c_clears_faults_resumes_replication_and_propagates():
    sc = parse_scenario(FAILING_ACTION + "rollbacks:\n  - action: resume_replication\n", "r.yaml")
    with DrillEnvDouble("failover") as env:
        def interrupt() -> None:
            env.dynamodb.replication.calls.append("pause")
            raise KeyboardInterrupt
        env.dynamodb.replication.pause = interrupt
        with pytest.raises(KeyboardInterrupt):
            run_drill(sc, env)
        assert env.chaos.active == [] and not env.dns.faults.active
        assert env.dynamodb.replication.calls == ["pause", "resume"]  # the scenario's rollback ran
        assert env.chaos.history[0].cleared is not None
    assert no_drill_threads()


def test_held_actions_are_undone_at_their_end():
    sc = parse_scenario(FAILING_ACTION, "r.yaml")
    with DrillEnvDouble("failover") as env:
        run_drill(sc, env)
        assert env.dynamodb.replication.calls[:2] == ["pause", "resume"]
        assert env.dynamodb.replication.paused is False


def test_load_plan_is_seeded_and_bounded():
    sc = parse_scenario(SCENARIO, "r.yaml")
    first, again = plan(sc.load, sc.wall_duration, 7), plan(sc.load, sc.wall_duration, 7)
    assert first == again and len(first) == 120
    assert plan(sc.load, sc.wall_duration, 8) != first
    assert max(p.at for p in first) < sc.wall_duration


def rec(t, ok, latency=0.01, region="us-east-1"):
    return RequestRecord(seq=int(t * 100), t=t, op="validate", user="u", status=200 if ok else 503,
                         latency=latency, ok=ok, region=region)


def test_slo_math_on_known_records():
    # 10 requests per second over 6 s; fault 2-4 s; failures 2.0-2.6 s, then served again
    records = [rec(i / 10, not (20 <= i < 26)) for i in range(60)]
    windows = [FaultWindow("dns.empty_answer", 2.0, 4.0)]
    (impact,) = impacts(records, windows, 6.0)
    assert impact.failures == 6
    assert impact.failover == pytest.approx(0.61)  # first of 5 ok in a row: sent 2.6 s, done 2.61 s
    assert impact.recovery == 0.0
    sc = parse_scenario(SCENARIO.replace("window: 1.2s", "window: 1s").replace("min_requests: 20", "min_requests: 3"), "r.yaml")
    results = {r.spec.kind: r for r in evaluate(sc.steady_state, records, windows, WriteAudit(checked=3), 6.0)}
    assert results["success_rate"].measured == pytest.approx(0.4) and not results["success_rate"].passed
    assert results["time_to_failover"].measured == pytest.approx(0.61) and not results["time_to_failover"].passed
    assert results["lost_writes"].passed and results["lost_writes"].measured == 0


def test_failover_and_recovery_are_zero_without_a_fault():
    records = [rec(i / 10, True) for i in range(60)]
    sc = parse_scenario(SCENARIO, "r.yaml")
    results = {r.spec.kind: r for r in evaluate(sc.steady_state, records, [], WriteAudit(checked=3), 6.0)}
    for kind in ("time_to_failover", "time_to_recover"):
        assert (results[kind].passed, results[kind].measured) == (True, 0.0), results[kind].detail


def test_percentile_is_nearest_rank():
    values = list(range(1, 101))
    assert percentile(values, 99) == 99 and percentile(values, 50) == 50 and percentile([], 99) is None


def test_a_failure_in_the_last_moments_of_a_fault_is_judged_by_when_the_service_came_back():
    """Requests in flight as one fault ends and the next begins fail at the very end of the first
    window: the window is too short to show a failover, so the time until the service was back
    counts (a 2025-replay FAIL of the resilient app on a busy machine, issue 10)."""
    sc = parse_scenario(SCENARIO, "r.yaml")  # time_to_failover and time_to_recover <= 0.5 s
    # 10 requests per second; a throttle-like fault 1.0-3.0 s, the next fault from 3.05 s
    records = [rec(i / 10, i not in (29, 30, 31)) for i in range(60)]  # 3.0 s: in the gap
    windows = [FaultWindow("dynamodb.throttle", 1.0, 3.0), FaultWindow("health.flap", 3.05, 4.0)]
    first, second = impacts(records, windows, 6.0)
    assert first.failover is None and first.first_failure == pytest.approx(2.9)
    assert first.failover_within(0.5) == pytest.approx(0.31)  # back with the requests sent from 3.2 s
    assert not first.measurable_recovery  # the next fault began before a recovery could be seen
    results = {r.spec.kind: r for r in evaluate(sc.steady_state, records, windows, WriteAudit(checked=3), 6.0)}
    assert results["time_to_failover"].passed, results["time_to_failover"].detail
    assert results["time_to_recover"].passed, results["time_to_recover"].detail
    # the same failures with the fault lasting on: a service down 0.5 s into an active fault fails
    late = [rec(i / 10, not 29 <= i < 40) for i in range(60)]
    results = {r.spec.kind: r for r in evaluate(sc.steady_state, late, [FaultWindow("dns.empty_answer", 1.0, 4.0)],
                                               WriteAudit(checked=3), 6.0)}
    assert results["time_to_failover"].verdict == "fail" and results["time_to_failover"].measured is None
