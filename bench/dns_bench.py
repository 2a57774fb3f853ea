"""DNS server speed, side by side with dnsmasq in one run.

    .venv/bin/python bench/dns_bench.py [--seconds 8] [--paced 3000]

Prints, for the harness's DnsServer and for dnsmasq serving the same A record: the throughput
dnsperf reaches (and the ratio; target >= 0.25x dnsmasq), and the latency percentiles of a
paced client at 1,000 queries per second (target p99 < 1 ms). dnsperf 2.10 has no latency
histogram, so the percentiles come from this script's own paced UDP client; dnsperf -Q 1000's
average latency is printed too. Each server runs in its own process so the measuring client
never competes with it for the GIL. Everything started is stopped, even on errors or Ctrl-C.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import re
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from dnslib import DNSRecord  # noqa: E402

from harness.dns.client import query  # noqa: E402
from harness.loopback import LoopbackPool, bind_socket  # noqa: E402

NAME = "dynamodb.us-east-1.amazonaws.com"
ADDRESS = "127.0.0.5"


def serve_harness(host: str) -> None:
    """Child process: run DnsServer, print its port, stop when stdin closes."""
    from harness.dns import DnsServer, Topology

    topology = Topology()
    topology.set(NAME, [ADDRESS])
    with DnsServer(topology, host=host) as server:
        print(server.port, flush=True)
        sys.stdin.read()


def free_port(host: str) -> int:
    """A port free for UDP and TCP on ``host`` right now (dnsmasq needs a number up front)."""
    with bind_socket(host, 0, socket.SOCK_DGRAM, what="bench") as udp:
        port = udp.getsockname()[1]
        bind_socket(host, port, what="bench").close()
        return port


def wait_answering(address: tuple[str, int], deadline_s: float = 10.0) -> None:
    """Block until the server answers a real query (each try waits on the socket, no sleeps)."""
    deadline = time.monotonic() + deadline_s
    while True:
        try:
            if query(address, NAME, timeout=0.2).rr:
                return
        except OSError:
            pass
        if time.monotonic() > deadline:
            raise SystemExit(f"DNS server at {address[0]}:{address[1]} did not answer within {deadline_s:g} s")


@contextlib.contextmanager
def stopped_at_exit(proc: subprocess.Popen) -> Iterator[subprocess.Popen]:
    try:
        yield proc
    finally:
        if proc.poll() is None:
            if proc.stdin:
                proc.stdin.close()
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(10)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()


@contextlib.contextmanager
def harness_server(host: str) -> Iterator[tuple[str, int]]:
    proc = subprocess.Popen([sys.executable, os.path.abspath(__file__), "--serve", host],
                            stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    with stopped_at_exit(proc):
        line = proc.stdout.readline()
        if not line.strip().isdigit():
            raise SystemExit("harness DNS server failed to start")
        address = (host, int(line))
        wait_answering(address)
        yield address


@contextlib.contextmanager
def dnsmasq_server(host: str) -> Iterator[tuple[str, int]]:
    port = free_port(host)
    proc = subprocess.Popen([
        shutil.which("dnsmasq") or "/usr/sbin/dnsmasq", "--keep-in-foreground", "--no-resolv", "--no-hosts",
        "--conf-file=/dev/null", f"--port={port}", f"--listen-address={host}", "--bind-interfaces",
        f"--host-record={NAME},{ADDRESS}", "--user=root", "--pid-file=", "--log-facility=/dev/null",
    ], stdin=subprocess.DEVNULL)
    with stopped_at_exit(proc):
        wait_answering((host, port))
        yield (host, port)


def dnsperf(address: tuple[str, int], seconds: float, extra: list[str]) -> dict[str, float]:
    with tempfile.NamedTemporaryFile("w", suffix=".txt") as data:
        data.write(f"{NAME} A\n")
        data.flush()
        out = subprocess.run(
            ["dnsperf", "-s", address[0], "-p", str(address[1]), "-d", data.name, "-l", str(seconds), *extra],
            capture_output=True, text=True, timeout=seconds + 30,
        ).stdout
    qps = re.search(r"Queries per second:\s+([\d.]+)", out)
    lost = re.search(r"Queries lost:\s+(\d+)", out)
    avg = re.search(r"Average Latency \(s\):\s+([\d.]+)", out)
    if not qps:
        raise SystemExit(f"could not read dnsperf's output:\n{out}")
    return {"qps": float(qps.group(1)), "lost": int(lost.group(1)) if lost else 0,
            "avg_ms": float(avg.group(1)) * 1000 if avg else float("nan")}


def paced_latencies(address: tuple[str, int], count: int, rate: float = 1000.0) -> list[float]:
    """Send ``count`` queries at ``rate`` per second, one at a time; return RTTs in ms."""
    request = bytearray(DNSRecord.question(NAME).pack())
    rtts = []
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.connect(address)
        sock.settimeout(1.0)
        start = time.perf_counter()
        for i in range(count):
            next_send = start + i / rate
            while (now := time.perf_counter()) < next_send:  # pacing the load is the point here
                if next_send - now > 0.0005:
                    time.sleep(next_send - now - 0.0003)
            request[:2] = (i & 0xFFFF).to_bytes(2, "big")
            sent = time.perf_counter()
            sock.send(request)
            while True:
                try:
                    reply = sock.recv(4096)
                except socket.timeout:
                    rtts.append(float("inf"))
                    break
                if reply[:2] == request[:2]:
                    rtts.append((time.perf_counter() - sent) * 1000)
                    break
    return rtts


def percentile(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(p / 100 * (len(ordered) - 1))))]


def measure(label: str, address: tuple[str, int], seconds: float, paced: int) -> dict[str, float]:
    throughput = dnsperf(address, seconds, ["-q", "200"])
    at_1000 = dnsperf(address, min(seconds, 5), ["-Q", "1000"])
    rtts = paced_latencies(address, paced)
    result = {
        "qps": throughput["qps"], "lost": throughput["lost"], "avg_ms_1000": at_1000["avg_ms"],
        "p50_ms": statistics.median(rtts), "p99_ms": percentile(rtts, 99), "max_ms": max(rtts),
    }
    print(f"{label:<16} {result['qps']:>10.0f} qps (lost {result['lost']})   at 1000 qps: dnsperf avg "
          f"{result['avg_ms_1000']:.3f} ms, paced p50 {result['p50_ms']:.3f} ms, p99 {result['p99_ms']:.3f} ms, "
          f"max {result['max_ms']:.3f} ms", flush=True)
    return result


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=8.0, help="dnsperf run length for throughput")
    parser.add_argument("--paced", type=int, default=3000, help="queries sent by the paced latency client")
    parser.add_argument("--serve", metavar="HOST", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve:
        serve_harness(args.serve)
        return 0
    missing = [tool for tool in ("dnsperf", "dnsmasq") if not (shutil.which(tool) or os.path.exists(f"/usr/sbin/{tool}"))]
    if missing:
        print(f"SKIP dns_bench: needs {' and '.join(missing)} (apt-get install dnsperf dnsmasq)")
        return 0
    print(f"load average before the run: {' '.join(f'{x:.2f}' for x in os.getloadavg())} on {os.cpu_count()} CPUs "
          "(tail latencies are only meaningful on a quiet machine)")
    pool = LoopbackPool()
    with harness_server(pool.take("bench-harness-dns")) as ours:
        harness = measure("harness DnsServer", ours, args.seconds, args.paced)
    with dnsmasq_server(pool.take("bench-dnsmasq")) as theirs:
        dnsmasq = measure("dnsmasq", theirs, args.seconds, args.paced)
    ratio = harness["qps"] / dnsmasq["qps"]
    print(f"throughput ratio harness/dnsmasq: {ratio:.2f}x (target >= 0.25x); "
          f"harness p99 at 1000 qps: {harness['p99_ms']:.3f} ms (target < 1 ms)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
