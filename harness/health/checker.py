"""Health checks that decide what DNS answers, the subsystem that flapped in October 2025.

``HealthChecker`` probes every target of every group once per round (all probes of a round run
concurrently on the harness loop), applies thresholds, fail-open and the optional velocity cap
(``harness.health.policy``) and publishes each name's answer into the DNS ``Topology``. Every state
change is an ``HealthEvent`` with its time and round, and ``changed`` is notified after every
round, so tests and drills wait for "round n", "target x unhealthy" or "DNS answered y" instead
of sleeping.

Health faults plug in through the checker's ``faults`` chain (``harness.fault_chain.FaultChain`` of
``HealthHook``): before each probe the checker asks the active faults (``check_override(probe) ->
bool | None``) whether the result is forced (``False`` fail, ``True`` pass) or left to the real
probe (``None``). A fault that also acts on the target itself (stops it through its control) before
a round probes implements ``RoundHook`` as well (``async before_round(checker, round_no)``).
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol, TypeVar, runtime_checkable

from harness.errors import ConfigError, HarnessError
from harness.fault_chain import FaultChain
from harness.health.policy import Decision, ProbeResult, TargetState, decide, min_published, validate_settings
from harness.health.targets import Target
from harness.loop_thread import LoopThread
from harness.waiting import ChangeSignal

T = TypeVar("T")

TARGET_HEALTHY = "target_healthy"
TARGET_UNHEALTHY = "target_unhealthy"
DNS_PUBLISHED = "dns_published"
FAIL_OPEN_ENTERED = "fail_open_entered"
FAIL_OPEN_LEFT = "fail_open_left"
VELOCITY_CAP_APPLIED = "velocity_cap_applied"
VELOCITY_CAP_RELEASED = "velocity_cap_released"


class HealthCheckerFailed(HarnessError):
    """The checker's round loop stopped on an error; waiting on it cannot succeed."""


@dataclass(frozen=True)
class HealthEvent:
    """One state change. ``round`` 0 is registration; ``addresses`` is the DNS answer or the held targets."""

    time: float
    round: int
    kind: str
    group: str
    target: str | None = None
    addresses: tuple[str, ...] = ()


@dataclass(frozen=True)
class Probe:
    """What a fault is asked about: one check of one target in one round."""

    group: str
    index: int
    target: Target
    round: int


class HealthHook(Protocol):
    """What every health fault implements (the chain's hook)."""

    @property
    def name(self) -> str: ...

    def check_override(self, probe: Probe) -> bool | None:
        """``False`` forces the check to fail, ``True`` to pass, ``None`` lets the real probe decide."""


@runtime_checkable
class RoundHook(Protocol):
    """Optional second hook: act on the targets themselves before each round's probes."""

    async def before_round(self, checker: "HealthChecker", round_no: int) -> None: ...


@dataclass(eq=False)
class Group:
    """A DNS name and the targets behind it, with their state and the answer last published."""

    name: str
    targets: tuple[Target, ...]
    ttl: int
    minimum: int
    states: list[TargetState] = field(default_factory=list)
    published: tuple[int, ...] = ()
    fail_open: bool = False
    held: tuple[int, ...] = ()

    def addresses(self, indices: Sequence[int]) -> tuple[str, ...]:
        return tuple(self.targets[i].address for i in indices)

    def index_of(self, target: int | str | Target) -> int:
        """A target by index, address, ``address:port`` or object; one-line error otherwise."""
        for i, t in enumerate(self.targets):
            if target is t or target == i or target in (t.address, t.label):
                return i
        known = ", ".join(t.address for t in self.targets)
        raise ConfigError(f"health group {self.name!r} has no target {target!r}; targets: {known}")


class HealthChecker:
    """Probes target groups at an interval and publishes their healthy members into DNS."""

    def __init__(
        self,
        topology: Any,
        *,
        loop: LoopThread | None = None,
        interval: float = 0.1,
        timeout: float = 0.05,
        healthy_threshold: int = 2,
        unhealthy_threshold: int = 2,
        max_removal_share: float | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        validate_settings(interval, timeout, healthy_threshold, unhealthy_threshold, max_removal_share)
        # Accept the Topology itself or anything carrying one (the DnsServer).
        self.topology = getattr(topology, "topology", topology)
        self.interval = float(interval)
        self.timeout = float(timeout)
        self.healthy_threshold = healthy_threshold
        self.unhealthy_threshold = unhealthy_threshold
        self.max_removal_share = max_removal_share
        self.clock = clock
        self.changed = ChangeSignal()
        self.round = 0
        self.failure: BaseException | None = None
        self._lock = threading.RLock()
        self._groups: dict[str, Group] = {}
        self.faults: FaultChain[HealthHook] = FaultChain()
        self._events: list[HealthEvent] = []
        self._owns_loop = loop is None
        self._loop = loop or LoopThread("chaos-harness-health")
        self._task: asyncio.Task[None] | None = None
        self._workers: concurrent.futures.ThreadPoolExecutor | None = None

    # -- configuration --------------------------------------------------------------------------
    def add_group(self, name: str, targets: Sequence[Target], ttl: int = 60) -> Group:
        """Check ``targets`` and publish the healthy ones as ``name``; all start healthy and in DNS."""
        targets = tuple(targets)
        if not targets:
            raise ConfigError(f"health group {name!r} needs at least one target")
        if len({t.port for t in targets}) > 1:
            raise ConfigError(f"health group {name!r}: all targets must share one port (DNS carries no ports)")
        with self._lock:
            key = name.strip().rstrip(".").lower()
            if key in self._groups:
                raise ConfigError(f"health group {name!r} is already checked")
            group = Group(key, targets, ttl, min_published(len(targets), self.max_removal_share),
                          [TargetState() for _ in targets])
            self._publish(group, Decision(tuple(range(len(targets))), False, ()), 0)
            self._groups[key] = group
        self.changed.notify()
        return group

    def group(self, name: str | None = None) -> Group:
        """A group by DNS name; with no name, the only group (error if there are several)."""
        with self._lock:
            if name is None:
                if len(self._groups) == 1:
                    return next(iter(self._groups.values()))
                raise ConfigError(f"health checker has {len(self._groups)} groups; name one of: {self._group_list()}")
            try:
                return self._groups[name.strip().rstrip(".").lower()]
            except KeyError:
                raise ConfigError(f"health checker has no group {name!r}; groups: {self._group_list()}") from None

    def _group_list(self) -> str:
        return ", ".join(self._groups) or "(none)"

    # -- faults ---------------------------------------------------------------------------------
    async def run_blocking(self, fn: Callable[[], T]) -> T:
        """Run a blocking call (stopping a replica) off the loop, so DNS keeps answering meanwhile."""
        if self._workers is None:
            self._workers = concurrent.futures.ThreadPoolExecutor(1, thread_name_prefix="health-control")
        return await asyncio.get_running_loop().run_in_executor(self._workers, fn)

    # -- lifecycle ------------------------------------------------------------------------------
    def start(self) -> "HealthChecker":
        if self._task is not None:
            return self
        self._loop.start()
        self._task = self._loop.run(self._spawn())
        return self

    async def _spawn(self) -> asyncio.Task[None]:
        return asyncio.get_running_loop().create_task(self._run(), name="health-checker")

    def stop(self) -> None:
        task, self._task = self._task, None
        if task is not None and self._loop.running:
            self._loop.run(self._cancel(task))
        if self._workers is not None:
            self._workers.shutdown(wait=True)
            self._workers = None
        if self._owns_loop:
            self._loop.close()

    @staticmethod
    async def _cancel(task: asyncio.Task[None]) -> None:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)

    def reset(self) -> None:
        """Per-test state: forget faults and events, every target healthy and back in DNS."""
        with self._lock:
            self.faults.clear()
            self._events.clear()
            for group in self._groups.values():
                for state in group.states:
                    state.healthy, state.streak = True, 0
                    state.history.clear()
                self._publish(group, Decision(tuple(range(len(group.targets))), False, ()), self.round)
        self.changed.notify()

    def __enter__(self) -> "HealthChecker":
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # -- the round loop -------------------------------------------------------------------------
    async def _run(self) -> None:
        loop = asyncio.get_running_loop()
        origin = loop.time()
        number = 0
        try:
            while True:
                number += 1
                await self._round(number)
                delay = origin + number * self.interval - loop.time()
                if delay < 0:  # the round overran: start the next one now, keep the interval after it
                    origin = loop.time() - number * self.interval
                    delay = 0.0
                await asyncio.sleep(delay)
        except asyncio.CancelledError:
            raise
        except BaseException as exc:
            self.failure = exc
            self.changed.notify()
            raise

    async def _round(self, number: int) -> None:
        with self._lock:
            groups = list(self._groups.values())
        faults = self.faults.active
        for fault in faults:
            if isinstance(fault, RoundHook):
                await fault.before_round(self, number)
        probes = [Probe(g.name, i, t, number) for g in groups for i, t in enumerate(g.targets)]
        # Overrides are decided in probe order before any I/O, so seeded faults draw deterministically.
        forced = [self._override(p, faults) for p in probes]
        real = [p.target.probe(self.timeout) for p, f in zip(probes, forced) if f is None]
        outcomes = iter(await asyncio.gather(*real))
        results = [f if f is not None else (next(outcomes), "probe") for f in forced]
        with self._lock:
            by_probe = iter(zip(probes, results))
            for group in groups:
                for index, state in enumerate(group.states):
                    _, (ok, source) = next(by_probe)
                    if state.observe(ProbeResult(number, ok, source), self.healthy_threshold, self.unhealthy_threshold):
                        kind = TARGET_HEALTHY if ok else TARGET_UNHEALTHY
                        self._record(number, kind, group.name, group.targets[index].address)
                decision = decide([s.healthy for s in group.states], group.published, group.minimum)
                self._publish(group, decision, number)
            self.round = number
        self.changed.notify()

    @staticmethod
    def _override(probe: Probe, faults: Sequence[HealthHook]) -> tuple[bool, str] | None:
        for fault in faults:
            verdict = fault.check_override(probe)
            if verdict is not None:
                return bool(verdict), fault.name
        return None

    def _publish(self, group: Group, decision: Decision, number: int) -> None:
        """Record fail-open/cap transitions and push the answer to DNS when it changed."""
        if decision.fail_open != group.fail_open:
            self._record(number, FAIL_OPEN_ENTERED if decision.fail_open else FAIL_OPEN_LEFT, group.name)
        if decision.held != group.held:
            kind = VELOCITY_CAP_APPLIED if decision.held else VELOCITY_CAP_RELEASED
            self._record(number, kind, group.name, addresses=group.addresses(decision.held))
        group.fail_open, group.held = decision.fail_open, decision.held
        current = self.topology.get(group.name)
        answer = group.addresses(decision.published)
        if decision.published != group.published or current is None or current.addresses != answer:
            self.topology.set(group.name, answer, ttl=group.ttl)
            self._record(number, DNS_PUBLISHED, group.name, addresses=answer)
        group.published = decision.published

    def _record(self, number: int, kind: str, group: str, target: str | None = None,
                addresses: tuple[str, ...] = ()) -> None:
        self._events.append(HealthEvent(self.clock(), number, kind, group, target, addresses))

    # -- reading and waiting --------------------------------------------------------------------
    @property
    def events(self) -> list[HealthEvent]:
        with self._lock:
            return list(self._events)

    def published(self, group: str | None = None) -> tuple[str, ...]:
        """The addresses the checker last put in DNS for ``group``."""
        with self._lock:
            g = self.group(group)
            return g.addresses(g.published)

    def healthy(self, group: str | None = None) -> dict[str, bool]:
        with self._lock:
            g = self.group(group)
            return {t.address: s.healthy for t, s in zip(g.targets, g.states)}

    def history(self, target: int | str | Target, group: str | None = None) -> list[ProbeResult]:
        """The target's recent probe results, oldest first."""
        with self._lock:
            g = self.group(group)
            return list(g.states[g.index_of(target)].history)

    def wait_for(self, predicate: Callable[[], T], timeout: float = 5.0, what: str = "a health checker condition") -> T:
        """Block until ``predicate()`` is truthy, re-checked after every round and change."""
        def check() -> T:
            if self.failure is not None:
                raise HealthCheckerFailed(f"health checker stopped on {self.failure!r} while waiting for {what}")
            return predicate()
        return self.changed.wait_for(check, timeout, what)

    def wait_for_round(self, number: int, timeout: float = 5.0) -> int:
        """Wait until round ``number`` has been applied; returns the current round."""
        return self.wait_for(lambda: self.round if self.round >= number else 0, timeout, f"health check round {number}")

    def wait_for_state(self, target: int | str | Target, healthy: bool, *, group: str | None = None,
                       timeout: float = 5.0) -> HealthEvent | None:
        """Wait until the target is (un)healthy; returns the event that made it so (None if it always was)."""
        g = self.group(group)
        index = g.index_of(target)
        address = g.targets[index].address
        kind = TARGET_HEALTHY if healthy else TARGET_UNHEALTHY

        def reached() -> tuple[HealthEvent | None] | None:
            with self._lock:
                if g.states[index].healthy != healthy:
                    return None
                matching = [e for e in self._events if e.kind == kind and e.group == g.name and e.target == address]
                return (matching[-1] if matching else None,)

        state = "healthy" if healthy else "unhealthy"
        return self.wait_for(reached, timeout, f"{address} in {g.name} to be {state}")[0]

    def wait_for_event(self, kind: str, *, group: str | None = None, target: str | None = None,
                       after_round: int = -1, timeout: float = 5.0) -> HealthEvent:
        """The first event of ``kind`` (for the group/target) recorded in a round after ``after_round``."""
        if group is not None:
            group = self.group(group).name

        def found() -> HealthEvent | None:
            for event in self.events:
                if (event.kind == kind and event.round > after_round and (group is None or event.group == group)
                        and (target is None or event.target == target)):
                    return event
            return None
        return self.wait_for(found, timeout, f"health event {kind} after round {after_round}")
