"""Network faults on the DynamoDB endpoint nodes, as Toxiproxy toxics (or a disabled proxy).

Every node of ``dynamodb.<region>.amazonaws.com`` is a Toxiproxy proxy, so a fault targets a whole
region or single nodes (``node``: 0-based index or proxy name such as ``dynamodb-us-east-1-n2``).
``service`` picks another service's endpoint in the region instead (``sqs`` -> the nodes of
``sqs.<region>.amazonaws.com``, proxies such as ``sqs-us-east-1-n1``).
``toxicity`` is Toxiproxy's per-connection share; ``probability`` (seeded) picks which of the
targeted nodes are affected, so "one node in three is sick" repeats exactly for a seed.
"""

from __future__ import annotations

import dataclasses
import itertools
from dataclasses import field
from typing import Any, ClassVar, Literal

from faults.base import Environment, Fault, fault, option
from faults.environment import DYNAMODB, PROXIES
from harness.errors import ComponentMissingError, ConfigError, FaultOptionError

_toxic_ids = itertools.count(1)


class NodeFault(Fault):
    """Options and node selection shared by every network fault."""

    region: tuple[str, ...] = option(("us-east-1",), "region(s) whose endpoint nodes are hit")
    node: tuple[int | str, ...] = option((), "nodes by 0-based index or proxy name (empty: every node)")
    service: str = option("dynamodb", "whose endpoint: dynamodb, or another service such as sqs or sts")

    def select_proxies(self, env: Environment) -> list[str]:
        """Proxy names of the targeted nodes that this run's seeded draw affects."""
        dynamodb = self.require(env.dynamodb, DYNAMODB)
        regions = [region.endpoint(self.service) for region in dynamodb.select(self.region)]
        names: list[str] = []
        for region in regions:
            if region.port is None:
                raise ComponentMissingError(f"fault {self.name} needs endpoint nodes (proxies) for {region.hostname}")
            for which in self.node or range(len(region.nodes)):
                if isinstance(which, str) and which not in region.proxy_names and len(regions) > 1:
                    continue  # a node named in another of the selected regions
                names.append(region.node(which)[0])
        missing = [n for n in self.node if isinstance(n, str) and n not in names]
        if missing:
            raise ConfigError(f"{self.name}: node {missing[0]!r} is not in region(s) {', '.join(self.region)}")
        return [name for name in names if self.roll(name)]


class ToxicFault(NodeFault):
    """A fault that is one Toxiproxy toxic on each affected node (``class X(ToxicFault, toxic="latency")``)."""

    toxic_type: ClassVar[str]  # the Toxiproxy toxic type, given as the class keyword ``toxic``
    stream: Literal["downstream", "upstream"] = option("downstream", "direction: downstream (to the client) or upstream")
    toxicity: float = option(1.0, "share of connections the toxic acts on (Toxiproxy's toxicity)", "0..1")
    toxics: list[tuple[str, str]] = field(default_factory=list, init=False, repr=False)

    def __init_subclass__(cls, toxic: str | None = None, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        if toxic is not None:
            cls.toxic_type = toxic

    def validate(self) -> None:
        if not 0.0 <= self.toxicity <= 1.0:
            raise FaultOptionError(f"{self.name}: toxicity must be between 0 and 1, got {self.toxicity!r}",
                                   option="toxicity")
        for name, value in self.attributes().items():
            if value < 0:
                raise FaultOptionError(f"{self.name}: {name} must be >= 0, got {value!r}", option=name)

    def attributes(self) -> dict[str, Any]:
        """The toxic's attributes: the options a subclass adds beyond the shared ones."""
        shared = {f.name for f in dataclasses.fields(ToxicFault)}
        return {f.name: getattr(self, f.name) for f in dataclasses.fields(self) if f.init and f.name not in shared}

    def start(self, env: Environment) -> None:
        proxies = self.require(env.proxies, PROXIES)
        targets = self.select_proxies(env)
        try:
            for proxy in targets:
                name = f"{self.name}-{next(_toxic_ids)}"
                proxies.add_toxic(proxy, self.toxic_type, self.attributes(), self.stream, self.toxicity, name)
                self.toxics.append((proxy, name))
        except BaseException:
            self.stop(env)  # never leave half a fault behind
            raise

    def stop(self, env: Environment) -> None:
        proxies = self.require(env.proxies, PROXIES)
        while self.toxics:
            proxy, name = self.toxics.pop()
            proxies.remove_toxic(proxy, name)


@fault("network.latency")
class Latency(ToxicFault, toxic="latency"):
    """Add latency (ms, +/- jitter) to data through the nodes."""

    latency: int = option(1000, "delay added to data through the nodes", "ms")
    jitter: int = option(0, "random +/- variation of the latency", "ms")


@fault("network.reset")
class Reset(ToxicFault, toxic="reset_peer"):
    """Connections reset (TCP RST) after timeout ms."""

    timeout: int = option(0, "reset connections after this long (0: at once)", "ms")


@fault("network.blackhole")
class Blackhole(ToxicFault, toxic="timeout"):
    """Data silently dropped; connections hang (closed after timeout ms if > 0)."""

    timeout: int = option(0, "close the connection after this long (0: hang forever)", "ms")


@fault("network.bandwidth")
class Bandwidth(ToxicFault, toxic="bandwidth"):
    """Limit throughput to rate KB/s."""

    rate: int = option(1, "throughput limit", "KB/s")


@fault("network.slow_close")
class SlowClose(ToxicFault, toxic="slow_close"):
    """Delay closing connections by delay ms."""

    delay: int = option(1000, "how long closing a connection is delayed", "ms")


@fault("network.limit_data")
class LimitData(ToxicFault, toxic="limit_data"):
    """Close connections after bytes bytes."""

    bytes: int = option(0, "close each connection after this much data", "bytes")


@fault("network.partition")
class Partition(NodeFault):
    """Nodes down: proxies disabled, connections dropped and refused."""

    disabled: list[str] = field(default_factory=list, init=False, repr=False)

    def start(self, env: Environment) -> None:
        proxies = self.require(env.proxies, PROXIES)
        try:
            for proxy in self.select_proxies(env):
                proxies.disable(proxy)
                self.disabled.append(proxy)
        except BaseException:
            self.stop(env)
            raise

    def stop(self, env: Environment) -> None:
        proxies = self.require(env.proxies, PROXIES)
        while self.disabled:
            proxies.enable(self.disabled.pop())
