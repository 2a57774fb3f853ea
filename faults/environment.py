"""What a running harness exposes to faults: four components, each typed as the faults use it.

``harness.environment.Harness`` is the real one; a component is ``None`` when that harness does not
run it (a DNS-only harness has no proxies), and ``require`` turns that into the one-line
``ComponentMissingError`` a user sees. Each Protocol lists exactly what the fault families call, so
a test double (or another harness) knows what it must provide.

A fault reaches the DNS server, a DynamoDB region's front and the health checker the same way: it
adds itself to that component's ``harness.fault_chain.FaultChain``, typed by the hook the
component calls (``DnsHook``, ``ServiceHook``, ``HealthHook``). Network faults are Toxiproxy toxics
and DynamoDB's replication is paused through its own control.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterable, Sequence
from typing import TYPE_CHECKING, Any, Protocol, TypeVar

from harness.errors import ComponentMissingError

if TYPE_CHECKING:
    from harness.dns.context import DnsHook
    from harness.dynamodb.service_faults import ServiceHook
    from harness.fault_chain import FaultChain
    from harness.health.checker import Group, HealthHook

C = TypeVar("C")
T = TypeVar("T")


class DnsComponent(Protocol):
    """``harness.dns.DnsServer`` as DNS faults use it."""

    @property
    def faults(self) -> FaultChain[DnsHook]: ...


class ProxiesComponent(Protocol):
    """``harness.proxies.ProxyLayer`` (the Toxiproxy API) as network faults use it."""

    def add_toxic(self, proxy: str, type: str, attributes: dict[str, Any] | None = None, stream: str = "downstream",
                  toxicity: float = 1.0, name: str | None = None) -> str: ...

    def remove_toxic(self, proxy: str, name: str) -> None: ...

    def disable(self, proxy: str) -> Any: ...

    def enable(self, proxy: str) -> Any: ...


class EndpointComponent(Protocol):
    """One service endpoint of a region: a hostname whose nodes are Toxiproxy proxies."""

    @property
    def hostname(self) -> str: ...

    @property
    def port(self) -> int | None:
        """None: no proxies in front of the endpoint (nothing for a network fault to act on)."""

    @property
    def proxy_names(self) -> Sequence[str]: ...

    @property
    def nodes(self) -> Sequence[str]: ...

    def node(self, which: int | str) -> tuple[str, str]:
        """(proxy name, address) of a node by 0-based index or proxy name; ``ConfigError`` otherwise."""


class RegionComponent(Protocol):
    """One mocked DynamoDB region (``harness.dynamodb.Region``)."""

    @property
    def service_faults(self) -> FaultChain[ServiceHook]: ...

    def endpoint(self, name: str) -> EndpointComponent: ...


class ReplicationControl(Protocol):
    def pause(self) -> None: ...

    def resume(self) -> None: ...


class DynamoComponent(Protocol):
    """``harness.dynamodb.DynamoRegions`` as DynamoDB and network faults use it."""

    @property
    def replication(self) -> ReplicationControl: ...

    def select(self, regions: str | Iterable[str] | None) -> Sequence[RegionComponent]: ...


class HealthComponent(Protocol):
    """``harness.health.HealthChecker`` as health faults use it."""

    @property
    def faults(self) -> FaultChain[HealthHook]: ...

    @property
    def interval(self) -> float: ...

    def group(self, name: str | None = None) -> Group: ...

    def run_blocking(self, fn: Callable[[], T]) -> Awaitable[T]: ...


class Environment(Protocol):
    """The components faults act on; each is ``None`` when this harness does not run it."""

    @property
    def dns(self) -> DnsComponent | None: ...

    @property
    def proxies(self) -> ProxiesComponent | None: ...

    @property
    def dynamodb(self) -> DynamoComponent | None: ...

    @property
    def health(self) -> HealthComponent | None: ...


# What each component is called in the ``ComponentMissingError`` of a fault that needs it.
DNS_SERVER = "the DNS server"
PROXIES = "the Toxiproxy layer"
DYNAMODB = "mocked DynamoDB regions"
HEALTH_CHECKER = "the health checker"


def require(component: C | None, fault: str, what: str) -> C:
    """``component`` itself, or ``ComponentMissingError`` saying that ``fault`` needs ``what``."""
    if component is None:
        raise ComponentMissingError(f"fault {fault} needs {what}, which this harness is not running")
    return component
