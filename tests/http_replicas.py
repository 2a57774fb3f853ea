"""Small real HTTP replicas behind one DNS name, each stoppable and restartable on its address.

A group's replicas listen on distinct loopback addresses and one shared port (DNS answers carry
addresses only). ``stop()`` really closes the listening socket and every connection, so a client
sent there by DNS gets "connection refused" like a node that lost its network; ``start()`` binds
the same address again. Each replica is an aiohttp server (``harness.httpserver``) on the given
loop or the set's own; stopping one is a few steps on that loop, so DNS and the checker keep
going. Replicas are the ``control`` of their targets.
"""

from __future__ import annotations

import socket
import threading
from typing import TYPE_CHECKING

from harness.health.targets import HttpCheck, Target, TcpCheck
from harness.httpserver import HttpServer, Served, Settings
from harness.loop_thread import LoopThread
from harness.loopback import LoopbackPool, shared_port

if TYPE_CHECKING:
    from aiohttp import web


class HttpReplica:
    """One replica: answers ``health_path`` with 200 ``ok`` and any other path with its name."""

    def __init__(self, host: str, port: int, *, name: str = "replica", health_path: str = "/healthz",
                 sock: socket.socket | None = None, loop: LoopThread | None = None) -> None:
        self.host, self.port, self.name, self.health_path = host, port, name, health_path
        self.requests = 0  # counted on the loop thread only
        self._sock = sock  # pre-bound by shared_port for the first start
        self._http = HttpServer(self._answer, Settings(f"replica {name}", _error_body, guard=False), loop)
        self._lock = threading.Lock()

    @property
    def running(self) -> bool:
        return self._http.running

    def start(self) -> None:
        with self._lock:
            sock, self._sock = self._sock, None
            self._http.start(self.host, self.port, sock=sock)

    async def _answer(self, request: "web.Request") -> "web.Response":
        from aiohttp import web

        self.requests += 1
        body = "ok\n" if request.path == self.health_path else f"{self.name}\n"
        return web.Response(text=body)

    def stop(self) -> None:
        with self._lock:
            if self._sock is not None:
                self._sock.close()
                self._sock = None
            self._http.stop()


def _error_body(status: int, message: str) -> dict[str, object]:
    return {"error": message, "status": status}


class ReplicaSet(Served):
    """``count`` replicas of one service on fresh loopback addresses sharing one port.

    They serve on ``loop`` (the harness's) or on one loop of the set's own, closed by ``stop()``.
    """

    def __init__(self, pool: LoopbackPool, count: int, *, label: str = "replica", health_path: str = "/healthz",
                 loop: LoopThread | None = None) -> None:
        addresses = [pool.take(f"{label}-{i}") for i in range(count)]
        self.port, socks = shared_port(addresses, what=f"{label} replicas")
        self._own_loop = LoopThread(f"{label}-replicas") if loop is None else None
        self.replicas = [
            HttpReplica(a, self.port, name=f"{label}-{i}", health_path=health_path, sock=s,
                        loop=loop or self._own_loop)
            for i, (a, s) in enumerate(zip(addresses, socks))
        ]

    @property
    def addresses(self) -> list[str]:
        return [r.host for r in self.replicas]

    def start(self) -> "ReplicaSet":
        try:
            if self._own_loop is not None:
                self._own_loop.start()
            for replica in self.replicas:
                replica.start()
        except BaseException:
            self.stop()
            raise
        return self

    def stop(self) -> None:
        for replica in self.replicas:
            replica.stop()
        if self._own_loop is not None:
            self._own_loop.close()

    def targets(self, check: HttpCheck | TcpCheck | None = None) -> list[Target]:
        """Health-check targets whose control is the replica, so ``health.kill_target`` really stops it."""
        check = check or HttpCheck(self.replicas[0].health_path if self.replicas else "/healthz")
        return [Target(r.host, r.port, check, control=r) for r in self.replicas]

    def __getitem__(self, index: int) -> HttpReplica:
        return self.replicas[index]

    def __len__(self) -> int:
        return len(self.replicas)
