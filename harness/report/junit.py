"""JUnit XML for CI: one test case per steady-state objective, failures say measured vs threshold.

CI systems (GitHub Actions test reporters, GitLab, Jenkins) show each objective as a test, so a
failed gate reads "success_rate >= 99% per 1s window: measured 41.30% vs threshold >= 99.00%".
A harness error or an interrupted run adds a test case with an ``<error>``.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any

from harness.report.fmt import verdict


def render_junit(report: dict[str, Any]) -> str:
    sc = report["scenario"]
    slos = report["slos"]
    problem = report["error"] or ("interrupted (Ctrl-C)" if report["interrupted"] else None)
    failures = sum(r["verdict"] == "fail" for r in slos)
    skipped = sum(r["verdict"] == "inconclusive" for r in slos)
    suite = ET.Element("testsuite", {
        "name": f"chaos-harness.{sc['name']}",
        "tests": str(len(slos) + (1 if problem else 0)),
        "failures": str(failures),
        "errors": str(1 if problem else 0),
        "skipped": str(skipped),
        "time": f"{sc['wall_duration']:.3f}",
        "timestamp": report["started_at"],
    })
    props = ET.SubElement(suite, "properties")
    lag = report.get("harness_lag") or {}
    for name, val in (("seed", sc["seed"]), ("app", sc["app"].get("label", sc["app"].get("profile"))), ("time_scale", sc["time_scale"]),
                      ("scenario_file", sc["path"]), ("verdict", report["verdict"]), ("reason", report["reason"]),
                      ("harness_max_lag_ms", round(lag.get("max_lag", 0) * 1000)),
                      ("harness_disturbed_requests", lag.get("disturbed_requests", 0))):
        ET.SubElement(props, "property", {"name": name, "value": str(val)})
    classname = f"chaos-harness.{sc['name']}"
    for result in slos:
        case = ET.SubElement(suite, "testcase", {"classname": classname, "name": result["name"],
                                                 "time": f"{sc['wall_duration']:.3f}"})
        if result["verdict"] == "fail":
            failure = ET.SubElement(case, "failure", {"message": verdict(result), "type": "SLOViolation"})
            failure.text = f"{verdict(result)}\n{result['detail']}\n(objective at {result['where']})"
        elif result["verdict"] == "inconclusive":  # not enough evidence either way: neither pass nor fail
            ET.SubElement(case, "skipped", {"message": f"inconclusive: {verdict(result)}; {result['detail']}"})
        else:
            ET.SubElement(case, "system-out").text = f"{verdict(result)}; {result['detail']}"
    if problem:
        case = ET.SubElement(suite, "testcase", {"classname": classname, "name": "drill", "time": "0"})
        ET.SubElement(case, "error", {"message": problem, "type": "HarnessError"}).text = problem
    ET.indent(suite)
    return ET.tostring(suite, encoding="unicode", xml_declaration=True) + "\n"


def write_junit(report: dict[str, Any], path: Path) -> Path:
    path.write_text(render_junit(report), encoding="utf-8")
    return path
