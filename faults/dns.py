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

import dataclasses
import ipaddress
import math
from collections.abc import Mapping
from fnmatch import fnmatchcase
from typing import Any, ClassVar

from dnslib import QTYPE

from faults.base import Environment, Fault, register
from harness.dns.context import QueryContext
from harness.dns.zone import normalize_name
from harness.errors import FaultOptionError

# An address in 127/8 that nothing binds, so connections to it are refused at once.
UNBOUND_LOOPBACK = "127.255.255.254"


@dataclasses.dataclass(kw_only=True, eq=False)
class DnsFault(Fault):
    """Shared options and matching for every DNS fault.

    ``qname``: exact names or shell-style patterns ("*.amazonaws.com", "*"), case-insensitive.
    ``qtype``: record types it applies to ("A", "AAAA", ...); empty means every type.
    """

    qname: tuple[str, ...] = ("*",)
    qtype: tuple[str, ...] = ()

    def validate(self) -> None:
        patterns = tuple(normalize_name(p) for p in self.qname)
        if not patterns or any(not p for p in patterns):
            raise FaultOptionError(f"{self.name}: option 'qname' needs non-empty names or patterns, got {list(self.qname)!r}")
        types = tuple(t.strip().upper() for t in self.qtype)
        unknown = [t for t in types if t not in QTYPE.reverse]
        if unknown:
            raise FaultOptionError(f"{self.name}: option 'qtype' has unknown record type {unknown[0]!r}")
        self.qname, self.qtype = patterns, types

    @classmethod
    def from_options(cls, options: Mapping[str, Any]) -> Fault:
        options = dict(options)
        if "name" in options:
            if "qname" in options:
                raise FaultOptionError(f"{cls.name}: give the name pattern once, as 'qname' or its alias 'name'")
            options["qname"] = options.pop("name")
        return super().from_options(options)

    def start(self, env: Environment) -> None:
        self.component(env, "dns", "the DNS server").faults.add(self)

    def stop(self, env: Environment) -> None:
        dns = getattr(env, "dns", None)
        if dns is not None:
            dns.faults.remove(self)

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


@register
@dataclasses.dataclass(kw_only=True, eq=False)
class EmptyAnswer(DnsFault):
    """NOERROR with no records: the empty DynamoDB endpoint record of 20 Oct 2025.

    Route 53 answers an empty record set like any NODATA: authoritative, with the zone SOA in
    the authority section, which makes resolvers cache the emptiness for the negative TTL. Set
    ``soa=False`` for a bare empty answer (resolvers then do not cache it, RFC 2308 s5).
    """

    name: ClassVar[str] = "dns.empty_answer"
    summary: ClassVar[str] = "answer NOERROR with no records"
    soa: bool = True

    def act(self, ctx: QueryContext) -> None:
        ctx.set_negative("NOERROR", soa=self.soa)


@register
@dataclasses.dataclass(kw_only=True, eq=False)
class Nxdomain(DnsFault):
    """The name does not exist (with the SOA, so resolvers cache it)."""

    name: ClassVar[str] = "dns.nxdomain"
    summary: ClassVar[str] = "answer NXDOMAIN"

    def act(self, ctx: QueryContext) -> None:
        ctx.set_negative("NXDOMAIN")


@register
@dataclasses.dataclass(kw_only=True, eq=False)
class Servfail(DnsFault):
    """The server cannot answer (resolvers retry another server, then give up: EAI_AGAIN)."""

    name: ClassVar[str] = "dns.servfail"
    summary: ClassVar[str] = "answer SERVFAIL"

    def act(self, ctx: QueryContext) -> None:
        ctx.set_error("SERVFAIL")


@register
@dataclasses.dataclass(kw_only=True, eq=False)
class Refused(DnsFault):
    """The server refuses the query, as a misconfigured or lame server does."""

    name: ClassVar[str] = "dns.refused"
    summary: ClassVar[str] = "answer REFUSED"

    def act(self, ctx: QueryContext) -> None:
        ctx.set_error("REFUSED")


@register
@dataclasses.dataclass(kw_only=True, eq=False)
class Timeout(DnsFault):
    """No answer at all: the client waits for its own timeout and retries."""

    name: ClassVar[str] = "dns.timeout"
    summary: ClassVar[str] = "drop the query"

    def act(self, ctx: QueryContext) -> None:
        ctx.drop = True


@register
@dataclasses.dataclass(kw_only=True, eq=False)
class Delay(DnsFault):
    """The right answer, ``latency`` seconds late (added to any other delay)."""

    name: ClassVar[str] = "dns.delay"
    summary: ClassVar[str] = "answer after a set latency"
    latency: float = 1.0

    def validate(self) -> None:
        super().validate()
        if not (self.latency > 0 and math.isfinite(self.latency)):
            raise FaultOptionError(f"{self.name}: option 'latency' must be a positive number of seconds, got {self.latency!r}")

    def act(self, ctx: QueryContext) -> None:
        ctx.delay += self.latency


@register
@dataclasses.dataclass(kw_only=True, eq=False)
class WrongAddress(DnsFault):
    """Answer with other addresses (A gets the IPv4 ones, AAAA the IPv6 ones; none: NODATA).

    The default is a loopback address nothing listens on, so connections are refused quickly.
    """

    name: ClassVar[str] = "dns.wrong_address"
    summary: ClassVar[str] = "answer with other addresses"
    addresses: tuple[str, ...] = (UNBOUND_LOOPBACK,)

    def validate(self) -> None:
        super().validate()
        parsed = []
        for address in self.addresses:
            try:
                parsed.append(str(ipaddress.ip_address(address.strip())))
            except ValueError:
                raise FaultOptionError(f"{self.name}: option 'addresses' has {address!r}, which is not an IP address") from None
        if not parsed:
            raise FaultOptionError(f"{self.name}: option 'addresses' needs at least one address")
        self.addresses = tuple(parsed)

    def act(self, ctx: QueryContext) -> None:
        ctx.set_addresses(self.addresses)


@register
@dataclasses.dataclass(kw_only=True, eq=False)
class Truncate(DnsFault):
    """UDP answers come back truncated (TC=1, no records), so clients must retry over TCP.

    Only UDP queries match; TCP is answered normally, which is what a client needs to recover.
    """

    name: ClassVar[str] = "dns.truncate"
    summary: ClassVar[str] = "set TC on UDP answers (forces TCP)"

    def matches(self, ctx: QueryContext) -> bool:
        return ctx.transport == "udp" and super().matches(ctx)

    def act(self, ctx: QueryContext) -> None:
        ctx.truncate = True
