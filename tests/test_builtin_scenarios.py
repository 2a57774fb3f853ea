"""Issue 6 acceptance: every built-in scenario through the real CLI and the fully wired harness.

``chaos-harness gate NAME --app resilient`` must never FAIL (exit 0, or 3 when the run was too
disturbed or too thin to judge: the suite runs two gates at once on two cores) and ``--app naive``
must exit 1, and the JSON and JUnit reports it writes must agree on which objectives failed. Each (scenario, profile)
pair is its own test so ``pytest -n 2`` spreads the runs (the 2025 replays take ~35 s, the others
~12 s). Measured wall times are recorded as JUnit properties (``gate_wall_seconds``); tests never
assert timings, only that a scenario's *planned* duration leaves room in the 60 s budget.
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from harness import cli
from harness.scenario import builtin_scenarios, load_scenario

SCENARIOS = sorted(builtin_scenarios())
REPLAY = "us-east-1-2025-10-20"
WALL_BUDGET = 60.0  # seconds a built-in drill may take end to end
STARTUP_MARGIN = 15.0  # harness start, drill users' sign-up, the audit after the load, the reports
PROFILES = [pytest.param("resilient", {cli.EXIT_OK, cli.EXIT_INCONCLUSIVE}, id="resilient"),
            pytest.param("naive", {cli.EXIT_SLO_FAILED}, id="naive")]


def test_the_library_has_the_replay_and_one_scenario_per_fault_family():
    assert REPLAY in SCENARIOS
    families = {step.name.split(".")[0] for name in SCENARIOS for step in load_scenario(name).method
                if step.kind == "fault"}
    assert families == {"dns", "network", "dynamodb", "health"}


@pytest.mark.parametrize("name", SCENARIOS)
def test_planned_duration_fits_the_wall_budget(name):
    scenario = load_scenario(name)
    assert scenario.wall_duration < WALL_BUDGET - STARTUP_MARGIN
    assert all(step.end is None or scenario.wall(step.end) <= scenario.wall_duration for step in scenario.method)


def gate(name: str, profile: str, report_dir: Path, record_property) -> tuple[int, dict, ET.Element]:
    """Run ``chaos-harness gate`` in this process; the exit code and the parsed JSON and JUnit reports."""
    started = time.monotonic()
    code = cli.main(["gate", name, "--app", profile, "--report-dir", str(report_dir)])
    record_property("gate_wall_seconds", f"{time.monotonic() - started:.1f}")
    record_property("planned_wall_seconds", f"{load_scenario(name).wall_duration:.1f}")
    report = json.loads((report_dir / f"{name}.json").read_text(encoding="utf-8"))
    suite = ET.parse(report_dir / f"{name}.junit.xml").getroot()
    return code, report, suite


@pytest.mark.parametrize("profile, expected_exit", PROFILES)
@pytest.mark.parametrize("name", SCENARIOS)
def test_gate_passes_resilient_and_fails_naive(name, profile, expected_exit, tmp_path, record_property, capsys):
    code, report, suite = gate(name, profile, tmp_path, record_property)
    out = capsys.readouterr().out
    failed = {slo["name"]: slo for slo in report["slos"] if slo["verdict"] == "fail"}
    summary = "; ".join(f"{n}: {s['detail']}" for n, s in failed.items()) or report["reason"]
    assert code in expected_exit, f"{name} --app {profile}: exit {code}, error {report['error']!r}; {summary}"
    record_property("verdict", report["verdict"])
    record_property("harness_max_lag_ms", round(report["harness_lag"]["max_lag"] * 1000))

    assert report["error"] is None and report["interrupted"] is False
    assert report["scenario"]["name"] == name and report["scenario"]["app"]["profile"] == profile
    assert report["verdict"] == {0: "pass", 1: "fail", 3: "inconclusive"}[code] and report["passed"] is (code == 0)
    assert report["audit"]["lost"] == [] or profile == "naive", "a resilient app lost an acknowledged write"
    assert report["requests"]["total"] > 0 and report["faults"], "the load ran and the faults were injected"
    # The JUnit file names the same failed objectives, each with measured vs threshold.
    cases = {case.get("name"): case for case in suite.iter("testcase")}
    assert set(cases) == {slo["name"] for slo in report["slos"]}
    junit_failed = {n: c.find("failure") for n, c in cases.items() if c.find("failure") is not None}
    assert set(junit_failed) == set(failed)
    assert suite.get("failures") == str(len(failed)) and suite.get("errors") == "0"
    for slo_name, failure in junit_failed.items():
        assert failure.get("type") == "SLOViolation" and failure.get("message").startswith("measured ")
        assert f"FAIL         {slo_name}: " in out
    if profile == "naive":  # one region, no breaker: its users saw the outage
        assert "success_rate" in {slo["kind"] for slo in failed.values()}, summary


def scenario_command() -> list[str]:
    """The installed console script next to this interpreter (the venv's), as users run it."""
    script = Path(sys.executable).with_name("chaos-harness")
    return [str(script)] if script.exists() else [sys.executable, "-m", "harness.cli"]


MALFORMED = {
    "yaml-syntax": ("title: broken\nload: {duration: 2s, rps: 5\nsteady_state:\n  - lost_writes: 0\n", 3,
                    "invalid YAML"),
    "unknown-fault": ("title: t\nload: {duration: 2s}\nsteady_state:\n  - lost_writes: 0\nmethod:\n"
                      "  - fault: dns.missing_record\n    at: 1s\n", 6, "unknown fault 'dns.missing_record'"),
    "fault-past-load": ("title: t\nload: {duration: 2s}\nsteady_state:\n  - lost_writes: 0\nmethod:\n"
                        "  - fault: dns.empty_answer\n    at: 1s\n    for: 5s\n", 8, "after the end of the load"),
}


@pytest.mark.parametrize("case", sorted(MALFORMED))
def test_gate_on_a_malformed_scenario_exits_2_with_one_line(case, tmp_path):
    text, line, problem = MALFORMED[case]
    path = tmp_path / f"{case}.yaml"
    path.write_text(text, encoding="utf-8")
    reports = tmp_path / "reports"
    done = subprocess.run([*scenario_command(), "gate", str(path), "--report-dir", str(reports)],
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == cli.EXIT_ERROR, done
    assert done.stdout == "" and done.stderr.count("\n") == 1, done.stderr
    assert done.stderr.startswith(f"chaos-harness: error: {path}:{line}: ") and problem in done.stderr
    assert not reports.exists()  # nothing ran, so nothing was reported
