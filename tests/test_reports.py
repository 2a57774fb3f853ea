"""Report writers: JUnit parsed back, JSON round trip, HTML self-contained with the chart."""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET

import pytest

from harness.drill.records import FaultWindow, RequestRecord, WriteAudit
from harness.drill.runner import DrillResult
from harness.drill.slo import evaluate
from harness.report import drill_report, render_html, render_junit, write_reports
from harness.scenario import parse_scenario

SCENARIO = """\
title: report test <&>
time_scale: 600
clock: "23:30"
load: {duration: 1h, rps: 10}
steady_state:
  - success_rate: {min: 95%, window: 1s, min_requests: 3}
  - p99_latency: {max: 200ms}
  - lost_writes: 0
method:
  - fault: dns.empty_answer
    window: "23:40-23:50"
    note: record empty
"""


@pytest.fixture
def report():
    sc = parse_scenario(SCENARIO, "rep.yaml")
    records = [RequestRecord(i, i / 10, "validate", "u", 503 if 10 <= i < 20 else 200, 0.05, not 10 <= i < 20,
                             "us-west-2" if i >= 20 else "us-east-1") for i in range(60)]
    windows = [FaultWindow("dns.empty_answer", 1.0, 2.0, {}, 0, "record empty")]
    audit = WriteAudit(checked=4, lost=("abc",))
    result = DrillResult(sc, "http://127.0.0.1:1", "2025-10-20T06:48:00+00:00", "2025-10-20T06:48:07+00:00",
                         records=records, windows=windows, audit=audit)
    result.slos = evaluate(sc.steady_state, records, windows, audit, sc.wall_duration)
    return drill_report(result)


def test_junit_has_one_case_per_slo_with_measured_vs_threshold(report):
    suite = ET.fromstring(render_junit(report))
    assert suite.tag == "testsuite" and suite.get("tests") == "3" and suite.get("failures") == "2"
    cases = {c.get("name"): c for c in suite.iter("testcase")}
    assert set(cases) == {"success_rate >= 95% per 1s window", "p99_latency <= 200ms", "lost_writes <= 0"}
    failure = cases["success_rate >= 95% per 1s window"].find("failure")
    assert failure.get("message") == "measured 0.00% (95% CI 0.00%-27.75%) vs threshold >= 95.00%"
    assert cases["lost_writes <= 0"].find("failure").get("message") == "measured 1 vs threshold <= 0"
    assert cases["p99_latency <= 200ms"].find("failure") is None


def test_junit_reports_a_harness_error_as_an_error_case(report):
    report["error"] = "the app at http://127.0.0.1:1 did not create drill user x"
    suite = ET.fromstring(render_junit(report))
    assert suite.get("errors") == "1"
    (error,) = suite.iter("error")
    assert error.get("message") == report["error"]


def test_json_is_complete_and_round_trips(tmp_path, report):
    paths = write_reports(report, tmp_path / "out")
    data = json.loads(paths["json"].read_text())
    assert data == json.loads(json.dumps(report))
    assert data["scenario"]["seed"] == 0 and data["passed"] is False
    assert {s["kind"]: s["measured"] for s in data["slos"]}["lost_writes"] == 1
    assert data["faults"][0]["start"] == 1.0 and data["method"][0]["scenario_at"] == 600.0
    assert len(data["series"]["points"]) == 12  # 6 s in 0.5 s buckets
    assert [(e["kind"], e["t"]) for e in data["events"]] == [("outage", 1.0), ("region", 2.0), ("recovery", 2.05)]
    assert data["requests"]["by_region"] == {"us-east-1": 10, "us-west-2": 40}
    assert paths["junit"].name == "rep.junit.xml" and paths["html"].exists()


def test_html_is_self_contained_and_escaped(report):
    page = render_html(report)
    assert "<svg" in page and "<style>" in page
    assert "<script" not in page and "<link" not in page and "src=" not in page
    assert "http://" not in page.replace('xmlns="http://www.w3.org/2000/svg"', "").replace("http://127.0.0.1:1", "")
    assert "report test &lt;&amp;&gt;" in page and "report test <&>" not in page
    assert "record empty" in page and "FAILED" in page
    assert "23:40" in page  # outage clock under the drill-time axis


def test_unwritable_report_dir_is_a_one_line_error(tmp_path, report):
    blocker = tmp_path / "file"
    blocker.write_text("x")
    from harness.errors import HarnessError

    with pytest.raises(HarnessError, match="cannot write reports to"):
        write_reports(report, blocker / "sub")
