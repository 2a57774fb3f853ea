"""Benchmark: how long a hostile DNS query holds the harness's event loop, next to a normal query.

Issue 12: a 10.8 KB query made of backward compression pointers took 6.5 s to answer and kept the
embedded Toxiproxy API (same loop) silent for 3.4 s. This sends such queries (10.8 KB, 4.8 KB,
4 KB) and a normal one, each followed at once by ``GET /version`` to the Toxiproxy API on the same
loop, and prints the worst time to the DNS reply and to the API reply for both. The target is a
reply (or a drop) within 50 ms while the API keeps answering.

Run: .venv/bin/python bench/hostile_dns.py [--repeats 50]
"""

from __future__ import annotations

import argparse
import http.client
import socket
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))

from dnslib import DNSRecord  # noqa: E402

from harness.dns import DnsServer, Topology  # noqa: E402
from harness.loop_thread import LoopThread  # noqa: E402
from harness.toxiproxy.server import EmbeddedToxiproxy  # noqa: E402
from hostile import pointer_chain  # noqa: E402  (the query of issue 12, shared with the tests)

NAME = "dynamodb.us-east-1.amazonaws.com"


def worst_times(dns: DnsServer, api: EmbeddedToxiproxy, packet: bytes, repeats: int) -> tuple[float, float]:
    """Worst seconds to the DNS reply and to the API reply, the API asked right after the query."""
    worst_dns = worst_api = 0.0
    for _ in range(repeats):
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
            sock.settimeout(30)
            start = time.perf_counter()
            sock.sendto(packet, dns.address)
            conn = http.client.HTTPConnection(api.host, api.port, timeout=30)
            conn.request("GET", "/version")
            conn.getresponse().read()
            conn.close()
            worst_api = max(worst_api, time.perf_counter() - start)
            sock.recv(65535)
            worst_dns = max(worst_dns, time.perf_counter() - start)
    return worst_dns, worst_api


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=50)
    args = parser.parse_args()
    topology = Topology()
    topology.set(NAME, ["127.0.0.10"], ttl=5)
    loop = LoopThread("bench-hostile-dns").start()
    try:
        with DnsServer(topology, "127.0.0.1", loop=loop) as dns, EmbeddedToxiproxy("127.0.0.1", loop=loop) as api:
            cases = [("normal query", DNSRecord.question(NAME).pack())]
            cases += [(f"{size / 1000:.1f} KB pointer chain", pointer_chain(size)) for size in (10_800, 4_800, 4_000)]
            print(f"{'query':24} {'worst DNS reply':>16} {'worst API reply':>16}   (of {args.repeats}; target <= 50 ms)")
            for label, packet in cases:
                dns_time, api_time = worst_times(dns, api, packet, args.repeats)
                print(f"{label:24} {dns_time * 1000:>13.1f} ms {api_time * 1000:>13.1f} ms")
    finally:
        loop.close()


if __name__ == "__main__":
    main()
