"""Run every benchmark one after another (never in parallel: they would skew each other) and print
the speed table of issue 14: every figure of this round beside its goal.

    .venv/bin/python bench/run_all.py [--rounds 3] [--suite] [--no-drill]

Each benchmark measures both sides of its comparisons in the same run, over several rounds, and
reports medians and the load average (the machine may be shared; read figures next to it).
``--suite`` also times ``make test`` (minutes; off by default) and prints the CPU it used: divided by
the cores, that is the shortest it could take on this machine however the tests were spread. The
exit code is non-zero only when a benchmark could not run, never because a figure missed its goal:
goals are read by people, not asserted.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent


def load_average() -> str:
    return f"{' '.join(f'{x:.2f}' for x in os.getloadavg())} on {os.cpu_count()} CPUs"


def run_json(script: str, *args: str) -> dict:
    done = subprocess.run([sys.executable, str(HERE / script), "--json", *args], capture_output=True, text=True,
                          cwd=ROOT)
    if done.returncode != 0 or not done.stdout.strip():
        raise RuntimeError(f"{script} failed: {done.stderr.strip()[-500:]}")
    line = done.stdout.strip().splitlines()[-1]
    if line.startswith("SKIP"):
        raise RuntimeError(line)
    return json.loads(line)


def children_cpu() -> float:
    """CPU seconds (user + system) of every finished child process and its descendants so far."""
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def time_command(command: list[str], timeout: float) -> tuple[float, int]:
    start = time.perf_counter()
    code = subprocess.run(command, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                          timeout=timeout).returncode
    return time.perf_counter() - start, code


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=3, help="rounds per benchmark (medians are printed)")
    parser.add_argument("--suite", action="store_true", help="also time the project's own test suite (minutes)")
    parser.add_argument("--no-drill", action="store_true", help="skip timing the 2025 replay drill (~40 s)")
    args = parser.parse_args()
    rounds = str(args.rounds)
    before = load_average()
    print(f"load average at the start: {before}", flush=True)

    rows: list[tuple[str, str, str]] = []
    failed: list[str] = []

    def attempt(name: str, call):  # type: ignore[no-untyped-def]
        print(f"== {name}", flush=True)
        try:
            return call()
        except Exception as exc:  # one benchmark failing must not hide the others
            print(f"   could not run: {exc}", flush=True)
            failed.append(name)
            return None

    startup = attempt("startup.py", lambda: run_json("startup.py", "--rounds", rounds))
    if startup:
        rows += [
            ("`chaos-harness up` until \"harness is up\"", f"{startup['up_s']:.2f} s", "<= 1.0 s"),
            ("`Harness(HarnessConfig()).start()` after imports",
             f"{startup['start_s']:.2f} s (+ {startup['import_s']:.2f} s import)", "start <= 0.3 s, import <= 0.3 s"),
            ("`Harness.reset()` with the sample app", f"{startup['reset_ms']:.2f} ms", "<= 20 ms"),
            ("plugin per-test overhead (`chaos` vs none)",
             f"{startup['per_test_overhead_ms']:.2f} ms ({startup['per_test_with_ms']:.2f} vs "
             f"{startup['per_test_without_ms']:.2f} ms)", "<= 2 ms"),
        ]
    dns = attempt("dns_bench.py", lambda: run_json("dns_bench.py", "--rounds", rounds))
    if dns:
        h, u, m = dns["harness"], dns["up"], dns["dnsmasq"]
        rows += [
            ("DNS qps vs dnsmasq (dnsperf)", f"{h['qps_ratio']:.2f}x ({h['qps']:.0f} vs {m['qps']:.0f}); "
             f"`up` {u['qps_ratio']:.2f}x ({u['qps']:.0f})", ">= 0.6x in both"),
            ("DNS avg latency at 1,000 qps vs dnsmasq", f"{h['latency_ratio']:.2f}x ({h['avg_ms_1000']:.3f} vs "
             f"{m['avg_ms_1000']:.3f} ms); `up` {u['latency_ratio']:.2f}x ({u['avg_ms_1000']:.3f} ms)",
             "<= 1.5x in both"),
        ]
    repeats = str(max(args.rounds, 3))
    proxy = attempt("proxy_bench.py", lambda: run_json("proxy_bench.py", "--repeats", repeats))
    apart = attempt("proxy_bench.py --own-process",
                    lambda: run_json("proxy_bench.py", "--repeats", repeats, "--own-process"))
    if proxy and apart:
        rows += [
            ("proxy bulk 64 MiB vs direct", f"{proxy['bulk_ratio']:.2f}x ({proxy['proxy_mib_s']:.0f} vs "
             f"{proxy['direct_mib_s']:.0f} MiB/s); proxy in its own process {apart['bulk_ratio']:.2f}x", ">= 0.8x"),
            ("proxy added per small round trip", f"+{proxy['added_us']:.0f} us ({proxy['proxy_rt_us']:.0f} vs "
             f"{proxy['direct_rt_us']:.0f} us); own process +{apart['added_us']:.0f} us", "<= 50 us"),
        ]
    for script in ("dynamodb_bench.py", "hostile_dns.py", "soak.py"):  # figures of their own, printed as they run
        print(f"== {script}", flush=True)
        if subprocess.call([sys.executable, str(HERE / script)], cwd=ROOT) != 0:
            failed.append(script)

    if args.suite:
        def suite() -> str:
            before_cpu = children_cpu()
            seconds, code = time_command(["make", "test"], 1800)
            cpu = children_cpu() - before_cpu
            cores = os.cpu_count() or 1
            return (f"{seconds / 60:.1f} min ({'passed' if code == 0 else f'exit {code}'}); it used {cpu:.0f} s of "
                    f"CPU, so {cpu / cores / 60:.1f} min with all {cores} cores busy the whole time")
        figure = attempt("make test", suite)
        rows.append(("`make test` on 2 cores", figure or "could not run", "<= 2.5 min"))
    else:
        rows.append(("`make test` on 2 cores", "not timed (run with --suite: takes minutes)", "<= 2.5 min"))
    if not args.no_drill:
        def drill() -> str:
            exe = Path(sys.executable).with_name("chaos-harness")
            with tempfile.TemporaryDirectory() as reports:
                seconds, code = time_command([str(exe), "drill", "us-east-1-2025-10-20", "--report-dir", reports], 300)
            return f"{seconds:.1f} s (exit {code})"
        figure = attempt("2025 replay drill", drill)
        rows.append(("2025 replay drill", figure or "could not run", "keep <= 45 s"))

    print()
    print(f"load average: {before} at the start, {load_average()} at the end")
    width = max(len(r[0]) for r in rows)
    figure_width = max(len(r[1]) for r in rows)
    print(f"{'figure':<{width}} | {'this round':<{figure_width}} | goal")
    print(f"{'-' * width}-|-{'-' * figure_width}-|-----")
    for name, figure, goal in rows:
        print(f"{name:<{width}} | {figure:<{figure_width}} | {goal}")
    if failed:
        print(f"could not run: {', '.join(failed)}", file=sys.stderr)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
