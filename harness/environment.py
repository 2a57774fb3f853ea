"""The embedded harness: every component started in order, wired together, stopped in reverse.

``Harness`` is what the CLI, the drills and the pytest plugin run. It owns one loop thread and one
block of loopback addresses, and starts:

1. the authoritative DNS server (``harness.dns``) and the in-process resolver hook, so every
   ``getaddrinfo`` for a managed name in this process (boto3, the sample app, the load generator)
   asks it;
2. the proxy layer (a real Toxiproxy at ``TOXIPROXY_URL`` when one answers, else the embedded one);
3. the DynamoDB regions (moto behind keep-alive fronts; moto in process, or a moto server at
   ``moto_url``), one proxy per endpoint node, global tables;
4. the sample app's replicas (optional) behind ``app.chaos.test``;
5. the health checker, which publishes healthy DynamoDB nodes and app replicas into DNS.

Faults go through ``chaos`` (``harness.chaos.Chaos``), whose environment is the harness itself.
Stopping (also after a failed start, an exception or Ctrl-C) clears every fault first, then stops
everything in reverse order, so nothing is left behind.
"""

from __future__ import annotations

import contextlib
import dataclasses
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from harness.app_process import AppProcesses
from harness.app_provider import require_bundled_app
from harness.chaos import Chaos
from harness.dns import DnsServer, Topology
from harness.dynamodb.regions import DEFAULT_SERVICES
from harness.errors import ConfigError, TimeoutExpired
from harness.loop_thread import LoopThread
from harness.loopback import LoopbackPool
from harness.resolver import DnsCache, HarnessResolver, ResolverOptions, routing
from harness.sandbox import DnsAddress, Sandbox
from harness.scenario.appspec import ProcessSpec

if TYPE_CHECKING:  # imported where first used: moto, boto3 and the app cost most of an import
    from harness.dynamodb import DynamoRegions
    from harness.health import HealthChecker
    from harness.proxies import ProxyLayer

APP_HOSTNAME = "app.chaos.test"
#: How long a reset waits for DNS replies a cleared delay fault still holds (longer ones land late).
HELD_REPLY_WAIT = 5.0


@dataclass
class HarnessConfig:
    """How the embedded harness is shaped. Times are wall-clock seconds."""

    seed: int = 0
    regions: tuple[str, ...] = ("us-east-1", "us-west-2")
    nodes: int = 3
    #: Other AWS services every region serves (``<service>.<region>.amazonaws.com`` -> nodes -> moto).
    services: tuple[str, ...] = DEFAULT_SERVICES
    service_nodes: int = 1
    #: Health-check the other services' endpoints too, so ``health.*`` faults (``group=`` e.g.
    #: "sqs.us-east-1.amazonaws.com") act on them. Off by default: every probe of every node costs
    #: about a millisecond of CPU ten times a second, which would quadruple an idle harness's load.
    service_health_checks: bool = False
    replication_lag: float = 0.05
    #: "resilient", "naive", or None for no app.
    app_profile: str | None = "resilient"
    app_overrides: Mapping[str, Any] = field(default_factory=dict)
    app_replicas: int = 1
    #: None: TOXIPROXY_URL / 127.0.0.1:8474 if a Toxiproxy answers there, else the embedded server.
    toxiproxy_url: str | None = None
    #: The in-process resolver's per-attempt timeout (s) and attempts. None (the default): what
    #: glibc on this machine uses (/etc/resolv.conf, then $RES_OPTIONS; 5 s x 2 when unset), so a
    #: ``dns.timeout`` fault costs what it costs in production. Set them to make tests faster.
    resolver_timeout: float | None = None
    resolver_attempts: int | None = None
    #: Who set the explicit values, for reports ("HarnessConfig", "scenario setup.resolver", ...).
    resolver_source: str = "explicit: HarnessConfig"
    #: Route managed names through the harness DNS for the harness's whole life (CLI, drills). The
    #: pytest plugin passes False and routes only while a chaos test runs (``routing(harness.resolver)``).
    route_dns: bool = True
    #: Client-side DNS cache (how long answers / negative answers are kept); both None: no cache.
    dns_max_ttl: float | None = None
    dns_negative_ttl: float | None = None
    dns_ttl: int = 5
    #: DynamoDB fronts recycle client connections after this long (None: keep them forever).
    connection_max_age: float | None = None
    health_interval: float = 0.1
    health_timeout: float = 0.1
    healthy_threshold: int = 2
    unhealthy_threshold: int = 2
    max_removal_share: float | None = None
    #: Where the DNS server listens: None takes a loopback address from the harness's pool. A
    #: fixed host/port (e.g. port 53) lets other processes and containers use it as their resolver.
    dns_host: str | None = None
    dns_port: int = 0
    #: The port every DynamoDB endpoint node listens on (0: a free one), so an external app's
    #: endpoint URLs can be written down before the harness starts (docker-compose).
    dynamodb_port: int = 0
    #: Allow ``dns_host`` to be a non-loopback address such as 0.0.0.0 (containers only).
    allow_non_loopback: bool = False
    #: The app under test as processes the harness starts in its sandbox (instead of the sample app).
    app_process: ProcessSpec | None = None
    #: CreateTable requests for the app's own tables, created as global tables before it starts.
    tables: tuple[Mapping[str, Any], ...] = ()
    #: A moto server (``http://HOST:PORT``: ``motoserver/moto`` or ``moto_server``) the regions use;
    #: None runs moto in this process. One server can serve several harnesses (one account each).
    moto_url: str | None = None

    def __post_init__(self) -> None:
        if self.app_profile not in (None, "resilient", "naive"):
            raise ConfigError(f"app profile must be 'resilient' or 'naive', got {self.app_profile!r}")
        if isinstance(self.app_replicas, bool) or not isinstance(self.app_replicas, int) or not 1 <= self.app_replicas <= 20:
            raise ConfigError(f"app_replicas must be a whole number from 1 to 20, got {self.app_replicas!r}")
        if self.moto_url is not None:
            from harness.dynamodb.backends import validate_moto_url

            self.moto_url = validate_moto_url(self.moto_url)

    def resolver_options(self) -> ResolverOptions:
        """The resolver's patience: the host's glibc settings, with any explicit field taking over."""
        host = ResolverOptions.from_host()
        if self.resolver_timeout is None and self.resolver_attempts is None:
            return host
        return ResolverOptions(
            timeout=host.timeout if self.resolver_timeout is None else self.resolver_timeout,
            attempts=host.attempts if self.resolver_attempts is None else self.resolver_attempts,
            source=self.resolver_source,
        )


class Harness:
    """A running harness; also the environment faults act on (``dns``, ``proxies``, ``dynamodb``, ``health``)."""

    def __init__(self, config: HarnessConfig | None = None) -> None:
        self.config = config or HarnessConfig()
        self.loop = LoopThread("chaos-harness-loop")
        self.pool = LoopbackPool()
        self.topology = Topology()
        self.dns: DnsServer | None = None
        self.resolver: Any = None
        self.proxies: ProxyLayer | None = None
        self.dynamodb: DynamoRegions | None = None
        self.app: Any = None  # AppProcesses, the bundled app's replicas, or None
        self.health: HealthChecker | None = None
        self.chaos = Chaos(self, seed=self.config.seed)
        self._stack = contextlib.ExitStack()

    # -- lifecycle ------------------------------------------------------------------------------
    def start(self) -> "Harness":
        try:
            self._start()
        except BaseException:
            self.stop()
            raise
        return self

    def _start(self) -> None:
        from harness.dynamodb import DynamoRegions
        from harness.health import HealthChecker, Target, TcpCheck
        from harness.proxies import ProxyLayer

        cfg, stack = self.config, self._stack
        stack.callback(self.loop.close)
        self.loop.start()

        self.dns = DnsServer(self.topology, cfg.dns_host or self.pool.take("dns"), cfg.dns_port, loop=self.loop,
                             allow_non_loopback=cfg.allow_non_loopback)
        stack.callback(self.dns.stop)
        self.dns.start()

        cache = None
        if cfg.dns_max_ttl is not None or cfg.dns_negative_ttl is not None:
            cache = DnsCache(max_ttl=cfg.dns_max_ttl, negative_ttl=cfg.dns_negative_ttl)
        options = cfg.resolver_options()
        self.resolver = HarnessResolver(self.dns_client_address, self.topology.zones, options, cache)
        if cfg.route_dns:
            stack.enter_context(routing(self.resolver))

        self.proxies = ProxyLayer.connect(cfg.toxiproxy_url, seed=cfg.seed, loop=self.loop)
        stack.callback(self.proxies.close)

        self.dynamodb = DynamoRegions(
            self.dns, self.proxies, self.pool, cfg.regions, cfg.nodes, cfg.replication_lag,
            port=cfg.dynamodb_port, dns_ttl=cfg.dns_ttl, max_connection_age=cfg.connection_max_age,
            moto_url=cfg.moto_url, services=cfg.services, service_nodes=cfg.service_nodes,
        )
        stack.callback(self.dynamodb.stop)
        self.dynamodb.start()
        bundled = require_bundled_app() if cfg.app_profile is not None and cfg.app_process is None else None
        self.dynamodb.create_tables([*(bundled.tables if bundled is not None else ()), *cfg.tables], exist_ok=True)

        self.health = HealthChecker(
            self.topology,
            loop=self.loop,
            interval=cfg.health_interval,
            timeout=cfg.health_timeout,
            healthy_threshold=cfg.healthy_threshold,
            unhealthy_threshold=cfg.unhealthy_threshold,
            max_removal_share=cfg.max_removal_share,
        )
        checked = self.dynamodb.endpoints if cfg.service_health_checks else self.dynamodb.regions
        for endpoint in checked:
            targets = [
                Target(address, endpoint.port, check=TcpCheck(), control=_ProxyControl(self.proxies, proxy))
                for proxy, address in zip(endpoint.proxy_names, endpoint.nodes)
            ]
            self.health.add_group(endpoint.hostname, targets, ttl=cfg.dns_ttl)

        if cfg.app_process is not None:
            sandbox = Sandbox(DnsAddress(self.dns_client_address), self.forwards, loop=self.loop)
            self.app = AppProcesses(cfg.app_process, sandbox, self.pool, self.client_environment(), loop=self.loop,
                                    hostname=APP_HOSTNAME)
            stack.callback(self.app.close)
            self.app.start()
            self.health.add_group(APP_HOSTNAME, self.app.targets(), ttl=cfg.dns_ttl)
        elif bundled is not None:
            endpoints = {region.name: region.endpoint_url for region in self.dynamodb.regions}
            self.app = bundled.replicas(cfg.app_profile, cfg.app_overrides, endpoints, self.pool,
                                        count=cfg.app_replicas, hostname=APP_HOSTNAME)
            stack.callback(self.app.stop)
            self.app.start()
            self.health.add_group(APP_HOSTNAME, self.app.targets(), ttl=cfg.dns_ttl)

        stack.callback(self.health.stop)
        self.health.start()
        # Faults are cleared before anything they act on stops (registered last: runs first).
        stack.callback(self.chaos.clear_all)

    def stop(self) -> None:
        """Clear faults, then stop every component in reverse start order (idempotent)."""
        self._stack.close()

    def __enter__(self) -> "Harness":
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # -- per-test state -------------------------------------------------------------------------
    def reset(self) -> None:
        """Back to a clean state without restarting servers: no faults, empty tables, default records."""
        self.chaos.clear_all()
        if self.proxies is not None:
            self.proxies.reset()
        if self.dynamodb is not None:
            self.dynamodb.reset()
        if self.health is not None:
            self.health.reset()
        if self.app is not None:
            if self.dynamodb is not None:  # the app keeps running, so it will not check them itself
                self.dynamodb.require_tables(self.dynamodb.tables)
            self.app.reset()
        if self.dns is not None:
            # A reply a cleared delay fault still holds would land in the next test (its log, its
            # clients); restarting the app used to give them time to go out, an in-place reset waits.
            dns = self.dns
            with contextlib.suppress(TimeoutExpired):
                dns.changed.wait_for(lambda: dns.held == 0, HELD_REPLY_WAIT, "DNS replies held by a delay fault")
            dns.reset()
        if self.resolver is not None and self.resolver.cache is not None:
            self.resolver.cache.clear()

    # -- the app's tables ------------------------------------------------------------------------
    def create_tables(self, specs: list[Mapping[str, Any]]) -> list[str]:
        """Create global tables (CreateTable-shaped specs) unless they exist; the names created."""
        if self.dynamodb is None:
            raise ConfigError("this harness runs no DynamoDB regions; it cannot create tables")
        return [spec.name for spec in self.dynamodb.create_tables(specs, exist_ok=True)]

    def item_in_regions(self, table: str, key: Mapping[str, Any]) -> dict[str, Any]:
        """``{region: item or None}``: the item under a plain key in each region's table now."""
        from harness.dynamodb.items import item_in_regions

        if self.dynamodb is None:
            raise ConfigError("this harness runs no DynamoDB regions; it holds no items")
        return item_in_regions(self.dynamodb, table, key)

    # -- what users and tools read ----------------------------------------------------------------
    @property
    def dns_client_address(self) -> tuple[str, int]:
        """Where this machine's clients send queries (a wildcard bind is reached on loopback)."""
        assert self.dns is not None
        host, port = self.dns.address
        return ({"0.0.0.0": "127.0.0.1", "::": "::1"}.get(host, host), port)

    @property
    def forwards(self) -> list[tuple[str, int]]:
        """TCP services a sandboxed program must reach at their own addresses (nodes, app replicas)."""
        out: list[tuple[str, int]] = []
        if self.dynamodb is not None:
            for endpoint in self.dynamodb.endpoints:
                out += [(address, endpoint.port) for address in endpoint.nodes]
        if self.app is not None:
            out += [(address, self.app.port) for address in self.app.addresses]
        return out

    def client_environment(self) -> dict[str, str]:
        """Variables that point an SDK in any language at this harness (``chaos-harness run``).

        ``AWS_ENDPOINT_URL_DYNAMODB`` (and ``AWS_ENDPOINT_URL_SQS`` etc. for the other services) are
        the AWS SDKs' own per-service endpoint variables, so an unmodified client reaches the primary
        region by name; the per-region URLs are for apps
        that fail over. Credentials are dummies unless the caller set real-looking ones.
        """
        env: dict[str, str] = {"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing"}
        if self.dynamodb is not None:
            env["AWS_DEFAULT_REGION"] = self.dynamodb.primary.name
            env["AWS_ENDPOINT_URL_DYNAMODB"] = self.dynamodb.primary.endpoint_url
            for service, endpoint in self.dynamodb.primary.services.items():
                env[f"AWS_ENDPOINT_URL_{service.upper().replace('-', '_')}"] = endpoint.endpoint_url
            for region in self.dynamodb.regions:
                env[f"CHAOS_DYNAMODB_ENDPOINT_{region.name.upper().replace('-', '_')}"] = region.endpoint_url
        if self.app is not None:
            env["CHAOS_APP_URL"] = self.app.url
        return env

    def describe(self) -> dict[str, str]:
        """Addresses for manual work (``chaos-harness up``)."""
        info: dict[str, str] = {}
        if self.dns is not None:
            host, port = self.dns.address
            info["dns"] = f"{host}:{port} (zones: {', '.join(self.topology.zones)})"
        if self.proxies is not None:
            info["toxiproxy"] = f"{self.proxies.url} ({'embedded' if self.proxies.embedded else 'external'})"
        if self.dynamodb is not None:
            info["moto"] = self.dynamodb.backend.description
            for region in self.dynamodb.regions:
                info[f"dynamodb {region.name}"] = f"{region.endpoint_url} -> {', '.join(region.nodes)}"
                if region.services:
                    info[f"other services {region.name}"] = (
                        f"{', '.join(region.services)} at http://<service>.{region.name}.amazonaws.com:{region.port}")
        if self.app is not None:
            info["app"] = f"{self.app.url} -> {', '.join(self.app.addresses)}"
        return info

    @classmethod
    @contextlib.contextmanager
    def for_scenario(cls, scenario: Any, *, with_app: bool = True, **overrides: Any) -> Iterator["Harness"]:
        """A harness shaped by a scenario's ``setup`` and ``app`` (outage times scaled to wall time).

        ``overrides`` set other ``HarnessConfig`` fields (addresses and ports for ``chaos-harness up``).
        """
        setup = scenario.setup

        def wall(value: float | None) -> float | None:
            return None if value is None else scenario.wall(value)

        config = HarnessConfig(
            seed=scenario.seed,
            regions=tuple(setup.regions),
            nodes=setup.nodes,
            replication_lag=HarnessConfig.replication_lag if setup.replication_lag is None else wall(setup.replication_lag),
            app_profile=scenario.app.profile if with_app and scenario.bundled_app else None,
            app_process=_with_replicas(scenario.app.process, setup.app_replicas) if with_app else None,
            tables=_scenario_tables(scenario),
            app_overrides=dict(scenario.app.overrides),
            app_replicas=setup.app_replicas,
            dns_max_ttl=wall(setup.dns_max_ttl),
            dns_negative_ttl=wall(setup.dns_negative_ttl),
            connection_max_age=wall(setup.connection_max_age),
            resolver_timeout=setup.resolver_timeout,  # wall seconds: a DNS client's wait is not scaled
            resolver_attempts=setup.resolver_attempts,
            resolver_source=f"explicit: scenario {scenario.name} setup.resolver",
        )
        with cls(dataclasses.replace(config, **overrides)) as harness:
            yield harness


def _scenario_tables(scenario: Any) -> tuple[Mapping[str, Any], ...]:
    """The tables a scenario's app needs: its ``app.tables``, and the bundled app's own when it is that app
    (also when it runs elsewhere: ``up --no-app`` with the sample app in a container)."""
    from harness.app_provider import bundled_app

    provider = bundled_app() if scenario.bundled_app else None
    return (*(provider.tables if provider is not None else ()), *scenario.app.tables)


def _with_replicas(process: ProcessSpec | None, default: int) -> ProcessSpec | None:
    """The app's own ``replicas``, else the scenario's ``setup.app_replicas``."""
    if process is None or process.replicas is not None:
        return process
    return dataclasses.replace(process, replicas=default)


class _ProxyControl:
    """Stops a DynamoDB node for real (its proxy disabled: connections dropped, port closed)."""

    def __init__(self, proxies: "ProxyLayer", proxy: str) -> None:
        self.proxies, self.proxy = proxies, proxy

    def stop(self) -> None:
        self.proxies.disable(self.proxy)

    def start(self) -> None:
        self.proxies.enable(self.proxy)
