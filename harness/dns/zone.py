"""The records the harness's DNS server is authoritative for.

``Topology`` is the single source of truth that the DNS server answers from and that the
DynamoDB regions and the health checker publish to (a node going unhealthy is a ``set`` with one
address fewer). Reads take an immutable snapshot, so a query never sees half an update, and
every change bumps ``version`` so the server can drop cached answers: a change is visible on the
very next query.
"""

from __future__ import annotations

import ipaddress
import threading
from collections.abc import Iterable
from dataclasses import dataclass

from harness.errors import ConfigError
from harness.waiting import ChangeSignal

# Route 53's defaults for a hosted zone's SOA record: TTL 900 s, MINIMUM 86400 s.
ROUTE53_SOA_TTL = 900
ROUTE53_SOA_MINIMUM = 86400
# The other SOA timers Route 53 puts in every zone (refresh, retry, expire).
ROUTE53_SOA_TIMERS = (7200, 900, 1209600)


def normalize_name(name: str) -> str:
    """Lower-case, no trailing dot: DNS names compare case-insensitively (RFC 4343)."""
    return name.strip().rstrip(".").lower()


@dataclass(frozen=True)
class RecordSet:
    """Addresses published for one name; A and AAAA records are chosen by address family."""

    name: str
    addresses: tuple[str, ...]
    ttl: int

    @property
    def ipv4(self) -> tuple[str, ...]:
        return tuple(a for a in self.addresses if ":" not in a)

    @property
    def ipv6(self) -> tuple[str, ...]:
        return tuple(a for a in self.addresses if ":" in a)

    def for_qtype(self, qtype: str) -> tuple[str, ...]:
        """The addresses an ``A``, ``AAAA`` or ``ANY`` question is answered with."""
        if qtype == "A":
            return self.ipv4
        if qtype == "AAAA":
            return self.ipv6
        if qtype == "ANY":
            return self.addresses
        return ()


@dataclass(frozen=True)
class SoaFields:
    """The SOA record of one zone, in Route 53's shape."""

    zone: str
    mname: str
    rname: str
    serial: int
    refresh: int
    retry: int
    expire: int
    minimum: int
    ttl: int


@dataclass(frozen=True)
class _Snapshot:
    version: int
    records: dict[str, RecordSet]
    existing: frozenset[str]  # record names, their ancestors inside a zone (empty non-terminals), apexes


class Topology:
    """Name -> addresses for the zones the harness serves; thread-safe, versioned."""

    def __init__(
        self,
        zones: Iterable[str] = ("amazonaws.com", "chaos.test"),
        soa_ttl: int = ROUTE53_SOA_TTL,
        soa_minimum: int = ROUTE53_SOA_MINIMUM,
    ) -> None:
        names = tuple(normalize_name(z) for z in ([zones] if isinstance(zones, str) else zones))
        if not names or any(not z for z in names):
            raise ConfigError(f"DNS topology needs at least one non-empty zone name, got {list(names)!r}")
        for value, what in ((soa_ttl, "soa_ttl"), (soa_minimum, "soa_minimum")):
            if isinstance(value, bool) or not isinstance(value, int) or value < 0:
                raise ConfigError(f"DNS topology {what} must be a whole number of seconds >= 0, got {value!r}")
        # Longest first so zone_of() picks the most specific zone ("a.b.test" before "b.test").
        self.zones: tuple[str, ...] = tuple(sorted(set(names), key=lambda z: (-z.count("."), z)))
        self.soa_ttl = soa_ttl
        self.soa_minimum = soa_minimum
        self.changed = ChangeSignal()
        self._lock = threading.Lock()
        self._snapshot = _Snapshot(0, {}, frozenset(self.zones))

    # -- reading --------------------------------------------------------------------------------
    @property
    def version(self) -> int:
        return self._snapshot.version

    @property
    def negative_ttl(self) -> int:
        """How long resolvers cache NXDOMAIN/NODATA: min(SOA TTL, SOA MINIMUM) (RFC 2308 s5)."""
        return min(self.soa_ttl, self.soa_minimum)

    def get(self, name: str) -> RecordSet | None:
        return self._snapshot.records.get(normalize_name(name))

    def names(self) -> list[str]:
        return sorted(self._snapshot.records)

    def exists(self, name: str) -> bool:
        """True when the name exists in DNS (has records, is an apex or an empty non-terminal)."""
        return normalize_name(name) in self._snapshot.existing

    def lookup(self, name: str) -> tuple[bool, RecordSet | None]:
        """Whether the name exists and its records, read from one snapshot (never half an update)."""
        snapshot, key = self._snapshot, normalize_name(name)
        return key in snapshot.existing, snapshot.records.get(key)

    def zone_of(self, name: str) -> str | None:
        """The most specific configured zone containing ``name``, or None (the server REFUSES it)."""
        name = normalize_name(name)
        for zone in self.zones:
            if name == zone or name.endswith("." + zone):
                return zone
        return None

    def soa(self, zone: str) -> SoaFields:
        zone = normalize_name(zone)
        refresh, retry, expire = ROUTE53_SOA_TIMERS
        return SoaFields(
            zone=zone,
            mname=f"ns1.{zone}",
            rname=f"hostmaster.{zone}",
            serial=self.version + 1,
            refresh=refresh,
            retry=retry,
            expire=expire,
            minimum=self.soa_minimum,
            ttl=self.soa_ttl,
        )

    # -- changing -------------------------------------------------------------------------------
    def set(self, name: str, addresses: Iterable[str], ttl: int = 60) -> RecordSet:
        """Publish ``addresses`` for ``name`` (replacing what was there); empty means NODATA."""
        key = normalize_name(name)
        if self.zone_of(key) is None:
            raise ConfigError(f"DNS name {name!r} is outside the served zones ({', '.join(self.zones)})")
        if isinstance(ttl, bool) or not isinstance(ttl, int) or not 0 <= ttl <= 2**31 - 1:
            raise ConfigError(f"DNS TTL for {name!r} must be a whole number of seconds >= 0, got {ttl!r}")
        if isinstance(addresses, str):
            addresses = [addresses]
        parsed = []
        for address in addresses:
            try:
                parsed.append(str(ipaddress.ip_address(str(address).strip())))
            except ValueError:
                raise ConfigError(f"DNS record for {name!r}: {address!r} is not an IPv4 or IPv6 address") from None
        records = RecordSet(key, tuple(dict.fromkeys(parsed)), ttl)
        with self._lock:
            current = dict(self._snapshot.records)
            current[key] = records
            self._publish(current)
        return records

    def remove(self, name: str) -> bool:
        """Delete the name (it becomes NXDOMAIN); False if it was not there."""
        key = normalize_name(name)
        with self._lock:
            if key not in self._snapshot.records:
                return False
            current = dict(self._snapshot.records)
            del current[key]
            self._publish(current)
        return True

    def _publish(self, records: dict[str, RecordSet]) -> None:
        existing = set(self.zones)
        for name in records:
            zone = self.zone_of(name)
            assert zone is not None
            existing.add(name)
            labels = name.split(".")
            for i in range(1, len(labels)):
                parent = ".".join(labels[i:])
                if len(parent) <= len(zone):
                    break
                existing.add(parent)
        self._snapshot = _Snapshot(self._snapshot.version + 1, records, frozenset(existing))
        self.changed.notify()

