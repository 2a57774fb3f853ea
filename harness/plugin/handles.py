"""The small objects chaos fixtures give to tests (pytest-httpserver style).

Each wraps one harness component and exposes what a test reads or changes, by the names a test
author thinks in (records, endpoints, replication, published addresses); the component itself is
one attribute away for anything else. They are thin on purpose: behaviour lives in the
components, validation errors are theirs (one-line ``HarnessError``s).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from typing import TYPE_CHECKING, Any

from harness.errors import HarnessError

if TYPE_CHECKING:
    from harness.chaos import ActiveFault


class ComponentUnavailableError(HarnessError):
    """A fixture needs a part of the embedded harness that a remote harness (``--chaos-harness-url``) lacks."""


class ChaosDns:
    """The harness DNS server: records of the served zones, the query log, its address."""

    def __init__(self, harness: Any) -> None:
        self._harness = harness

    @property
    def address(self) -> tuple[str, int]:
        """(host, port) the DNS server answers on (UDP and TCP)."""
        dns = getattr(self._harness, "dns", None)
        return dns.address if dns is not None else tuple(self._harness.dns_address)

    @property
    def zones(self) -> tuple[str, ...]:
        topology = getattr(self._harness, "topology", None)
        return tuple(topology.zones if topology is not None else self._harness.zones)

    @property
    def server(self) -> Any:
        """The ``DnsServer`` (its ``faults`` chain, ``log``, ``reset()``)."""
        return self._embedded("dns")

    @property
    def log(self) -> Any:
        """The query log: ``count(name=None, qtype=None)``, ``entries(name=None)``, ``wait_for``, ``clear()``."""
        return self._embedded("dns").log

    def set(self, name: str, addresses: Iterable[str] | str, ttl: int = 60) -> Any:
        """Publish ``addresses`` for ``name`` (an empty list answers NOERROR with no records)."""
        return self._embedded("topology").set(name, addresses, ttl)

    def get(self, name: str) -> Any:
        """The ``RecordSet`` (``addresses``, ``ttl``) for ``name``, or None."""
        return self._embedded("topology").get(name)

    def remove(self, name: str) -> bool:
        """Delete ``name`` (it answers NXDOMAIN); False if it was not there."""
        return self._embedded("topology").remove(name)

    def names(self) -> list[str]:
        return self._embedded("topology").names()

    def _embedded(self, attr: str) -> Any:
        value = getattr(self._harness, attr, None)
        if value is None:
            raise ComponentUnavailableError(
                "chaos_dns records and query log need the embedded harness; with --chaos-harness-url only "
                "chaos_dns.address and chaos_dns.zones are available"
            )
        return value

    def wait_for_query(self, name: str, *, qtype: str | None = None, count: int = 1, timeout: float = 5.0) -> int:
        """Block until ``name`` was asked at least ``count`` times; returns how often it was."""
        log = self.log

        def reached() -> int:
            seen = log.count(name, qtype)
            return seen if seen >= count else 0

        return log.wait_for(reached, timeout, f"{count} DNS quer{'y' if count == 1 else 'ies'} for {name}")


class ChaosDynamoDB:
    """The mocked DynamoDB regions: endpoints, boto3 clients, global tables, replication."""

    def __init__(self, regions: Any) -> None:
        self.component = regions  # the ``DynamoRegions``

    @property
    def regions(self) -> list[str]:
        return [region.name for region in self.component.regions]

    @property
    def endpoints(self) -> dict[str, str]:
        """Region name -> endpoint URL (by hostname, so every new connection resolves through the harness DNS)."""
        return {region.name: region.endpoint_url for region in self.component.regions}

    def endpoint_url(self, region: str = "us-east-1") -> str:
        return self.component.region(region).endpoint_url

    def hostname(self, region: str = "us-east-1") -> str:
        return self.component.region(region).hostname

    def nodes(self, region: str = "us-east-1") -> dict[str, str]:
        """Proxy name -> node address for a region's endpoint nodes (the targets of network faults)."""
        r = self.component.region(region)
        return dict(zip(r.proxy_names, r.nodes))

    def client(self, region: str = "us-east-1", **config: Any) -> Any:
        """A boto3 DynamoDB client for ``region``; ``config`` goes to ``botocore.config.Config``."""
        return self.component.region(region).client(**config)

    def create_table(self, spec: Mapping[str, Any]) -> str:
        """Create a global table in every region once per session (a ``CreateTable`` request or a
        ``{"name", "partition_key", "sort_key"}`` mapping); later calls with the same name do nothing.
        Its items are emptied before every test."""
        from harness.dynamodb.tables import TableSpec

        table = TableSpec.of(spec)
        if table.name not in self.component.tables:
            self.component.create_tables([table])
        return table.name

    @property
    def tables(self) -> list[str]:
        return list(self.component.tables)

    def items(self, table: str, region: str = "us-east-1") -> list[dict[str, Any]]:
        """Every item of ``table`` in ``region`` in DynamoDB's *wire format* (``{"pk": {"S": "u1"}}``),
        as the low-level client returns them; read directly: no network, no faults."""
        return self.component.region(region).items(table)

    def plain_items(self, table: str, region: str = "us-east-1") -> list[dict[str, Any]]:
        """``items()`` as plain Python (``{"pk": "u1", "n": Decimal("3")}``), as boto3's resource API
        and ``TypeDeserializer`` give them."""
        from boto3.dynamodb.types import TypeDeserializer

        deserializer = TypeDeserializer()
        return [{name: deserializer.deserialize(value) for name, value in item.items()}
                for item in self.items(table, region)]

    # -- client connections (warm pool vs pool turned over) ----------------------------------------
    @property
    def connection_max_age(self) -> float | None:
        """Seconds the endpoints keep a client connection before closing it (None: forever). Set it
        in a test to make pools turn over; every chaos test starts from the session's setting
        (``--chaos-connection-max-age``)."""
        return self.component.connection_max_age

    @connection_max_age.setter
    def connection_max_age(self, seconds: float | None) -> None:
        self.component.connection_max_age = seconds

    def close_connections(self) -> int:
        """Close every pooled client connection now (one in flight after its response), of every
        endpoint (the other services' too): each client's next call reconnects and resolves the
        endpoint name again. Returns how many."""
        return self.component.close_connections()

    def reset(self) -> None:
        """Empty every table, clear service faults, resume replication."""
        self.component.reset()

    # -- global-table replication ---------------------------------------------------------------
    @property
    def replication(self) -> Any:
        return self.component.replication

    def pause_replication(self) -> None:
        self.component.replication.pause()

    def resume_replication(self) -> None:
        self.component.replication.resume()

    def wait_replicated(self, timeout: float = 5.0) -> None:
        """Block until every region has every write (replication must not be paused)."""
        self.component.replication.wait_caught_up(timeout)


class ChaosAws:
    """The other AWS services every region serves (sts, sqs, s3, ...): real hostnames, moto behind.

    ``<service>.<region>.amazonaws.com`` resolves through the harness DNS to that endpoint's nodes,
    so DNS faults (by ``qname``), network faults (``service=``) and health faults (``group=`` the
    hostname) reach it by name. Their state (queues, buckets) lives for the whole session.
    Connection age and ``close_connections()`` are ``chaos_dynamodb``'s: they cover every endpoint.
    """

    def __init__(self, regions: Any) -> None:
        self.component = regions  # the ``DynamoRegions``

    @property
    def services(self) -> list[str]:
        return list(self.component.primary.services)

    def endpoint_url(self, service: str, region: str = "us-east-1") -> str:
        """``http://sqs.us-east-1.amazonaws.com:PORT``: give it to your client as ``endpoint_url``."""
        return self.component.region(region).endpoint(service).endpoint_url

    def endpoints(self, service: str) -> dict[str, str]:
        """Region name -> endpoint URL of ``service`` in every running region."""
        return {region.name: region.endpoint(service).endpoint_url for region in self.component.regions}

    def hostname(self, service: str, region: str = "us-east-1") -> str:
        return self.component.region(region).endpoint(service).hostname

    def client(self, service: str, region: str = "us-east-1", **config: Any) -> Any:
        """A boto3 client for ``service`` in ``region`` (S3 path-style); ``config`` goes to botocore's Config."""
        return self.component.region(region).endpoint(service).client(**config)


class ChaosHealth:
    """The health checker that publishes healthy DynamoDB nodes (and app replicas) into DNS."""

    def __init__(self, checker: Any) -> None:
        self.checker = checker

    def published(self, group: str) -> tuple[str, ...]:
        """Addresses currently published for ``group`` (a DNS name such as ``dynamodb.us-east-1.amazonaws.com``)."""
        return self.checker.published(group)

    def healthy(self, group: str) -> dict[str, bool]:
        return self.checker.healthy(group)

    @property
    def events(self) -> list[Any]:
        return self.checker.events

    def wait_for_state(self, target: int | str, healthy: bool, *, group: str, timeout: float = 5.0) -> Any:
        """Wait until ``target`` (index or address) of ``group`` is (un)healthy; returns the event."""
        return self.checker.wait_for_state(target, healthy, group=group, timeout=timeout)

    def wait_for_published(self, group: str, predicate: Callable[[tuple[str, ...]], bool], *,
                           timeout: float = 5.0) -> tuple[str, ...]:
        """Wait until the addresses published for ``group`` satisfy ``predicate``; returns them."""
        def check() -> tuple[str, ...] | None:
            addresses = self.checker.published(group)
            return addresses if predicate(addresses) else None

        return self.checker.wait_for(check, timeout, f"published addresses of {group} to match")


class ChaosFaults:
    """The ``chaos`` fixture: inject registered faults by name; all cleared when the test ends."""

    def __init__(self, chaos: Any) -> None:
        self._chaos = chaos

    def inject(self, fault: str, options: Mapping[str, Any] | None = None, /, **kw: Any) -> "ActiveFault":
        """Start ``fault`` (e.g. ``"dns.empty_answer"``) with its options; returns a handle that is also a
        context manager. Without ``with`` it stays active until ``clear()`` or the end of the test.

        A wrong name or option raises its ``HarnessError`` (``FaultOptionError``, ``UnknownFaultError``)
        with the harness's own frames hidden, so the test report shows the test's line and one
        error line, as for the marker."""
        __tracebackhide__ = True
        try:
            return self._chaos.inject(fault, dict(options or {}, **kw))
        except HarnessError as exc:
            raise exc.with_traceback(None) from None

    def clear(self, handle: "ActiveFault | None" = None) -> None:
        """Clear one injected fault, or every active fault when no handle is given."""
        if handle is None:
            self._chaos.clear_all()
        else:
            self._chaos.clear(handle)

    @property
    def active(self) -> list["ActiveFault"]:
        return self._chaos.active

    @property
    def history(self) -> list[Any]:
        return self._chaos.history

    @staticmethod
    def fault_names() -> list[str]:
        from faults import fault_names

        return fault_names()
