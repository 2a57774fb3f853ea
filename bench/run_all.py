"""Run every benchmark one after another (never in parallel: they would skew each other).

    .venv/bin/python bench/run_all.py

Each benchmark measures both sides of its comparison in the same run and prints the ratio.
The exit code is non-zero only when a benchmark could not run, never because a figure missed
its target: targets are read by people, not asserted.
"""

from __future__ import annotations

import os
import subprocess
import sys

BENCHMARKS = ("dns_bench.py", "proxy_bench.py", "dynamodb_bench.py", "soak.py")


def main() -> int:
    here = os.path.dirname(os.path.abspath(__file__))
    failed = []
    for script in BENCHMARKS:
        print(f"== {script}", flush=True)
        if subprocess.call([sys.executable, os.path.join(here, script)]) != 0:
            failed.append(script)
    if failed:
        print(f"could not run: {', '.join(failed)}", file=sys.stderr)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
