"""Loopback addresses and ports for one harness instance.

Every server the harness starts binds a loopback address. Each harness (each pytest-xdist worker,
each drill) draws its addresses from its own /24 inside 127.0.0.0/8, so several harnesses on one
machine never collide and DNS answers can name distinct "nodes" by address alone.
"""

from __future__ import annotations

import errno
import ipaddress
import itertools
import os
import socket
import threading

from harness.errors import AddressInUseError, ConfigError


def is_loopback(host: str) -> bool:
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return host == "localhost"


def require_loopback(host: str, *, allow_non_loopback: bool = False, what: str = "server") -> str:
    """Refuse to bind anything but loopback unless the caller explicitly allows it."""
    if not allow_non_loopback and not is_loopback(host):
        raise ConfigError(
            f"{what} refuses to bind non-loopback address {host!r}; pass allow_non_loopback=True to expose it"
        )
    return host


def _worker_index() -> int:
    worker = os.environ.get("PYTEST_XDIST_WORKER", "")  # "gw3" under xdist
    digits = "".join(ch for ch in worker if ch.isdigit())
    return int(digits) + 1 if digits else 0


class LoopbackPool:
    """Hands out distinct addresses ``127.A.B.1``, ``127.A.B.2``, ... for one harness.

    ``A`` comes from the xdist worker index and ``B`` from the process id and the pool's number in
    this process, so concurrent harnesses (workers, a drill next to a test run) get disjoint blocks. 127.0.0.0/16 is left alone because
    system services (systemd-resolved on 127.0.0.53, the usual 127.0.0.1 servers) live there.
    """

    _instances = itertools.count()

    def __init__(self, block: tuple[int, int] | None = None) -> None:
        if block is None:
            # Each pool in a process takes the next block, so two harnesses in one process
            # (a plugin session and a test's own harness) never share addresses either.
            block = (20 + _worker_index() % 200, (os.getpid() + 37 * next(self._instances)) % 250 + 1)
        a, b = block
        if not (1 <= a <= 254 and 0 <= b <= 255):
            raise ConfigError(f"loopback block 127.{a}.{b}.0/24 is out of range")
        self.prefix = f"127.{a}.{b}."
        self._next = 1
        self._lock = threading.Lock()
        self.assigned: dict[str, str] = {}

    def take(self, label: str) -> str:
        """A fresh address for ``label`` (a node, a replica, the DNS server)."""
        with self._lock:
            if label in self.assigned:
                return self.assigned[label]
            if self._next > 254:
                raise ConfigError(f"loopback block {self.prefix}0/24 is exhausted")
            address = f"{self.prefix}{self._next}"
            self._next += 1
            self.assigned[label] = address
            return address


def bind_socket(host: str, port: int, kind: int = socket.SOCK_STREAM, *, what: str = "server") -> socket.socket:
    """Bind a socket, turning 'address in use' into a one-line ``AddressInUseError``."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, kind)
    try:
        if kind == socket.SOCK_STREAM:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((host, port))
    except OSError as exc:
        sock.close()
        if exc.errno == errno.EADDRINUSE:
            raise AddressInUseError(f"{what} cannot bind {host}:{port}: address already in use") from None
        if exc.errno == errno.EADDRNOTAVAIL:
            raise ConfigError(f"{what} cannot bind {host}:{port}: address not available on this machine") from None
        raise
    return sock


def shared_port(hosts: list[str], *, what: str = "server", attempts: int = 20) -> tuple[int, list[socket.socket]]:
    """Bind one TCP port on every host in ``hosts`` (for endpoint nodes behind one URL).

    DNS names a node by address only, so every node of an endpoint must listen on the same port.
    Returns the port and the listening sockets (already bound, not yet listening).
    """
    last: Exception | None = None
    for _ in range(attempts):
        first = bind_socket(hosts[0], 0, what=what)
        port = first.getsockname()[1]
        socks = [first]
        try:
            for host in hosts[1:]:
                socks.append(bind_socket(host, port, what=what))
            return port, socks
        except AddressInUseError as exc:
            last = exc
            for s in socks:
                s.close()
    raise AddressInUseError(f"{what}: found no port free on all of {', '.join(hosts)} ({last})")


def reserve_shared_port(hosts: list[str], *, what: str = "server") -> int:
    """A port free on every host in ``hosts``, for servers that bind it themselves right after.

    Reserve-then-release: the block of loopback addresses belongs to this harness alone, so no
    other process takes the port between the release and the servers binding it.
    """
    port, sockets = shared_port(hosts, what=what)
    for sock in sockets:
        sock.close()
    return port


def shutdown_quietly(conn: socket.socket) -> None:
    """End both directions of a connection now (a blocked read returns); one already gone is fine."""
    try:
        conn.shutdown(socket.SHUT_RDWR)
    except OSError:
        pass
