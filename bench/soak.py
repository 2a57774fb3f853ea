"""Soak benchmark: harness start/stop cycles under concurrent clients, printing what each cycle leaves.

Each cycle starts the embedded harness (no app) and its control API, runs ``--clients`` threads that
each make ``--requests`` rounds of: a DNS query to the harness DNS, a DynamoDB ``ListTables`` through
the region's endpoint name (harness DNS -> embedded Toxiproxy proxy -> front -> moto), and a control
API ``GET /v1/state`` with the token; then stops everything and prints the process's threads, open
fds, listening TCP sockets and RSS next to the values before the first cycle. Anything that grows
cycle after cycle is a leak. A benchmark, not a test: it prints numbers and judges nothing.

Run: .venv/bin/python bench/soak.py [--cycles 5] [--clients 8] [--requests 20]
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import socket
import sys
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from urllib.parse import urlsplit

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from dnslib import DNSRecord  # noqa: E402

from harness.control import ControlServer, RemoteHarness  # noqa: E402
from harness.environment import Harness, HarnessConfig  # noqa: E402

EAST = "dynamodb.us-east-1.amazonaws.com"


def resources() -> dict[str, int]:
    """Threads, open fds, listening TCP sockets of this process, RSS in KiB."""
    inodes = set()
    for fd in os.listdir("/proc/self/fd"):
        try:
            target = os.readlink(f"/proc/self/fd/{fd}")
        except OSError:
            continue
        if target.startswith("socket:["):
            inodes.add(target[8:-1])
    listening = 0
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        with open(table) as rows:
            next(rows)
            listening += sum(1 for row in rows if row.split()[3] == "0A" and row.split()[9] in inodes)
    with open("/proc/self/status") as status:
        rss = next(int(line.split()[1]) for line in status if line.startswith("VmRSS:"))
    return {"threads": threading.active_count(), "fds": len(os.listdir("/proc/self/fd")),
            "listeners": listening, "rss_kib": rss}


def client(env: Harness, control: RemoteHarness, requests: int) -> tuple[int, int]:
    """One client's rounds; (rounds completed, failures)."""
    endpoint = urlsplit(env.dynamodb.regions[0].endpoint_url)
    failures = 0
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as udp:
        udp.settimeout(2)
        for _ in range(requests):
            try:
                udp.sendto(DNSRecord.question(EAST).pack(), env.dns.address)
                if not DNSRecord.parse(udp.recv(4096)).rr:
                    failures += 1
                conn = http.client.HTTPConnection(endpoint.hostname, endpoint.port, timeout=10)
                conn.request("POST", "/", body=b"{}", headers={
                    "X-Amz-Target": "DynamoDB_20120810.ListTables", "Content-Type": "application/x-amz-json-1.0",
                    "Authorization": "AWS4-HMAC-SHA256 Credential=testing/20251020/us-east-1/dynamodb/aws4_request"})
                if "TableNames" not in json.loads(conn.getresponse().read()):
                    failures += 1
                conn.close()
                control.state()
            except (OSError, ValueError, http.client.HTTPException):
                failures += 1
    return requests, failures


def cycle(clients: int, requests: int, token_dir: Path) -> tuple[int, int, float]:
    started = time.monotonic()
    with Harness(HarnessConfig(app_profile=None)) as env, \
            ControlServer(env, token_file=token_dir / "soak.token") as server:
        control = RemoteHarness(server.url, token=server.token)
        with ThreadPoolExecutor(clients, thread_name_prefix="soak-client") as pool:
            results = list(pool.map(lambda _: client(env, control, requests), range(clients)))
    return sum(r for r, _ in results), sum(f for _, f in results), time.monotonic() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cycles", type=int, default=5)
    parser.add_argument("--clients", type=int, default=8)
    parser.add_argument("--requests", type=int, default=20, help="rounds per client per cycle")
    args = parser.parse_args()
    before = resources()
    print(f"before: threads {before['threads']}, fds {before['fds']}, listeners {before['listeners']}, "
          f"RSS {before['rss_kib'] / 1024:.1f} MiB")
    print(f"{'cycle':>5} {'rounds':>7} {'failed':>6} {'secs':>6} {'threads':>8} {'fds':>5} {'listen':>6} {'RSS MiB':>8}"
          f"  {'(vs before: threads fds listeners RSS)'}")
    with tempfile.TemporaryDirectory() as tmp:
        for number in range(1, args.cycles + 1):
            rounds, failed, seconds = cycle(args.clients, args.requests, Path(tmp))
            now = resources()
            print(f"{number:>5} {rounds:>7} {failed:>6} {seconds:>6.1f} {now['threads']:>8} {now['fds']:>5} "
                  f"{now['listeners']:>6} {now['rss_kib'] / 1024:>8.1f}  "
                  f"({now['threads'] - before['threads']:+d} {now['fds'] - before['fds']:+d} "
                  f"{now['listeners'] - before['listeners']:+d} {(now['rss_kib'] - before['rss_kib']) / 1024:+.1f} MiB)",
                  flush=True)


if __name__ == "__main__":
    main()
