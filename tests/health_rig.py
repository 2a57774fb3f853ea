"""A self-contained stage for health-check faults: replicas, a DNS server and a checker on one loop.

Tests of ``health.*`` faults need the same four pieces wired the same way (real HTTP
replicas behind one name, the real DNS server answering for it, the checker publishing into it, a
``Chaos`` to inject faults), so they build one ``HealthRig`` instead of repeating the wiring. The rig
is also the fault environment: it has ``dns`` and ``health`` (``proxies`` and ``dynamodb`` are None).
"""

from __future__ import annotations

from typing import Any

from dnslib import QTYPE, RCODE, DNSRecord

from harness.chaos import Chaos
from harness.dns import DnsServer, Topology
from harness.health.checker import HealthChecker
from harness.loop_thread import LoopThread
from harness.loopback import LoopbackPool
from http_replicas import ReplicaSet


class HealthRig:
    """``replicas`` HTTP replicas published as ``name`` by a checker, served by a ``DnsServer``."""

    proxies = None
    dynamodb = None

    def __init__(self, *, name: str = "app.chaos.test", replicas: int = 3, ttl: int = 1,
                 pool: LoopbackPool | None = None, seed: int = 0, **checker_options: Any) -> None:
        self.name = name
        self.pool = pool or LoopbackPool()
        self.loop = LoopThread("chaos-harness-health-rig")
        self.topology = Topology()
        self.dns = DnsServer(self.topology, self.pool.take("dns"), loop=self.loop)
        self.health = HealthChecker(self.topology, loop=self.loop, **checker_options)
        self.replicas = ReplicaSet(self.pool, replicas, label=name.split(".")[0])
        try:
            self.health.add_group(name, self.replicas.targets(), ttl=ttl)
        except BaseException:
            self.replicas.stop()  # closes the sockets it bound for the replicas
            raise
        self.chaos = Chaos(self, seed=seed)

    def start(self) -> "HealthRig":
        try:
            self.loop.start()
            self.replicas.start()
            self.dns.start()
            self.health.start()
        except BaseException:
            self.stop()
            raise
        return self

    def stop(self) -> None:
        """Clear faults first (they restart stopped replicas), then stop everything in reverse."""
        try:
            self.chaos.clear_all()
        finally:
            self.health.stop()
            self.dns.stop()
            self.replicas.stop()
            self.loop.close()

    def resolve(self, timeout: float = 1.0) -> list[str]:
        """The A records the DNS server answers for the name right now (one UDP query, no cache)."""
        host, port = self.dns.address
        reply = DNSRecord.parse(DNSRecord.question(self.name, "A").send(host, port, timeout=timeout))
        if reply.header.rcode != RCODE.NOERROR:
            return []
        return [str(rr.rdata) for rr in reply.rr if rr.rtype == QTYPE.A]

    def __enter__(self) -> "HealthRig":
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
