"""docs/ci-gate.md's "Gating your own app" walk-through, run exactly as written so it cannot drift."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

from node_example import installed_example

DOC = Path(__file__).resolve().parent.parent / "docs" / "ci-gate.md"
CLI = [sys.executable, "-c", "import sys; from harness.cli import main; sys.exit(main(sys.argv[1:]))"]


def snippet(name: str) -> str:
    text = DOC.read_text(encoding="utf-8")
    match = re.search(rf"<!-- snippet: {re.escape(name)}\b.*?-->\s*```yaml\n(.*?)```", text, re.S)
    assert match, f"no yaml block after '<!-- snippet: {name}' in {DOC}"
    return match.group(1)


def test_the_documented_scenario_gates_the_node_app(tmp_path: Path) -> None:
    example = installed_example()
    # The doc puts the file next to the app (cwd: .): give it the app's files in a scratch directory.
    for name in ("server.js", "package.json", "node_modules"):
        (tmp_path / name).symlink_to(example / name)
    scenario = tmp_path / "gate.yaml"
    scenario.write_text(snippet("gate-own-app"))
    reports = tmp_path / "reports"

    validated = subprocess.run([*CLI, "validate", str(scenario)], capture_output=True, text=True, timeout=60)
    assert validated.returncode == 0, validated.stderr
    done = subprocess.run([*CLI, "gate", str(scenario), "--report-dir", str(reports)],
                          capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stdout + done.stderr
    report = json.loads((reports / "gate.json").read_text())
    measured = {s["kind"]: s["measured"] for s in report["slos"]}
    assert measured["lost_writes"] == 0 and measured["time_to_failover"] is not None
    assert report["audit"]["checked"] > 0 and (reports / "gate.junit.xml").is_file()
