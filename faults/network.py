"""Network faults on the DynamoDB endpoint nodes, as Toxiproxy toxics (or a disabled proxy).

Every node of ``dynamodb.<region>.amazonaws.com`` is a Toxiproxy proxy, so a fault targets a whole
region or single nodes (``node``: 0-based index or proxy name such as ``dynamodb-us-east-1-n2``).
``toxicity`` is Toxiproxy's per-connection share; ``probability`` (seeded) picks which of the
targeted nodes are affected, so "one node in three is sick" repeats exactly for a seed.
"""

from __future__ import annotations

import itertools
import dataclasses
from dataclasses import dataclass, field
from typing import Any, ClassVar, Literal

from faults.base import Environment, Fault, register
from harness.errors import ComponentMissingError, ConfigError, FaultOptionError

_toxic_ids = itertools.count(1)


@dataclass(kw_only=True, eq=False)
class NodeFault(Fault):
    """Options and node selection shared by every network fault."""

    region: tuple[str, ...] = ("us-east-1",)
    node: tuple[int | str, ...] = ()  # empty: every node of the region(s)

    def select_proxies(self, env: Environment) -> list[str]:
        """Proxy names of the targeted nodes that this run's seeded draw affects."""
        dynamodb = self.component(env, "dynamodb", "mocked DynamoDB regions")
        regions = dynamodb.select(self.region)
        names: list[str] = []
        for region in regions:
            if region.port is None:
                raise ComponentMissingError(f"fault {self.name} needs endpoint nodes (proxies) for {region.name}")
            for which in self.node or range(len(region.nodes)):
                if isinstance(which, str) and which not in region.proxy_names and len(regions) > 1:
                    continue  # a node named in another of the selected regions
                names.append(region.node(which)[0])
        missing = [n for n in self.node if isinstance(n, str) and n not in names]
        if missing:
            raise ConfigError(f"{self.name}: node {missing[0]!r} is not in region(s) {', '.join(self.region)}")
        return [name for name in names if self.roll(name)]


@dataclass(kw_only=True, eq=False)
class ToxicFault(NodeFault):
    """A fault that is one Toxiproxy toxic on each affected node."""

    toxic_type: ClassVar[str]
    stream: Literal["downstream", "upstream"] = "downstream"
    toxicity: float = 1.0
    toxics: list[tuple[str, str]] = field(default_factory=list, init=False, repr=False)

    def validate(self) -> None:
        if not 0.0 <= self.toxicity <= 1.0:
            raise FaultOptionError(f"{self.name}: toxicity must be between 0 and 1, got {self.toxicity!r}")
        for option, value in self.attributes().items():
            if value < 0:
                raise FaultOptionError(f"{self.name}: {option} must be >= 0, got {value!r}")

    def attributes(self) -> dict[str, Any]:
        """The toxic's attributes: the options a subclass adds beyond the shared ones."""
        shared = {f.name for f in dataclasses.fields(ToxicFault)}
        return {f.name: getattr(self, f.name) for f in dataclasses.fields(self) if f.init and f.name not in shared}

    def start(self, env: Environment) -> None:
        proxies = self.component(env, "proxies", "the Toxiproxy layer")
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
        proxies = self.component(env, "proxies", "the Toxiproxy layer")
        while self.toxics:
            proxy, name = self.toxics.pop()
            proxies.remove_toxic(proxy, name)


@register
@dataclass(kw_only=True, eq=False)
class Latency(ToxicFault):
    name: ClassVar[str] = "network.latency"
    summary: ClassVar[str] = "add latency (ms, +/- jitter) to data through the nodes"
    toxic_type: ClassVar[str] = "latency"
    latency: int = 1000
    jitter: int = 0



@register
@dataclass(kw_only=True, eq=False)
class Reset(ToxicFault):
    name: ClassVar[str] = "network.reset"
    summary: ClassVar[str] = "connections reset (TCP RST) after timeout ms"
    toxic_type: ClassVar[str] = "reset_peer"
    timeout: int = 0



@register
@dataclass(kw_only=True, eq=False)
class Blackhole(ToxicFault):
    name: ClassVar[str] = "network.blackhole"
    summary: ClassVar[str] = "data silently dropped; connections hang (closed after timeout ms if > 0)"
    toxic_type: ClassVar[str] = "timeout"
    timeout: int = 0



@register
@dataclass(kw_only=True, eq=False)
class Bandwidth(ToxicFault):
    name: ClassVar[str] = "network.bandwidth"
    summary: ClassVar[str] = "limit throughput to rate KB/s"
    toxic_type: ClassVar[str] = "bandwidth"
    rate: int = 1



@register
@dataclass(kw_only=True, eq=False)
class SlowClose(ToxicFault):
    name: ClassVar[str] = "network.slow_close"
    summary: ClassVar[str] = "delay closing connections by delay ms"
    toxic_type: ClassVar[str] = "slow_close"
    delay: int = 1000



@register
@dataclass(kw_only=True, eq=False)
class LimitData(ToxicFault):
    name: ClassVar[str] = "network.limit_data"
    summary: ClassVar[str] = "close connections after bytes bytes"
    toxic_type: ClassVar[str] = "limit_data"
    bytes: int = 0



@register
@dataclass(kw_only=True, eq=False)
class Partition(NodeFault):
    name: ClassVar[str] = "network.partition"
    summary: ClassVar[str] = "nodes down: proxies disabled, connections dropped and refused"
    disabled: list[str] = field(default_factory=list, init=False, repr=False)

    def start(self, env: Environment) -> None:
        proxies = self.component(env, "proxies", "the Toxiproxy layer")
        try:
            for proxy in self.select_proxies(env):
                proxies.disable(proxy)
                self.disabled.append(proxy)
        except BaseException:
            self.stop(env)
            raise

    def stop(self, env: Environment) -> None:
        proxies = self.component(env, "proxies", "the Toxiproxy layer")
        while self.disabled:
            proxies.enable(self.disabled.pop())
