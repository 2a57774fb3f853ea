"""Benchmark: what the embedded Toxiproxy adds to a connection with no toxic, measured side by side.

Round trips: N small request/response exchanges on one connection to an echo server, direct and
through a proxy; prints the added microseconds per round trip (goal <= 50 us).
Bulk: 64 MiB sent to a sink that acknowledges the end, direct and through a proxy; prints both
throughputs and their ratio (goal >= 0.8).
The proxy runs in this process, beside the client, echo server and sink, as the embedded proxy
runs beside a test's clients (the method behind the issue's baseline); ``--own-process`` runs it
in a child process instead, as ``chaos-harness up`` does for other programs.
Direct and proxied runs alternate (``--repeats`` pairs); each side's figure is its median over the
pairs, and the verdicts use the median of the per-pair differences and ratios, so slow drift of
the machine's load cancels out. The spread of the per-pair figures and the load average are
printed too, since other work on the machine moves single runs.

Run: .venv/bin/python bench/proxy_bench.py [--round-trips 10000] [--mib 64] [--repeats 5] [--own-process] [--json]
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import socket
import statistics
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT), str(ROOT / "tests")]  # EchoServer is a test upstream, kept in tests/

from echo_server import EchoServer  # noqa: E402
from harness.proxies import ProxyLayer  # noqa: E402

BLOCK = 1 << 20


class Sink:
    """Reads each connection to EOF as fast as it can, then answers b"ok" (one thread)."""

    def __init__(self) -> None:
        self.sock = socket.create_server(("127.0.0.1", 0))
        self.address = f"127.0.0.1:{self.sock.getsockname()[1]}"
        self.thread = threading.Thread(target=self._serve, name="bench-sink")
        self.thread.start()

    def _serve(self) -> None:
        buffer = bytearray(BLOCK)
        while True:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            with conn:
                while conn.recv_into(buffer):
                    pass
                conn.sendall(b"ok")

    def stop(self) -> None:
        self.sock.shutdown(socket.SHUT_RDWR)
        self.sock.close()
        self.thread.join(10)


def _connect(address: str) -> socket.socket:
    host, _, port = address.rpartition(":")
    sock = socket.create_connection((host, int(port)))
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    return sock


def round_trips(address: str, count: int) -> float:
    """Mean seconds per 64-byte request/response."""
    payload = b"x" * 64
    with _connect(address) as sock:
        for _ in range(100):  # warm up
            sock.sendall(payload)
            sock.recv(64)
        start = time.perf_counter()
        for _ in range(count):
            sock.sendall(payload)
            got = sock.recv(64)
            while len(got) < 64:
                got += sock.recv(64 - len(got))
        return (time.perf_counter() - start) / count


def bulk(address: str, mib: int) -> float:
    """Bytes per second for ``mib`` MiB, up to the sink's acknowledgement."""
    block = memoryview(bytearray(BLOCK))
    with _connect(address) as sock:
        start = time.perf_counter()
        for _ in range(mib):
            sock.sendall(block)
        sock.shutdown(socket.SHUT_WR)
        assert sock.recv(2) == b"ok"
        return mib * BLOCK / (time.perf_counter() - start)


def serve_proxies(echo: str, sink: str) -> None:
    """Child process: proxies to ``echo`` and ``sink``; prints their addresses, stops when stdin closes."""
    layer = ProxyLayer.connect()
    try:
        via_echo = layer.create("bench_echo", "127.0.0.1:0", echo).listen
        via_sink = layer.create("bench_sink", "127.0.0.1:0", sink).listen
        print(via_echo, via_sink, "embedded" if layer.embedded else f"real at {layer.url}", flush=True)
        sys.stdin.read()
    finally:
        layer.close()


@contextlib.contextmanager
def proxies_to(echo: str, sink: str, own_process: bool) -> Iterator[tuple[str, str, str]]:
    """(address proxying to ``echo``, to ``sink``, which Toxiproxy), in this process or a child."""
    if not own_process:
        layer = ProxyLayer.connect()
        try:
            yield (layer.create("bench_echo", "127.0.0.1:0", echo).listen,
                   layer.create("bench_sink", "127.0.0.1:0", sink).listen,
                   "embedded, in process" if layer.embedded else f"real at {layer.url}")
        finally:
            layer.close()
        return
    child = subprocess.Popen([sys.executable, __file__, "--serve", echo, sink],
                             stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    try:
        assert child.stdout is not None
        via_echo, via_sink, kind = child.stdout.readline().split(maxsplit=2)
        yield via_echo, via_sink, kind.strip() + ", own process"
    finally:
        assert child.stdin is not None
        child.stdin.close()
        try:
            child.wait(30)
        except subprocess.TimeoutExpired:
            child.kill()
            child.wait()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--round-trips", type=int, default=10_000)
    parser.add_argument("--mib", type=int, default=64)
    parser.add_argument("--repeats", type=int, default=5,
                        help="direct/proxied pairs, interleaved; the median of each side counts")
    parser.add_argument("--own-process", action="store_true", help="run the proxy in a child process")
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    parser.add_argument("--serve", nargs=2, metavar=("ECHO", "SINK"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve:
        serve_proxies(*args.serve)
        return
    before = _load_average()

    echo, sink = EchoServer().start(), Sink()
    try:
        with proxies_to(echo.address, sink.address, args.own_process) as (via_echo, via_sink, kind):
            # Interleaved repeats: the machine's noise hits both sides alike.
            rt_pairs, bw_pairs = [], []
            for _ in range(args.repeats):
                rt_pairs.append((round_trips(echo.address, args.round_trips // args.repeats),
                                 round_trips(via_echo, args.round_trips // args.repeats)))
                bw_pairs.append((bulk(sink.address, args.mib), bulk(via_sink, args.mib)))
    finally:
        sink.stop()
        echo.stop()

    direct_rt, proxy_rt = (statistics.median(side) for side in zip(*rt_pairs))
    direct_bw, proxy_bw = (statistics.median(side) for side in zip(*bw_pairs))
    added_us = statistics.median((p - d) * 1e6 for d, p in rt_pairs)
    ratio = statistics.median(p / d for d, p in bw_pairs)
    if args.json:
        print(json.dumps({"direct_rt_us": direct_rt * 1e6, "proxy_rt_us": proxy_rt * 1e6, "added_us": added_us,
                          "direct_mib_s": direct_bw / 2**20, "proxy_mib_s": proxy_bw / 2**20, "bulk_ratio": ratio,
                          "repeats": args.repeats, "load_before": before, "load_after": _load_average()}))
        return
    print(f"toxiproxy: {kind}; load average before: {before}")
    print(f"round trips ({args.round_trips} x 64 B, median of {args.repeats}): direct {direct_rt * 1e6:.1f} us, "
          f"proxied {proxy_rt * 1e6:.1f} us, added {added_us:.1f} us per round trip (goal <= 50)")
    print(f"  added per pair: {_spread([(p - d) * 1e6 for d, p in rt_pairs])} us")
    print(f"bulk ({args.mib} MiB, median of {args.repeats}): direct {direct_bw / 2**20:.0f} MiB/s, "
          f"proxied {proxy_bw / 2**20:.0f} MiB/s, ratio {ratio:.2f} (goal >= 0.8)")
    print(f"  ratio per pair: {_spread([p / d for d, p in bw_pairs])}")
    print(f"load average after: {_load_average()}")


def _load_average() -> str:
    return f"{' '.join(f'{x:.2f}' for x in os.getloadavg())} on {os.cpu_count()} CPUs"


def _spread(values: list[float]) -> str:
    return f"min {min(values):.2f}, median {statistics.median(values):.2f}, max {max(values):.2f}"


if __name__ == "__main__":
    main()
