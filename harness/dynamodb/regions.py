"""All mocked DynamoDB regions of one harness, their endpoint nodes, DNS records and replication."""

from __future__ import annotations

import functools
import math
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from harness.dynamodb.backends import moto_backend
from harness.dynamodb.clients import botocore_session
from harness.dynamodb.region import Region
from harness.dynamodb.replication import Replicator
from harness.dynamodb.tables import TableSpec
from harness.errors import ConfigError
from harness.loopback import LoopbackPool, bind_socket, shared_port


@functools.cache
def _known_services() -> frozenset[str]:
    return frozenset(botocore_session().get_available_services())


def known_regions() -> list[str]:
    """Regions botocore knows DynamoDB in (all partitions), for validating configuration."""
    return list(_known_regions())


@functools.cache
def _known_regions() -> tuple[str, ...]:
    # What ``get_available_regions("dynamodb", partition)`` returns for every partition, read from the
    # endpoint data in one pass: that call loads the service model and lists botocore's data
    # directories once per partition (0.2 s of a harness start, against 0.03 s for this).
    partitions = botocore_session().get_data("endpoints")["partitions"]
    return tuple(sorted({name for p in partitions for name in p["services"].get("dynamodb", {}).get("endpoints", {})
                         if name in p["regions"]}))


def validate_regions(regions: Sequence[str]) -> list[str]:
    if isinstance(regions, str):
        regions = [regions]
    regions = list(regions)
    if not regions:
        raise ConfigError("DynamoDB needs at least one region")
    known = known_regions()
    for name in regions:
        if name not in known:
            close = [k for k in known if k.split("-")[0] == str(name).split("-")[0]][:4]
            hint = f" (e.g. {', '.join(close)})" if close else ""
            raise ConfigError(f"unknown DynamoDB region {name!r}{hint}")
    if len(set(regions)) != len(regions):
        raise ConfigError(f"DynamoDB regions listed twice: {regions}")
    return regions


def _check_max_age(seconds: float | None) -> float | None:
    if seconds is not None and (isinstance(seconds, bool) or not isinstance(seconds, (int, float))
                                or not (seconds > 0 and math.isfinite(seconds))):
        raise ConfigError(f"connection_max_age must be a positive number of seconds or None, got {seconds!r}")
    return seconds


#: Services every region serves besides DynamoDB by default (``HarnessConfig.services``): what an
#: app next to DynamoDB typically calls, and what failed with it in us-east-1 on 20 Oct 2025.
DEFAULT_SERVICES = ("sts", "sqs", "sns", "s3", "lambda", "kinesis", "secretsmanager", "ssm")


def validate_services(services: Sequence[str]) -> list[str]:
    """Service names as botocore spells them (endpoint prefixes), each once, DynamoDB excluded."""
    services = [services] if isinstance(services, str) else list(services)
    for name in services:
        if name == "dynamodb":
            raise ConfigError("'dynamodb' is always served; list only the other services")
        # The defaults are known (a test checks them against botocore); listing every service botocore
        # ships means reading its data directories, which only a name outside them needs.
        if name not in DEFAULT_SERVICES and name not in _known_services():
            raise ConfigError(f"unknown AWS service {name!r} (botocore's names, e.g. sqs, sts, s3, secretsmanager)")
    if len(set(services)) != len(services):
        raise ConfigError(f"services listed twice: {services}")
    return services


class DynamoRegions:
    """Mocked DynamoDB in several regions as global tables, reached by name over real TCP.

    ``dns`` (a ``DnsServer`` or a ``Topology``) gets ``dynamodb.<region>.amazonaws.com`` -> node
    addresses; ``proxies`` (a ``ProxyLayer``) gets one proxy per node. Without them the regions
    still run and clients talk to the front servers directly (unit tests, benchmarks).

    ``moto_url`` (e.g. ``http://127.0.0.1:5000``) uses a moto server instead of moto in process:
    the fronts forward to it and the harness reads and writes it over HTTP
    (``harness.dynamodb.backends``); ``start()`` fails with one line if it does not answer.
    """

    def __init__(
        self,
        dns: Any = None,
        proxies: Any = None,
        pool: LoopbackPool | None = None,
        regions: Sequence[str] = ("us-east-1", "us-west-2"),
        nodes: int = 3,
        replication_lag: float = 0.05,
        *,
        port: int = 0,
        dns_ttl: int = 5,
        max_connection_age: float | None = None,
        moto_url: str | None = None,
        services: Sequence[str] = (),
        service_nodes: int = 1,
    ) -> None:
        names = validate_regions(regions)
        services = validate_services(services)
        if isinstance(service_nodes, bool) or not isinstance(service_nodes, int) or not 1 <= service_nodes <= 10:
            raise ConfigError(f"nodes per service endpoint must be a whole number from 1 to 10, got {service_nodes!r}")
        if isinstance(nodes, bool) or not isinstance(nodes, int) or not 1 <= nodes <= 50:
            raise ConfigError(f"DynamoDB nodes per region must be a whole number from 1 to 50, got {nodes!r}")
        if not (isinstance(replication_lag, (int, float)) and replication_lag >= 0 and math.isfinite(replication_lag)):
            raise ConfigError(f"replication_lag must be a number of seconds >= 0, got {replication_lag!r}")
        if not (isinstance(port, int) and 0 <= port <= 65535):
            raise ConfigError(f"DynamoDB endpoint port must be 0..65535, got {port!r}")
        self.topology = getattr(dns, "topology", dns)
        self.proxies = proxies
        self.pool = pool or LoopbackPool()
        self.backend = moto_backend(moto_url)
        self.account_id = self.backend.account_id
        self.dns_ttl = dns_ttl
        self.default_connection_max_age = _check_max_age(max_connection_age)
        self._port = port
        self._stores = {name: self.backend.store(name) for name in names}
        self.replication = Replicator(self._stores, replication_lag)
        self._regions = {
            name: Region(name, store, self.replication, self.pool, nodes=nodes, moto_app=self.backend.app(),
                         max_connection_age=max_connection_age, services=services, service_nodes=service_nodes)
            for name, store in self._stores.items()
        }
        self._specs: list[TableSpec] = []
        self._created_proxies: list[str] = []
        self._started = False

    # -- lookup ---------------------------------------------------------------------------------
    @property
    def regions(self) -> list[Region]:
        return list(self._regions.values())

    @property
    def primary(self) -> Region:
        return self.regions[0]

    def region(self, name: str) -> Region:
        try:
            return self._regions[name]
        except KeyError:
            raise ConfigError(
                f"DynamoDB region {name!r} is not running in this harness (running: {', '.join(self._regions)})"
            ) from None

    def select(self, regions: str | Iterable[str] | None) -> list[Region]:
        """Regions named by a fault's ``region`` option (one name, a list, or None for the primary)."""
        if regions is None:
            return [self.primary]
        if isinstance(regions, str):
            regions = [regions]
        return [self.region(name) for name in regions]

    # -- lifecycle ------------------------------------------------------------------------------
    def start(self) -> "DynamoRegions":
        if self._started:
            return self
        self.backend.check()  # before anything starts: nothing to undo if moto is not there
        self._started = True
        try:
            for front in self.fronts:
                front.start()
            self.replication.start()
            if self.proxies is not None:
                self._start_nodes()
                if self.topology is not None:
                    for endpoint in self.endpoints:
                        self.topology.set(endpoint.hostname, endpoint.nodes, self.dns_ttl)
        except BaseException:
            self.stop()
            raise
        return self

    def _start_nodes(self) -> None:
        """One proxy per node, all nodes of all regions on one port.

        One port everywhere means a DNS answer pointing a region's name at another region's nodes
        (``dns.wrong_address``) still connects, and gets that region's wrong-scope error, as in AWS.
        """
        addresses = [a for endpoint in self.endpoints for a in endpoint.nodes]
        if self._port:
            port, socks = self._port, []
            try:
                for address in addresses:
                    socks.append(bind_socket(address, port, what="DynamoDB endpoint node"))
            except BaseException:
                for sock in socks:
                    sock.close()
                raise
        else:
            port, socks = shared_port(addresses, what="DynamoDB endpoint nodes")
        for sock in socks:
            sock.close()  # the proxies bind these addresses themselves
        for endpoint in self.endpoints:
            upstream = f"{endpoint.front.host}:{endpoint.front.port}"
            for proxy, address in zip(endpoint.proxy_names, endpoint.nodes):
                self.proxies.create(proxy, f"{address}:{port}", upstream)
                self._created_proxies.append(proxy)
            endpoint.port = port

    def stop(self) -> None:
        """Undo start() in reverse; every step runs even if an earlier one fails (first error re-raised)."""
        if not self._started:
            return
        self._started = False
        steps = []
        if self.topology is not None and self.proxies is not None:
            steps += [lambda e=endpoint: self.topology.remove(e.hostname) for endpoint in self.endpoints]
        steps += [lambda p=proxy: self.proxies.destroy(p) for proxy in reversed(self._created_proxies)]
        steps += [self.replication.stop] + [front.stop for front in self.fronts]
        steps += [self.backend.close]
        self._created_proxies.clear()
        for endpoint in self.endpoints:
            endpoint.port = None
        first_error: BaseException | None = None
        for step in steps:
            try:
                step()
            except BaseException as exc:
                first_error = first_error or exc
        if first_error is not None:
            raise first_error

    def __enter__(self) -> "DynamoRegions":
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # -- tables and per-test state --------------------------------------------------------------
    def create_tables(self, specs: Iterable[TableSpec | Mapping[str, Any]], *, exist_ok: bool = False) -> list[TableSpec]:
        """Create each table in every region (a global table); returns the specs of the tables created.

        ``exist_ok`` skips a table this harness already created (an app started again, or a
        second ``chaos-harness run`` against the same running harness).
        """
        created = []
        for spec in (TableSpec.of(s) for s in specs):
            if exist_ok and spec.name in self.tables:
                continue
            for store in self._stores.values():
                store.create_table(spec)
            self._specs.append(spec)
            created.append(spec)
        return created

    @property
    def tables(self) -> list[str]:
        return [s.name for s in self._specs]

    # -- client connections ---------------------------------------------------------------------
    @property
    def connection_max_age(self) -> float | None:
        """Seconds every endpoint keeps a client connection (None: forever); reset() restores the default."""
        return self.primary.front.max_connection_age

    @connection_max_age.setter
    def connection_max_age(self, seconds: float | None) -> None:
        _check_max_age(seconds)
        for front in self.fronts:
            front.max_connection_age = seconds

    def close_connections(self) -> int:
        """Close every pooled client connection of every endpoint now (busy ones after their
        response): the "pool turned over" case. Returns how many were open.

        Returns once the endpoint nodes have closed the clients' side too (embedded Toxiproxy), so
        a client's very next call finds its pooled connection gone and opens a new one: a test can
        rely on it instead of on timing."""
        peers = [peer for front in self.fronts for peer in front.close_connections()]
        if self.proxies is not None:
            self.proxies.wait_upstreams_closed(peers)
        return len(peers)

    @property
    def fronts(self) -> list[Any]:
        return [front for region in self.regions for front in region.fronts]

    @property
    def endpoints(self) -> list[Any]:
        """Every endpoint of every region (DynamoDB and the other services), each with its nodes."""
        return [endpoint for region in self.regions for endpoint in region.endpoints]

    def require_tables(self, names: Iterable[str]) -> None:
        """``ConfigError`` naming the first of ``names`` missing in some region (a test dropped it)."""
        for name in names:
            for region in self.regions:
                if not region.store.has_table(name):
                    raise region.store.missing(name)

    def reset(self) -> None:
        """Per-test state in milliseconds: tables emptied, faults and logs cleared, replication resumed,
        the endpoints' connection lifetime back to the configured one."""
        self.connection_max_age = self.default_connection_max_age
        self.replication.reset()
        for region in self.regions:
            region.store.empty()
            region.service_faults.clear()
            region.requests.clear()
