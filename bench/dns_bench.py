"""DNS server speed, side by side with dnsmasq in one run, also for the ``chaos-harness up`` configuration.

    .venv/bin/python bench/dns_bench.py [--rounds 3] [--seconds 3] [--paced 1000] [--json]

Three servers answer the same A record: the harness's ``DnsServer`` alone (its own process),
dnsmasq, and the DNS server inside ``chaos-harness up`` (the whole harness in one process, health
checker probing every node and publishing into DNS, as users run it). Each round measures every
server in turn: dnsperf throughput, dnsperf's average latency at 1,000 queries per second, and the
percentiles of this script's own paced UDP client at 1,000 qps. ``up`` is paused (SIGSTOP) while
the others are measured so its health checker does not load their rounds. Printed: the median
over rounds of each figure for each server and the ratios against dnsmasq (goals: qps >= 0.6x,
average latency at 1,000 qps <= 1.5x), plus the load average. Everything started is stopped,
even on errors or Ctrl-C.
"""

from __future__ import annotations

import argparse
import contextlib
import json
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


@contextlib.contextmanager
def up_server() -> Iterator[tuple[tuple[str, int], subprocess.Popen]]:
    """``chaos-harness up`` (default scenario); yields its DNS address and the process."""
    exe = os.path.join(os.path.dirname(sys.executable), "chaos-harness")
    command = [exe] if os.path.exists(exe) else [sys.executable, "-m", "harness.cli"]
    proc = subprocess.Popen([*command, "up"], stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                            stderr=subprocess.DEVNULL, text=True)
    with stopped_at_exit(proc):
        address = None
        assert proc.stdout is not None
        for line in proc.stdout:
            if line.startswith("dns "):
                host, _, port = line.split()[1].rpartition(":")
                address = (host, int(port))
            if line.startswith("harness is up"):
                break
        if address is None:
            raise SystemExit("chaos-harness up did not print its DNS address")
        wait_answering(address)
        yield address, proc


def measure(address: tuple[str, int], seconds: float, paced: int) -> dict[str, float]:
    throughput = dnsperf(address, seconds, ["-q", "200"])
    at_1000 = dnsperf(address, seconds, ["-Q", "1000"])
    rtts = paced_latencies(address, paced)
    return {"qps": throughput["qps"], "lost": throughput["lost"], "avg_ms_1000": at_1000["avg_ms"],
            "p50_ms": statistics.median(rtts), "p99_ms": percentile(rtts, 99)}


def medians(rounds: list[dict[str, float]]) -> dict[str, float]:
    return {key: statistics.median(r[key] for r in rounds) for key in rounds[0]}


def load_average() -> str:
    return f"{' '.join(f'{x:.2f}' for x in os.getloadavg())} on {os.cpu_count()} CPUs"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--seconds", type=float, default=3.0, help="length of each dnsperf run")
    parser.add_argument("--paced", type=int, default=1000, help="queries per round sent by the paced latency client")
    parser.add_argument("--json", action="store_true", help="print one JSON object (medians and ratios)")
    parser.add_argument("--serve", metavar="HOST", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve:
        serve_harness(args.serve)
        return 0
    missing = [tool for tool in ("dnsperf", "dnsmasq") if not (shutil.which(tool) or os.path.exists(f"/usr/sbin/{tool}"))]
    if missing:
        print(f"SKIP dns_bench: needs {' and '.join(missing)} (apt-get install dnsperf dnsmasq)")
        return 0
    before = load_average()
    pool = LoopbackPool()
    samples: dict[str, list[dict[str, float]]] = {"harness": [], "dnsmasq": [], "up": []}
    with contextlib.ExitStack() as stack:
        ours = stack.enter_context(harness_server(pool.take("bench-harness-dns")))
        theirs = stack.enter_context(dnsmasq_server(pool.take("bench-dnsmasq")))
        up_address, up_proc = stack.enter_context(up_server())
        for _ in range(args.rounds):
            up_proc.send_signal(signal.SIGSTOP)
            try:
                samples["harness"].append(measure(ours, args.seconds, args.paced))
                samples["dnsmasq"].append(measure(theirs, args.seconds, args.paced))
            finally:
                up_proc.send_signal(signal.SIGCONT)
            samples["up"].append(measure(up_address, args.seconds, args.paced))
    result = {name: medians(rounds) for name, rounds in samples.items()}
    base = result["dnsmasq"]
    for name in ("harness", "up"):
        result[name]["qps_ratio"] = result[name]["qps"] / base["qps"]
        result[name]["latency_ratio"] = result[name]["avg_ms_1000"] / base["avg_ms_1000"]
    result["load_before"], result["load_after"] = before, load_average()  # type: ignore[assignment]
    if args.json:
        print(json.dumps(result))
        return 0
    print(f"load average before: {before}")
    print(f"{'server':<22} {'qps':>9} {'avg ms @1000qps':>16} {'p50 ms':>8} {'p99 ms':>8}   medians of {args.rounds} rounds")
    labels = {"harness": "harness DnsServer", "dnsmasq": "dnsmasq", "up": "chaos-harness up DNS"}
    for name, label in labels.items():
        r = result[name]
        print(f"{label:<22} {r['qps']:>9.0f} {r['avg_ms_1000']:>16.3f} {r['p50_ms']:>8.3f} {r['p99_ms']:>8.3f}")
    for name in ("harness", "up"):
        r = result[name]
        print(f"{labels[name]} vs dnsmasq: qps {r['qps_ratio']:.2f}x (goal >= 0.6x), "
              f"average latency at 1000 qps {r['latency_ratio']:.2f}x (goal <= 1.5x)")
    print(f"load average after: {result['load_after']}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
