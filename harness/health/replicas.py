"""Small real HTTP replicas behind one DNS name, each stoppable and restartable on its address.

A group's replicas listen on distinct loopback addresses and one shared port (DNS answers carry
addresses only). ``stop()`` really closes the listening socket, so a client sent there by DNS gets
"connection refused" like a node that lost its network; ``start()`` binds the same address again.
Each replica is a stdlib ``http.server`` in its own thread, independent of the harness loop, so
stopping one never stalls DNS or the checker. Replicas are the ``control`` of their targets.
"""

from __future__ import annotations

import socket
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from harness.health.targets import HttpCheck, Target, TcpCheck
from harness.loopback import LoopbackPool, bind_socket, shared_port

POLL_INTERVAL = 0.01  # how quickly serve_forever notices shutdown(): bounds stop() latency


class _Handler(BaseHTTPRequestHandler):
    server: "_Server"
    protocol_version = "HTTP/1.0"
    timeout = 2.0  # a half-open client cannot pin a handler thread

    def do_GET(self) -> None:  # noqa: N802 (http.server's naming)
        replica = self.server.replica
        if self.path == replica.health_path:
            body = b"ok\n"
        else:
            body = f"{replica.name}\n".encode()
        with replica._lock:
            replica.requests += 1
        self.send_response(200)
        self.send_header("Content-Type", "text/plain")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: object) -> None:  # noqa: A002
        """Silent: the checker probes every few tens of milliseconds."""


class _Server(ThreadingHTTPServer):
    daemon_threads = False  # server_close() joins handler threads: nothing outlives stop()

    def __init__(self, sock: socket.socket, replica: "HttpReplica") -> None:
        super().__init__(sock.getsockname()[:2], _Handler, bind_and_activate=False)
        self.socket.close()
        self.socket = sock
        self.server_address = sock.getsockname()[:2]
        self.replica = replica
        self.server_activate()


class HttpReplica:
    """One replica: answers ``health_path`` with 200 ``ok`` and any other path with its name."""

    def __init__(self, host: str, port: int, *, name: str = "replica", health_path: str = "/healthz",
                 sock: socket.socket | None = None) -> None:
        self.host, self.port, self.name, self.health_path = host, port, name, health_path
        self.requests = 0
        self._sock = sock  # pre-bound by shared_port for the first start
        self._server: _Server | None = None
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()

    @property
    def running(self) -> bool:
        return self._server is not None

    def start(self) -> None:
        with self._lock:
            if self._server is not None:
                return
            sock, self._sock = self._sock, None
            sock = sock or bind_socket(self.host, self.port, what=f"replica {self.name}")
            server = _Server(sock, self)
            self._thread = threading.Thread(target=server.serve_forever, args=(POLL_INTERVAL,),
                                            name=f"replica-{self.name}")
            self._thread.start()
            self._server = server

    def stop(self) -> None:
        with self._lock:
            server, thread, self._server, self._thread = self._server, self._thread, None, None
            if self._sock is not None:
                self._sock.close()
                self._sock = None
        if server is not None and thread is not None:
            server.shutdown()
            server.server_close()
            thread.join()


class ReplicaSet:
    """``count`` replicas of one service on fresh loopback addresses sharing one port."""

    def __init__(self, pool: LoopbackPool, count: int, *, label: str = "replica", health_path: str = "/healthz") -> None:
        addresses = [pool.take(f"{label}-{i}") for i in range(count)]
        self.port, socks = shared_port(addresses, what=f"{label} replicas")
        self.replicas = [
            HttpReplica(a, self.port, name=f"{label}-{i}", health_path=health_path, sock=s)
            for i, (a, s) in enumerate(zip(addresses, socks))
        ]

    @property
    def addresses(self) -> list[str]:
        return [r.host for r in self.replicas]

    def start(self) -> "ReplicaSet":
        try:
            for replica in self.replicas:
                replica.start()
        except BaseException:
            self.stop()
            raise
        return self

    def stop(self) -> None:
        for replica in self.replicas:
            replica.stop()

    def targets(self, check: HttpCheck | TcpCheck | None = None) -> list[Target]:
        """Health-check targets whose control is the replica, so ``health.kill_target`` really stops it."""
        check = check or HttpCheck(self.replicas[0].health_path if self.replicas else "/healthz")
        return [Target(r.host, r.port, check, control=r) for r in self.replicas]

    def __enter__(self) -> "ReplicaSet":
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def __getitem__(self, index: int) -> HttpReplica:
        return self.replicas[index]

    def __len__(self) -> int:
        return len(self.replicas)
