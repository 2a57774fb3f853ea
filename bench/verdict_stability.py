"""Does a gate give the same verdict every time? Run it N times per app and count.

    .venv/bin/python bench/verdict_stability.py                       # every built-in, 20 runs each
    .venv/bin/python bench/verdict_stability.py --runs 5 --hog us-east-1-2025-10-20

Each run is ``chaos-harness gate SCENARIO --app APP`` in a fresh process, as CI runs it. With
``--hog`` a process keeps one core busy beside the gates for the whole benchmark, like a shared CI
runner. Prints, per scenario and app: PASS / FAIL / INCONCLUSIVE counts, the acknowledged writes
lost across all runs, the spread (min..max) of every objective's measured value, and the load
average before and after. The goal (issue 10): the resilient app never FAILs (at most 2 of 20
INCONCLUSIVE), the naive app FAILs every time, no acknowledged write is ever lost.

A benchmark, not a test: it takes a while (about 20 s per run for most scenarios, 40 s for the
2025 replays) and prints figures instead of asserting them.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from collections import Counter, defaultdict
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from harness.report.fmt import value  # noqa: E402
from harness.scenario import builtin_scenarios  # noqa: E402

VERDICT_BY_EXIT = {0: "pass", 1: "fail", 3: "inconclusive"}


def gate_command() -> list[str]:
    script = Path(sys.executable).with_name("chaos-harness")
    return [str(script)] if script.exists() else [sys.executable, "-m", "harness.cli"]


def run_gate(name: str, app: str, report_dir: Path) -> dict:
    """One gate run: its verdict, objectives and audit, or the error it ended with."""
    started = time.monotonic()
    done = subprocess.run([*gate_command(), "gate", name, "--app", app, "--report-dir", str(report_dir)],
                          capture_output=True, text=True, timeout=600)
    wall = time.monotonic() - started
    verdict = VERDICT_BY_EXIT.get(done.returncode, "error")
    report_path = report_dir / f"{name}.json"
    if verdict == "error" or not report_path.exists():
        return {"verdict": "error", "wall": wall, "detail": (done.stderr or done.stdout).strip()[-300:]}
    report = json.loads(report_path.read_text())
    lost = report["audit"]["lost"]
    for session in lost:  # a lost acknowledged write is never noise: show its whole history
        history = [f"{r['t']:.2f}s {r['op']} {r['status']} {r['region']} {r.get('error') or ''}".strip()
                   for r in report["log"] if r.get("session") == session]
        print(f"    LOST {session}: " + " | ".join(history), flush=True)
    return {"verdict": verdict, "wall": wall, "slos": report["slos"], "lost": len(lost),
            "reason": report.get("reason", ""), "lag": report.get("harness_lag") or {}}


def spread(runs: list[dict]) -> dict[str, str]:
    """Per objective: min..max of the measured values over the runs that measured it."""
    values: dict[str, list[float]] = defaultdict(list)
    kinds: dict[str, str] = {}
    for run in runs:
        for slo in run.get("slos", []):
            kinds[slo["name"]] = slo["kind"]
            if slo["measured"] is not None:
                values[slo["name"]].append(slo["measured"])
    return {name: (f"{value(kinds[name], min(v))}..{value(kinds[name], max(v))}" if v else "n/a")
            for name, v in ((n, values.get(n, [])) for n in kinds)}


def start_hog() -> subprocess.Popen:
    """One core kept busy, as by another job on a shared runner (ends with the benchmark)."""
    return subprocess.Popen([sys.executable, "-c", "while True: pass"])


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("scenarios", nargs="*", help="built-in names (default: every built-in scenario)")
    parser.add_argument("--runs", type=int, default=20, help="gate runs per scenario and app (default 20)")
    parser.add_argument("--apps", nargs="+", default=["resilient", "naive"], choices=["resilient", "naive"])
    parser.add_argument("--hog", action="store_true", help="keep one core busy beside the gates")
    args = parser.parse_args(argv)
    names = args.scenarios or sorted(builtin_scenarios())
    hog = start_hog() if args.hog else None
    print(f"verdict stability: {args.runs} runs per scenario and app; CPU hog on one core: {'yes' if hog else 'no'}; "
          f"{os.cpu_count()} cores; load average before {os.getloadavg()[0]:.2f}", flush=True)
    rows = []
    try:
        with tempfile.TemporaryDirectory(prefix="verdict-stability-") as tmp:
            for name in names:
                for app in args.apps:
                    runs = []
                    for i in range(args.runs):
                        runs.append(run_gate(name, app, Path(tmp) / f"{name}-{app}-{i}"))
                        last = runs[-1]
                        lag = last.get("lag") or {}
                        print(f"  {name} {app} run {i + 1}: {last['verdict'].upper()} ({last['wall']:.0f}s, "
                              f"load {os.getloadavg()[0]:.1f}, pace {lag.get('pace', 1):.2f}, "
                              f"disturbed {lag.get('disturbed_share', 0):.0%})"
                              + (f" - {last.get('reason') or last.get('detail')}" if last["verdict"] != "pass" else ""),
                              flush=True)
                    rows.append((name, app, runs))
    finally:
        if hog is not None:
            hog.kill()
            hog.wait()
    print(f"\nload average after {os.getloadavg()[0]:.2f}\n")
    print(f"{'scenario':32} {'app':9} {'PASS':>4} {'FAIL':>4} {'INCON':>5} {'ERR':>3} {'lost':>4}  "
          f"{'max lag':>8}  objective spread (min..max)")
    for name, app, runs in rows:
        counts = Counter(r["verdict"] for r in runs)
        lost = sum(r.get("lost", 0) for r in runs)
        max_lag = max((r.get("lag", {}).get("max_lag", 0.0) for r in runs), default=0.0)
        objectives = "; ".join(f"{k}: {v}" for k, v in spread(runs).items())
        print(f"{name:32} {app:9} {counts['pass']:>4} {counts['fail']:>4} {counts['inconclusive']:>5} "
              f"{counts['error']:>3} {lost:>4}  {max_lag * 1000:>6.0f}ms  {objectives}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
