"""DNS set-up shared by the DNS, resolver and sandbox tests (a pytest plugin: tests/conftest.py).

``topology``: the records the DNS server tests query (us-east-1 on three addresses, us-west-2 on
one, the app on IPv4 and IPv6); ``dns_env``: a running server for the resolver-facing zone with a
fault injector.
"""

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
WEST = "dynamodb.us-west-2.amazonaws.com"
APP = "app.chaos.test"


@pytest.fixture
def topology() -> Topology:
    topo = Topology()
    topo.set(NAME, ["127.0.0.10", "127.0.0.11", "127.0.0.12"], ttl=5)
    topo.set(WEST, ["127.0.0.13"], ttl=5)
    topo.set(APP, ["127.0.0.20", "::1"], ttl=30)
    return topo


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
