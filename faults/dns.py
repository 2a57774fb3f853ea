"""DNS faults: what a resolver can get back from an authoritative server that is going wrong.

Each fault acts on the queries it matches (``qname`` pattern(s), ``qtype``(s), and the seeded
``probability``) by editing the honest answer the server built from the topology; see
``harness.dns.context.QueryContext``. They only ever touch names inside the served zones
(names outside are REFUSED before any fault sees them). Faults stack in injection order; a
dropped query (``dns.timeout``) is not seen by later faults.

The name pattern option is ``qname`` (DNS's own word for the asked name, and the twin of
``qtype``); ``name`` is accepted as an alias, because a fault's ``name`` attribute is already its
registered fault name.
"""

from __future__ import annotations

import ipaddress
import math
from collections.abc import Mapping
from fnmatch import fnmatchcase
from typing import Any, ClassVar

from dnslib import QTYPE

from faults.base import Environment, Fault, fault, option
from faults.environment import DNS_SERVER
from harness.dns.context import QueryContext
from harness.dns.zone import normalize_name
from harness.errors import FaultOptionError

# An address in 127/8 that nothing binds, so connections to it are refused at once.
UNBOUND_LOOPBACK = "127.255.255.254"


class DnsFault(Fault):
    """Shared options and matching for every DNS fault.

    ``qname``: exact names or shell-style patterns ("*.amazonaws.com", "*"), case-insensitive.
    ``qtype``: record types it applies to ("A", "AAAA", ...); empty means every type.
    """

    qname: tuple[str, ...] = option(("*",), "names or shell patterns the fault answers for (alias: name)")
    qtype: tuple[str, ...] = option((), "record types it applies to, e.g. A, AAAA (empty: every type)")

    def validate(self) -> None:
        patterns = tuple(normalize_name(p) for p in self.qname)
        if not patterns or any(not p for p in patterns):
            raise FaultOptionError(f"{self.name}: option 'qname' needs non-empty names or patterns, got {list(self.qname)!r}",
                                   option="qname")
        types = tuple(t.strip().upper() for t in self.qtype)
        unknown = [t for t in types if t not in QTYPE.reverse]
        if unknown:
            raise FaultOptionError(f"{self.name}: option 'qtype' has unknown record type {unknown[0]!r}", option="qtype")
        self.qname, self.qtype = patterns, types

    @classmethod
    def from_options(cls, options: Mapping[str, Any]) -> Fault:
        options = dict(options)
        if "name" in options:
            if "qname" in options:
                raise FaultOptionError(f"{cls.name}: give the name pattern once, as 'qname' or its alias 'name'",
                                       option="name")
            options["qname"] = options.pop("name")
        return super().from_options(options)

    def start(self, env: Environment) -> None:
        self.require(env.dns, DNS_SERVER).faults.add(self)

    def stop(self, env: Environment) -> None:
        if env.dns is not None:
            env.dns.faults.remove(self)

    def matches(self, ctx: QueryContext) -> bool:
        return (
            ctx.zone is not None
            and (not self.qtype or ctx.qtype in self.qtype)
            and any(fnmatchcase(ctx.qname, p) for p in self.qname)
        )

    def apply(self, ctx: QueryContext) -> None:
        """Act on a matching query when the seeded draw says so, and note it in the log."""
        if self.matches(ctx) and self.roll(ctx.qname, ctx.qtype):
            self.act(ctx)
            ctx.applied.append(self.name)

    def act(self, ctx: QueryContext) -> None:
        raise NotImplementedError


@fault("dns.empty_answer")
class EmptyAnswer(DnsFault):
    """Answer NOERROR with no records: the empty DynamoDB endpoint record of 20 Oct 2025.

    Route 53 answers an empty record set like any NODATA: authoritative, with the zone SOA in
    the authority section, which makes resolvers cache the emptiness for the negative TTL. Set
    ``soa=False`` for a bare empty answer (resolvers then do not cache it, RFC 2308 s5).
    """

    soa: bool = option(True, "include the zone SOA, so resolvers cache the empty answer for the negative TTL")

    def act(self, ctx: QueryContext) -> None:
        ctx.set_negative("NOERROR", soa=self.soa)


@fault("dns.nxdomain")
class Nxdomain(DnsFault):
    """Answer NXDOMAIN: the name does not exist (with the SOA, so resolvers cache it)."""

    def act(self, ctx: QueryContext) -> None:
        ctx.set_negative("NXDOMAIN")


class ErrorAnswer(DnsFault):
    """Answer with the error ``rcode`` and empty sections."""

    rcode: ClassVar[str]

    def act(self, ctx: QueryContext) -> None:
        ctx.set_error(self.rcode)


@fault("dns.servfail")
class Servfail(ErrorAnswer):
    """Answer SERVFAIL: the server cannot answer (resolvers try another server, then give up: EAI_AGAIN)."""

    rcode = "SERVFAIL"


@fault("dns.refused")
class Refused(ErrorAnswer):
    """Answer REFUSED, as a misconfigured or lame server does."""

    rcode = "REFUSED"


@fault("dns.timeout")
class Timeout(DnsFault):
    """Drop the query: no answer at all, the client waits for its own timeout and retries."""

    def act(self, ctx: QueryContext) -> None:
        ctx.drop = True


@fault("dns.delay")
class Delay(DnsFault):
    """Answer after a set latency: the right answer, late (added to any other delay)."""

    latency: float = option(1.0, "how late the answer comes", "s")

    def validate(self) -> None:
        super().validate()
        if not (self.latency > 0 and math.isfinite(self.latency)):
            raise FaultOptionError(f"{self.name}: option 'latency' must be a positive number of seconds, got {self.latency!r}",
                                   option="latency")

    def act(self, ctx: QueryContext) -> None:
        ctx.delay += self.latency


@fault("dns.wrong_address")
class WrongAddress(DnsFault):
    """Answer with other addresses (A gets the IPv4 ones, AAAA the IPv6 ones; none: NODATA).

    The default is a loopback address nothing listens on, so connections are refused quickly.
    """

    addresses: tuple[str, ...] = option((UNBOUND_LOOPBACK,), "the addresses answered instead (default: one nothing listens on)")

    def validate(self) -> None:
        super().validate()
        parsed = []
        for address in self.addresses:
            try:
                parsed.append(str(ipaddress.ip_address(address.strip())))
            except ValueError:
                raise FaultOptionError(f"{self.name}: option 'addresses' has {address!r}, which is not an IP address",
                                       option="addresses") from None
        if not parsed:
            raise FaultOptionError(f"{self.name}: option 'addresses' needs at least one address", option="addresses")
        self.addresses = tuple(parsed)

    def act(self, ctx: QueryContext) -> None:
        ctx.set_addresses(self.addresses)


@fault("dns.truncate")
class Truncate(DnsFault):
    """Set TC on UDP answers (no records), so clients must retry over TCP.

    Only UDP queries match; TCP is answered normally, which is what a client needs to recover.
    """

    def matches(self, ctx: QueryContext) -> bool:
        return ctx.transport == "udp" and super().matches(ctx)

    def act(self, ctx: QueryContext) -> None:
        ctx.truncate = True


@fault("dns.ttl_zero")
class TtlZero(DnsFault):
    """Answer normally but with TTL 0 on the address records, so resolvers must not cache them.

    Every lookup then reaches the DNS server: shows whether a client copes with (or depends on)
    caching, and makes a later DNS change take effect on the very next connection.
    """

    def act(self, ctx: QueryContext) -> None:
        for record in ctx.reply.rr:
            if record.rtype in (QTYPE.A, QTYPE.AAAA):
                record.ttl = 0
