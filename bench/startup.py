"""Start-up, reset and per-test overhead of the harness, each the median of several rounds.

    .venv/bin/python bench/startup.py [--rounds 5] [--tests 200] [--json]

Prints (goal beside each figure; goals are read by people, never asserted):

* ``chaos-harness up`` until it prints "harness is up" (a fresh process each round, so the
  figure includes the interpreter and every import, as a user sees it);
* ``Harness(HarnessConfig()).start()`` in-process, after imports (a fresh process each round);
* ``import harness.environment`` in a fresh interpreter;
* ``Harness.reset()`` with the sample app (one harness, many resets);
* the pytest plugin's per-test overhead: one pytest run of N trivial tests using ``chaos`` and one
  of N trivial tests without it, both in the same round, as a difference per test.

The load average is printed before and after, since the machine may be shared.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import textwrap
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
VENV_BIN = Path(sys.executable).parent


def load_average() -> str:
    return " ".join(f"{x:.2f}" for x in os.getloadavg()) + f" on {os.cpu_count()} CPUs"


def time_up() -> float:
    """Seconds from spawning ``chaos-harness up`` until its "harness is up" line."""
    from dns_bench import stopped_at_exit  # same directory: stops the process however this ends

    exe = VENV_BIN / "chaos-harness"
    command = [str(exe)] if exe.exists() else [sys.executable, "-m", "harness.cli"]
    start = time.perf_counter()
    proc = subprocess.Popen([*command, "up"], stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                            stderr=subprocess.DEVNULL, text=True, cwd=ROOT)
    with stopped_at_exit(proc):
        assert proc.stdout is not None
        for line in proc.stdout:
            if line.startswith("harness is up"):
                return time.perf_counter() - start
        raise SystemExit(f"chaos-harness up exited with {proc.wait()} before saying it was up")


_IN_PROCESS = textwrap.dedent("""
    import json, sys, time
    t0 = time.perf_counter()
    from harness.environment import Harness, HarnessConfig
    t1 = time.perf_counter()
    harness = Harness(HarnessConfig())
    harness.start()
    t2 = time.perf_counter()
    harness.stop()
    print(json.dumps({"import": t1 - t0, "start": t2 - t1}))
""")

_IMPORT_ONLY = textwrap.dedent("""
    import json, time
    t0 = time.perf_counter()
    import harness.environment
    print(json.dumps({"import": time.perf_counter() - t0}))
""")


def run_json(code: str) -> dict[str, float]:
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, check=True).stdout
    return json.loads(out.strip().splitlines()[-1])


def time_resets(rounds: int) -> list[float]:
    from harness.environment import Harness, HarnessConfig

    with Harness(HarnessConfig()) as harness:
        harness.reset()  # the first reset may pay for lazy work the others do not
        samples = []
        for _ in range(rounds):
            start = time.perf_counter()
            harness.reset()
            samples.append(time.perf_counter() - start)
    return samples


_PLUGIN_TESTS = """
import pytest

@pytest.mark.parametrize("i", range({n}))
def test_chaos(chaos, i):
    assert chaos is not None

@pytest.mark.parametrize("i", range({n}))
def test_plain(i):
    assert i >= 0
"""

_TIMING_CONFTEST = """
import json, os, time
import pytest

_times = []

@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_protocol(item, nextitem):
    start = time.perf_counter()
    yield
    _times.append(time.perf_counter() - start)

def pytest_sessionfinish(session):
    with open(os.environ["BENCH_TIMES"], "w") as out:
        json.dump(_times, out)
"""


def plugin_overhead(directory: Path, n: int) -> tuple[float, float]:
    """Mean seconds per test (with ``chaos``, without) from two pytest runs in a row.

    Each test is timed around its whole run protocol (setup, call, teardown, reporting), so the
    plugin's reset before and fault clearing after each test count. The first test of each run
    is dropped: in the ``with`` run it starts the harness, which is start-up, not per-test cost.
    """
    def durations(selector: str) -> list[float]:
        times = directory / f"times-{selector}.json"
        subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-k", selector,
                        str(directory / "test_overhead.py")],
                       capture_output=True, text=True, cwd=directory, check=True,
                       env={**os.environ, "BENCH_TIMES": str(times)})
        return json.loads(times.read_text())[1:]

    with_chaos, without = durations("test_chaos"), durations("test_plain")
    return sum(with_chaos) / len(with_chaos), sum(without) / len(without)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--tests", type=int, default=200, help="trivial tests per side for the plugin overhead")
    parser.add_argument("--json", action="store_true", help="print one JSON object instead of a table")
    args = parser.parse_args()
    sys.path.insert(0, str(ROOT))

    before = load_average()
    up = [time_up() for _ in range(args.rounds)]
    in_process = [run_json(_IN_PROCESS) for _ in range(args.rounds)]
    imports = [run_json(_IMPORT_ONLY)["import"] for _ in range(args.rounds)]
    resets = time_resets(max(args.rounds, 10))
    with tempfile.TemporaryDirectory() as tmp:
        directory = Path(tmp)
        (directory / "test_overhead.py").write_text(_PLUGIN_TESTS.format(n=args.tests))
        (directory / "conftest.py").write_text(_TIMING_CONFTEST)
        pairs = [plugin_overhead(directory, args.tests) for _ in range(args.rounds)]
    after = load_average()

    figures = {
        "up_s": statistics.median(up),
        "start_s": statistics.median(r["start"] for r in in_process),
        "import_s": statistics.median(imports),
        "reset_ms": statistics.median(resets) * 1e3,
        "per_test_with_ms": statistics.median(w for w, _ in pairs) * 1e3,
        "per_test_without_ms": statistics.median(o for _, o in pairs) * 1e3,
        "per_test_overhead_ms": statistics.median(w - o for w, o in pairs) * 1e3,
        "rounds": args.rounds,
        "load_before": before,
        "load_after": after,
    }
    if args.json:
        print(json.dumps(figures))
        return 0
    print(f"load average before: {before}")
    print(f"chaos-harness up until 'harness is up': median {figures['up_s']:.2f} s of {args.rounds} "
          f"({_spread(up, 's')}); goal <= 1.0 s")
    print(f"Harness(HarnessConfig()).start() after imports: median {figures['start_s']:.2f} s "
          f"({_spread([r['start'] for r in in_process], 's')}); goal <= 0.3 s")
    print(f"import harness.environment (fresh interpreter): median {figures['import_s']:.2f} s "
          f"({_spread(imports, 's')}); goal <= 0.3 s")
    print(f"Harness.reset() with the sample app: median {figures['reset_ms']:.1f} ms of {len(resets)} "
          f"({_spread([r * 1e3 for r in resets], 'ms')}); goal <= 20 ms")
    print(f"plugin per-test: with chaos {figures['per_test_with_ms']:.2f} ms, without "
          f"{figures['per_test_without_ms']:.2f} ms, overhead median {figures['per_test_overhead_ms']:.2f} ms "
          f"({args.tests} tests a side, {args.rounds} rounds); goal <= 2 ms")
    print(f"load average after: {after}")
    return 0


def _spread(values: list[float], unit: str) -> str:
    return f"min {min(values):.3g}, max {max(values):.3g} {unit}"


if __name__ == "__main__":
    sys.exit(main())
