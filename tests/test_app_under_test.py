"""Any app as data: the harness starts a command in its sandbox, sends the described traffic, audits writes.

The app here is ``tests/apps/kv_app.py`` (a stdlib HTTP server using boto3), standing in for a
team's own service: it learns its endpoint only from the variables the harness exports.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from harness_dns_env import require_namespaces

APPS = Path(__file__).resolve().parent / "apps"
CLI = [sys.executable, "-c", "import sys; from harness.cli import main; sys.exit(main(sys.argv[1:]))"]

APP = f"""\
app:
  command: [{sys.executable}, {APPS / 'kv_app.py'}]
  port: 9000
  replicas: 1
  ready: {{http: /healthz, timeout: 30s}}
  tables:
    - {{TableName: kv, KeySchema: [{{AttributeName: id, KeyType: HASH}}],
       AttributeDefinitions: [{{AttributeName: id, AttributeType: S}}], BillingMode: PAY_PER_REQUEST}}
"""
TRAFFIC = """\
traffic:
  users: 5
  requests:
    - {name: put, weight: 1, method: POST, path: /items, headers: {Idempotency-Key: "{{id}}"}, json: {value: "{{seq}}"},
       ok: [201]}
    - {name: get, weight: 1, method: GET, path: "/items/{{put.id}}", ok: [200]}
writes:
  requests: [put]
  key: id
  verify:
    request: {path: "/items/{{key}}"}
    table: {name: kv, key: {id: "{{key}}"}}
"""
REST = """\
title: kv app
seed: 3
load: {duration: 2s, rps: 20, workers: 2, request_timeout: 2s}
steady_state:
  - lost_writes: 0
  - duplicate_writes: 0
method: []
"""


def gate(tmp_path: Path, text: str, *extra: str, env: dict[str, str] | None = None) -> tuple[subprocess.CompletedProcess, dict]:
    scenario = tmp_path / "kv.yaml"
    scenario.write_text(text)
    done = subprocess.run([*CLI, "gate", str(scenario), "--report-dir", str(tmp_path), *extra], capture_output=True,
                          text=True, timeout=180, env={**os.environ, **(env or {})})
    report_path = tmp_path / "kv.json"
    return done, json.loads(report_path.read_text()) if report_path.exists() else {}


def test_an_app_started_from_the_scenario_keeps_its_writes(tmp_path: Path) -> None:
    require_namespaces()
    done, report = gate(tmp_path, APP + TRAFFIC + REST)
    assert done.returncode == 0, done.stdout + done.stderr
    audit = report["audit"]
    assert audit["checked"] > 5 and audit["lost"] == [] and audit["unverified"] == []
    assert {r["op"] for r in report["log"]} == {"put", "get", "verify"}
    assert any("kv_app (honest)" in line for line in report["app_output"]["replica-1"])


def test_lost_writes_are_found_for_any_app(tmp_path: Path) -> None:
    require_namespaces()
    text = APP.replace("  replicas: 1\n", "  replicas: 1\n  env: {MODE: forgetful}\n") + TRAFFIC + REST
    done, report = gate(tmp_path, text)
    assert done.returncode == 1, done.stdout + done.stderr
    lost = next(s for s in report["slos"] if s["kind"] == "lost_writes")
    assert lost["measured"] == len(report["audit"]["lost"]) >= 2  # every third acknowledged write
    assert report["audit"]["checked"] >= 3 * len(report["audit"]["lost"]) - 3


def test_python_traffic_entry_point(tmp_path: Path) -> None:
    require_namespaces()
    traffic = TRAFFIC.split("writes:")[0].split("traffic:")[0] + "traffic: {python: kv_traffic:write_then_read, users: 3}\n" \
        + "writes:" + TRAFFIC.split("writes:")[1]
    done, report = gate(tmp_path, APP + traffic + REST, env={"PYTHONPATH": str(APPS)})
    assert done.returncode == 0, done.stdout + done.stderr
    assert report["audit"]["checked"] > 5 and {r["op"] for r in report["log"]} == {"write_then_read", "verify"}


def test_an_app_that_never_gets_ready_is_one_line_exit_2_quoting_its_output(tmp_path: Path) -> None:
    require_namespaces()
    broken = APP.replace(str(APPS / "kv_app.py"), "-c, \"print('cannot open config.toml'); raise SystemExit(3)\"")
    done, _ = gate(tmp_path, broken + TRAFFIC + REST)
    assert done.returncode == 2
    assert done.stderr.count("\n") == 1
    assert "exited with status 3 before it was ready" in done.stderr and "cannot open config.toml" in done.stderr


def test_app_options_that_cannot_work_are_one_line_usage_errors(tmp_path: Path) -> None:
    scenario = tmp_path / "kv.yaml"
    scenario.write_text(APP + TRAFFIC + REST)
    cases = [
        (["--harness-url", "http://127.0.0.1:9"], "runs in the embedded harness only"),
        (["--app-replicas", "0"], "--app-replicas must be 1 to 16, got 0"),
        (["--app-env", "NOEQUALS"], "--app-env takes NAME=VALUE, got 'NOEQUALS'"),
    ]
    for extra, message in cases:
        done = subprocess.run([*CLI, "gate", str(scenario), *extra], capture_output=True, text=True, timeout=60)
        assert done.returncode == 2 and done.stderr.count("\n") == 1 and message in done.stderr, (extra, done.stderr)
    sample = subprocess.run([*CLI, "gate", "dns-empty-answer", "--app-port", "8080"], capture_output=True, text=True,
                            timeout=60)
    assert sample.returncode == 2 and "give both (or an --app-file)" in sample.stderr
