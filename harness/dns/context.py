"""What a DNS fault sees and may change: one query on its way to being answered.

The server builds the honest reply from the topology first, then hands this context to every
active fault in order (``apply_faults`` over the server's ``harness.fault_chain.FaultChain`` of
``DnsHook``). A fault edits the reply (through the helpers, so NXDOMAIN always carries the SOA a
resolver needs) or sets ``delay``/``drop``/``truncate``, which the transport carries
out; ``applied`` names the faults that acted, for the query log and reports.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Protocol

from dnslib import RCODE, DNSRecord

from harness.dns.answers import address_rrs, set_negative
from harness.dns.zone import Topology


@dataclass(eq=False)
class QueryContext:
    """One query passing through the fault chain (mutated in place)."""

    qname: str  # lower-case, no trailing dot
    qtype: str  # "A", "AAAA", ...
    transport: str  # "udp" or "tcp"
    client: tuple[str, int]
    reply: DNSRecord
    topology: Topology
    zone: str | None  # the served zone the name is in (None: outside every zone, REFUSED)
    delay: float = 0.0  # seconds added before the reply is sent
    drop: bool = False  # send nothing; the client runs into its own timeout
    truncate: bool = False  # UDP only: TC=1 and no records, so the client retries over TCP
    applied: list[str] = field(default_factory=list)

    def set_error(self, rcode: str) -> None:
        """Answer with an error rcode (SERVFAIL, REFUSED): empty sections, not authoritative data."""
        self.reply.header.aa = 0
        self.reply.header.rcode = getattr(RCODE, rcode)
        self.reply.rr = []
        self.reply.auth = []

    def set_negative(self, rcode: str = "NXDOMAIN", *, soa: bool = True) -> None:
        """NXDOMAIN, or NOERROR with no records (NODATA), with the zone's SOA unless ``soa=False``."""
        assert self.zone is not None, "faults only act on names inside a served zone"
        set_negative(self.reply, self.topology, self.zone, getattr(RCODE, rcode), soa=soa)

    def set_addresses(self, addresses: Iterable[str], ttl: int | None = None) -> None:
        """Answer with ``addresses`` of the asked family (A: IPv4, AAAA: IPv6; others NODATA)."""
        records = self.topology.get(self.qname)
        if ttl is None:
            ttl = records.ttl if records is not None else 60
        wanted = [a for a in addresses if (":" in a) == (self.qtype == "AAAA")] if self.qtype in ("A", "AAAA") else []
        if not wanted:
            self.set_negative("NOERROR")
            return
        self.reply.header.rcode = RCODE.NOERROR
        self.reply.rr = address_rrs(self.reply.q.qname, wanted, ttl)
        self.reply.auth = []


class DnsHook(Protocol):
    """What a DNS fault implements: look at one query and edit it (the chain's hook)."""

    @property
    def name(self) -> str: ...

    def apply(self, ctx: QueryContext) -> None: ...


def apply_faults(faults: Iterable[DnsHook], ctx: QueryContext) -> None:
    """Apply ``faults`` in order; a dropped query is not looked at by later faults."""
    for fault in faults:
        fault.apply(ctx)
        if ctx.drop:
            break
