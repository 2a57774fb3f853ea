"""The one way a fault reaches a component: an ordered chain of the faults active on it.

The DNS server, each DynamoDB region's front and the health checker each hold a ``FaultChain``
typed by the hook its faults implement (declared as a Protocol next to the component:
``harness.dns.context.DnsHook``, ``harness.dynamodb.service_faults.ServiceHook``,
``harness.health.checker.HealthHook``). A fault's ``start(env)`` adds itself to the chain of the
component it acts on and ``stop(env)`` removes it; the component calls the hook on every event it
handles (query, request, health check), in the order the faults were added.

The chain is an immutable tuple swapped under a lock: the component's per-event read
(``active``) takes no lock and sees one consistent snapshot, and a change applies to the very
next event.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from typing import Generic, TypeVar

H = TypeVar("H")


class FaultChain(Generic[H]):
    """Ordered, thread-safe set of the faults (hooks of type ``H``) active on one component."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._faults: tuple[H, ...] = ()

    @property
    def active(self) -> tuple[H, ...]:
        """The faults in the order they were added: a snapshot, read without a lock."""
        return self._faults

    def add(self, fault: H) -> None:
        """Append ``fault``; a no-op if it is already in the chain (faults compare by identity)."""
        with self._lock:
            if not any(f is fault for f in self._faults):
                self._faults = self._faults + (fault,)

    def remove(self, fault: H) -> None:
        """Take ``fault`` out; a no-op if it is not there, so a fault's ``stop`` is idempotent."""
        with self._lock:
            self._faults = tuple(f for f in self._faults if f is not fault)

    def clear(self) -> None:
        with self._lock:
            self._faults = ()

    def __len__(self) -> int:
        return len(self._faults)

    def __iter__(self) -> Iterator[H]:
        return iter(self._faults)
