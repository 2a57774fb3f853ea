"""Benchmark: what reaching DynamoDB by name through DNS and an endpoint node adds per call.

Side by side in one run, on one table, with boto3 GetItem calls:
  direct   - client -> region front server (keep-alive)           : the moto floor
  by name  - client -> harness DNS -> node proxy -> front server   : what tests and drills use
  new conn - by name, but a fresh connection (and DNS lookup) per call
Rounds alternate between the paths so machine noise hits both alike. Prints median and p95
per-call latency and the added cost of the name path over direct.

Run: .venv/bin/python bench/dynamodb_bench.py [--calls 500] [--rounds 5]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT), str(ROOT / "tests")]  # NetworkedRegions is test set-up, kept in tests/

from regions_fixtures import NetworkedRegions  # noqa: E402

KEY = {"pk": {"S": "bench"}}


def timed_calls(call, n: int) -> list[float]:
    samples = []
    for _ in range(n):
        start = time.perf_counter()
        call()
        samples.append(time.perf_counter() - start)
    return samples


def p95(samples: list[float]) -> float:
    return sorted(samples)[int(len(samples) * 0.95) - 1]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=int, default=500, help="calls per path per round")
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()

    with NetworkedRegions(regions=["us-east-1"]) as harness:
        harness.dynamodb.create_tables([{"name": "bench"}])
        region = harness.dynamodb.primary
        config = dict(retries={"mode": "standard", "total_max_attempts": 1}, max_pool_connections=1)
        direct = region.client(direct=True, **config)
        by_name = region.client(**config)
        by_name.put_item(TableName="bench", Item={**KEY, "v": {"S": "x" * 100}})

        def fresh_connection() -> None:
            by_name._endpoint.http_session.close()  # drop pooled connections: next call resolves + connects
            by_name.get_item(TableName="bench", Key=KEY)

        paths = {
            "direct": lambda: direct.get_item(TableName="bench", Key=KEY),
            "by name": lambda: by_name.get_item(TableName="bench", Key=KEY),
            "new conn": fresh_connection,
        }
        for call in paths.values():
            timed_calls(call, 50)  # warm-up: models loaded, pools filled
        samples: dict[str, list[float]] = {name: [] for name in paths}
        for _ in range(args.rounds):
            for name, call in paths.items():
                calls = args.calls if name != "new conn" else max(args.calls // 5, 20)
                samples[name] += timed_calls(call, calls)

    floor = statistics.median(samples["direct"])
    print(f"DynamoDB GetItem per call ({args.rounds} rounds, {args.calls} calls per path per round)")
    print(f"{'path':<10} {'median ms':>10} {'p95 ms':>8} {'added vs direct ms':>19}")
    for name, values in samples.items():
        median = statistics.median(values)
        print(f"{name:<10} {median * 1e3:>10.3f} {p95(values) * 1e3:>8.3f} {(median - floor) * 1e3:>19.3f}")


if __name__ == "__main__":
    main()
