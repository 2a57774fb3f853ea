"""What the health checker probes: a target (address, port) and how to check it.

The two check kinds are the ones NLB target groups and Route 53 health checks offer: an HTTP GET
that must answer 2xx/3xx, and a plain TCP connect. Both are asyncio coroutines with their own
timeout, so one round can probe every target concurrently on the harness loop without a thread
per probe.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from typing import Protocol

from harness.errors import ConfigError
from harness.loopback import is_loopback


class Control(Protocol):
    """Something that can really stop and restart a target (a replica server, a proxy)."""

    def stop(self) -> None: ...

    def start(self) -> None: ...


@dataclass(frozen=True)
class TcpCheck:
    """Healthy when a TCP connection is accepted within the timeout."""

    async def probe(self, host: str, port: int, timeout: float) -> bool:
        try:
            _, writer = await asyncio.wait_for(asyncio.open_connection(host, port), timeout)
        except (OSError, asyncio.TimeoutError):
            return False
        await _close(writer)
        return True


@dataclass(frozen=True)
class HttpCheck:
    """Healthy when ``GET path`` answers with a 2xx or 3xx status within the timeout."""

    path: str = "/healthz"

    def __post_init__(self) -> None:
        if not self.path.startswith("/") or any(ch.isspace() for ch in self.path):
            raise ConfigError(f"HTTP health check path must start with '/' and have no spaces, got {self.path!r}")

    async def probe(self, host: str, port: int, timeout: float) -> bool:
        try:
            return await asyncio.wait_for(self._get(host, port), timeout)
        except (OSError, asyncio.TimeoutError, ValueError):
            return False

    async def _get(self, host: str, port: int) -> bool:
        reader, writer = await asyncio.open_connection(host, port)
        try:
            request = f"GET {self.path} HTTP/1.0\r\nHost: {host}:{port}\r\nUser-Agent: chaos-harness-health\r\n\r\n"
            writer.write(request.encode("ascii"))
            await writer.drain()
            status_line = await reader.readline()  # b"HTTP/1.0 200 OK\r\n"
            parts = status_line.split()
            return len(parts) >= 2 and parts[0].startswith(b"HTTP/") and 200 <= int(parts[1]) < 400
        finally:
            await _close(writer)


async def _close(writer: asyncio.StreamWriter) -> None:
    writer.close()
    try:
        await writer.wait_closed()
    except OSError:
        pass


@dataclass(frozen=True, eq=False)
class Target:
    """One member of a DNS name's group. All targets of a name share the port (DNS carries no ports)."""

    address: str
    port: int
    check: HttpCheck | TcpCheck = field(default_factory=HttpCheck)
    control: Control | None = field(default=None, repr=False)  # None: the target cannot be stopped

    def __post_init__(self) -> None:
        if not is_loopback(self.address) or self.address == "localhost":
            raise ConfigError(f"health check target {self.address!r} is not a loopback IP address; only loopback is probed")
        if isinstance(self.port, bool) or not isinstance(self.port, int) or not 0 < self.port < 65536:
            raise ConfigError(f"health check target {self.address} has invalid port {self.port!r}")

    @property
    def label(self) -> str:
        return f"{self.address}:{self.port}"

    async def probe(self, timeout: float) -> bool:
        return await self.check.probe(self.address, self.port, timeout)
