"""The chaos-harness command line: exit codes 0/1/2/3/130, one-line errors, reports on disk."""

from __future__ import annotations

import contextlib
import json
import xml.etree.ElementTree as ET

import pytest

from harness import cli
from drill_double import DrillEnvDouble
from harness.errors import AddressInUseError
from scenario_texts import empty_answer_drill

SCENARIO = empty_answer_drill(
    "cli test", load="duration: 1.2s, rps: 100, users: 8, workers: 4, request_timeout: 1s",
    success_rate="min: 90%, window: 0.4s, min_requests: 3", at="0.4s", lasting="0.4s")


@pytest.fixture
def scenario_file(tmp_path):
    path = tmp_path / "cli-test.yaml"
    path.write_text(SCENARIO)
    return path


@pytest.fixture
def envs(monkeypatch):
    """Replace the embedded harness with the in-process double; naive apps fail during faults."""
    made: list[DrillEnvDouble] = []

    @contextlib.contextmanager
    def fake_open_harness(scenario, *, with_app):
        env = DrillEnvDouble("fail" if scenario.app.profile == "naive" else "failover")
        made.append(env)
        with env:
            yield env

    monkeypatch.setattr(cli, "open_harness", fake_open_harness)
    return made


def test_list_shows_the_builtin_library(capsys):
    assert cli.main(["list"]) == 0
    out = capsys.readouterr().out
    assert "us-east-1-2025-10-20 " in out and "network-partition" in out


def test_validate_ok_and_errors(tmp_path, capsys, scenario_file):
    assert cli.main(["validate", "us-east-1-2025-10-20"]) == 0
    assert "ok - us-east-1, 20 Oct 2025" in capsys.readouterr().out
    bad = tmp_path / "bad.yaml"
    bad.write_text(SCENARIO.replace("dns.empty_answer", "dns.foo"))
    assert cli.main(["validate", str(bad)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1
    assert err.startswith(f"chaos-harness: error: {bad}:7: method[0].fault: unknown fault 'dns.foo'")


@pytest.mark.parametrize("argv", [[], ["explode"], ["gate"], ["gate", "x", "--seed", "many"], ["gate", "x", "--app", "clever"]])
def test_usage_errors_exit_2(argv, capsys):
    with pytest.raises(SystemExit) as info:
        cli.main(argv)
    assert info.value.code == 2
    assert capsys.readouterr().err.startswith("chaos-harness")


def test_gate_passes_for_a_resilient_app_and_writes_reports(tmp_path, scenario_file, envs, capsys):
    assert cli.main(["gate", str(scenario_file), "--report-dir", str(tmp_path / "r"), "--seed", "5"]) == 0
    suite = ET.parse(tmp_path / "r" / "cli-test.junit.xml").getroot()
    assert suite.get("failures") == "0" and len(list(suite.iter("testcase"))) == 2
    assert (tmp_path / "r" / "cli-test.html").exists() and (tmp_path / "r" / "cli-test.json").exists()
    out = capsys.readouterr().out
    assert "PASS         success_rate" in out and "verdict: PASS: every objective held" in out
    assert envs[0].chaos.active == []


def test_too_little_evidence_is_inconclusive_exit_3_and_repeat_runs_again(tmp_path, scenario_file, envs, capsys):
    """40 requests a window cannot show 99%: neither a pass nor a fail, said as such, run again."""
    scenario_file.write_text(SCENARIO.replace("min: 90%", "min: 99%"))
    report_dir = tmp_path / "r"
    assert cli.main(["gate", str(scenario_file), "--report-dir", str(report_dir), "--repeat", "2"]) == 3
    out = capsys.readouterr().out
    assert "INCONCLUSIVE (run 1 of at most 2, running again): success_rate >= 99%" in out
    assert "verdict: INCONCLUSIVE (run 2 of at most 2): success_rate >= 99% per 400ms window: undecided window" in out
    assert len(envs) == 2 and all(env.chaos.active == [] for env in envs)
    suite = ET.parse(report_dir / "cli-test.junit.xml").getroot()
    assert suite.get("failures") == "0" and suite.get("skipped") == "1"
    (skipped,) = suite.iter("skipped")
    assert skipped.get("message").startswith("inconclusive: measured 100.00% (95% CI 9")
    report = json.loads((report_dir / "cli-test.json").read_text())
    assert report["verdict"] == "inconclusive" and report["runs"]["count"] == 2
    assert report["slos"][0]["interval"][1] == 1.0 and report["harness_lag"]["budget"] == 0.2


def test_gate_fails_for_a_naive_app(tmp_path, scenario_file, envs):
    assert cli.main(["gate", str(scenario_file), "--app", "naive", "--report-dir", str(tmp_path)]) == 1
    suite = ET.parse(tmp_path / "cli-test.junit.xml").getroot()
    (failure,) = suite.iter("failure")
    assert failure.get("message").startswith("measured ") and "vs threshold >= 90.00%" in failure.get("message")


def test_harness_errors_exit_2_with_one_line(tmp_path, scenario_file, monkeypatch, capsys):
    def busy(scenario, *, with_app):
        raise AddressInUseError("DNS server cannot bind 127.20.1.1:53: address already in use")

    monkeypatch.setattr(cli, "open_harness", busy)
    assert cli.main(["gate", str(scenario_file), "--report-dir", str(tmp_path)]) == 2
    assert capsys.readouterr().err == (
        "chaos-harness: error: DNS server cannot bind 127.20.1.1:53: address already in use\n"
    )


def test_ctrl_c_exits_130_with_faults_cleared_and_servers_stopped(tmp_path, scenario_file, envs, capsys):
    scenario_file.write_text(SCENARIO + "  - action: pause_replication\n    at: 0.6s\n")

    def ctrl_c():
        raise KeyboardInterrupt

    original = cli.open_harness

    @contextlib.contextmanager
    def interrupted(scenario, *, with_app):
        with original(scenario, with_app=with_app) as env:
            env.dynamodb.replication.pause = ctrl_c
            yield env

    cli.open_harness = interrupted
    assert cli.main(["drill", str(scenario_file), "--report-dir", str(tmp_path)]) == 130
    env = envs[0]
    assert env.chaos.active == [] and not env.dns.faults.active and env.chaos.history
    assert env.app._server is None  # the app's server was stopped
    assert "interrupted" in capsys.readouterr().err


def test_run_needs_a_command(capsys):
    assert cli.main(["run"]) == 2
    assert "run needs a command after --" in capsys.readouterr().err
