"""A running harness DNS server with a fault injector, for the resolver and sandbox tests."""

from __future__ import annotations

import os
from collections.abc import Iterator
from dataclasses import dataclass
from types import SimpleNamespace

import pytest

from harness.chaos import Chaos
from harness.dns.server import DnsServer
from harness.dns.zone import Topology
from harness.loopback import LoopbackPool

NAME = "dynamodb.us-east-1.amazonaws.com"


@dataclass
class DnsEnv:
    pool: LoopbackPool
    topology: Topology
    server: DnsServer
    chaos: Chaos

    def queries(self) -> list[tuple[str, str]]:
        """(transport, qtype) of every query since the last clear, in arrival order."""
        return [(e.transport, e.qtype) for e in self.server.log.entries()]


@pytest.fixture
def dns_env() -> Iterator[DnsEnv]:
    pool = LoopbackPool()
    topology = Topology(zones=("amazonaws.com",), soa_ttl=30, soa_minimum=60)
    server = DnsServer(topology, host=pool.take("dns")).start()
    chaos = Chaos(SimpleNamespace(dns=server, proxies=None, dynamodb=None, health=None))
    try:
        yield DnsEnv(pool, topology, server, chaos)
    finally:
        try:
            chaos.clear_all()
        finally:
            server.stop()


def require_namespaces() -> None:
    """Skip where namespaces are unavailable, except under CI=true, where that is a failure."""
    from harness.sandbox import namespaces_available

    available, reason = namespaces_available()
    if available:
        return
    if os.environ.get("CI", "").lower() == "true":
        pytest.fail(f"CI=true and {reason}")
    pytest.skip(reason)
