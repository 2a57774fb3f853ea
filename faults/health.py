"""Health-check faults: the checker's view of a target diverges from (or follows) reality.

October 2025: the NLB health-check subsystem brought instances into service before their network
state had propagated, so checks alternated between failing and passing, nodes left DNS and came
back, and the churn triggered AZ DNS failover that took capacity out. These faults recreate that
against ``harness.health.HealthChecker`` (``env.health``):

* ``health.flap``        checks alternate between failing and passing on a seeded schedule;
* ``health.fail_checks`` checks fail while the target is fine (propagation delay);
* ``health.kill_target`` the target really stops answering, so the checker is right;
* ``health.all_unhealthy`` every target of a name fails its checks (shows fail-open).

All schedules are counted in checker rounds, not wall time, so a seed gives the same sequence of
DNS answers on a fast laptop and a loaded CI runner.
"""

from __future__ import annotations

import math
import threading
from dataclasses import dataclass
from typing import TYPE_CHECKING

from faults.base import Environment, Fault, fault, option
from faults.environment import HEALTH_CHECKER, HealthComponent
from harness.errors import ConfigError, FaultOptionError

if TYPE_CHECKING:
    from harness.health import HealthChecker, Probe
    from harness.health.targets import Control


class HealthFault(Fault):
    """Shared by the family: finds the checker and the group, joins and leaves its fault list."""

    group: str | None = option(None, "DNS name of the checked group, e.g. dynamodb.us-east-1.amazonaws.com (none: the only group)")

    def start(self, env: Environment) -> None:
        self.attach(env).faults.add(self)

    def attach(self, env: Environment) -> HealthComponent:
        """The running checker, with this fault's group and target resolved against it."""
        checker = self.require(env.health, HEALTH_CHECKER)
        try:
            self.bind(checker)
        except ConfigError as exc:
            raise FaultOptionError(f"{self.name}: {exc}") from None
        return checker

    def stop(self, env: Environment) -> None:
        checker = self.require(env.health, HEALTH_CHECKER)
        checker.faults.remove(self)

    def bind(self, checker: HealthComponent) -> None:
        self._group = checker.group(self.group).name

    def check_override(self, probe: "Probe") -> bool | None:
        """``False`` forces the check to fail, ``True`` to pass, ``None`` lets the real probe decide
        (``harness.health.checker.HealthHook``)."""
        return None


class TargetFault(HealthFault):
    """A fault on one target of the group: ``target`` is its index or address (default the first)."""

    target: int | str = option(0, "the target by 0-based index or address")

    def bind(self, checker: HealthComponent) -> None:
        super().bind(checker)
        group = checker.group(self._group)
        self._index = group.index_of(self.target)
        self._target = group.targets[self._index]

    def hits(self, probe: "Probe") -> bool:
        return probe.group == self._group and probe.index == self._index

    def control(self) -> Control:
        control = self._target.control
        if control is None:
            raise FaultOptionError(
                f"{self.name}: target {self._target.address} has no control to stop it (register it with control=...)"
            )
        return control


@dataclass(frozen=True)
class _Cycle:
    """One flap cycle in rounds counted from the fault's first round: failing phase, then passing."""

    start: int
    failing: int
    passing: int
    happens: bool  # the seeded probability draw for this cycle's failing phase

    @property
    def end(self) -> int:
        return self.start + self.failing + self.passing


@fault("health.flap")
class Flap(TargetFault):
    """A target's health checks alternate between failing and passing.

    ``period`` seconds per cycle, ``duty`` of it failing. The period is converted to rounds with
    the checker's interval (at least 2 rounds, at least one failing and one passing). Each cycle starts with its failing phase; ``jitter`` shifts each
    phase's length by a seeded whole number of rounds in [-jitter, +jitter] (never below one round),
    and ``probability`` is the seeded chance that a cycle's failing phase happens at all. The
    schedule counts from the first round after the fault starts.

    ``target_down=False`` (default) is the pure 2025 health-check failure: the target keeps serving
    and only the checker is wrong, so DNS loses capacity for nothing (pair it with the checker's
    ``max_removal_share``). ``target_down=True`` recreates what clients saw: the target's data path
    (its ``control``) is down for each failing phase and for the first ``propagation`` rounds of
    the passing phase, while its checks already pass, an instance brought into service before its
    network state propagated. Clients are then sent to a dead node twice per cycle: for the
    ``unhealthy_threshold - 1`` rounds before the checker removes it, and from the round the checker
    puts it back (``healthy_threshold``) until its data path is up.
    """

    period: float = option(1.0, "length of one failing+passing cycle", "s")
    duty: float = option(0.5, "share of each cycle the checks fail", "0..1")
    jitter: int = option(0, "seeded +/- change of each phase's length", "rounds")
    target_down: bool = option(False, "the target's data path is really down while failing (not just its checks)")
    propagation: int = option(0, "rounds the data path stays down after checks pass again (needs target_down)", "rounds")

    def validate(self) -> None:
        if not (math.isfinite(self.period) and self.period > 0):
            raise FaultOptionError(f"{self.name}: period must be a positive number of seconds, got {self.period!r}",
                                   option="period")
        if not 0.0 < self.duty < 1.0:
            raise FaultOptionError(f"{self.name}: duty (share of the period failing) must be between 0 and 1, got {self.duty!r}",
                                   option="duty")
        if self.jitter < 0:
            raise FaultOptionError(f"{self.name}: jitter must be a whole number of rounds >= 0, got {self.jitter!r}",
                                   option="jitter")
        if self.propagation < 0 or (self.propagation and not self.target_down):
            raise FaultOptionError(
                f"{self.name}: propagation must be a whole number of rounds >= 0 and needs target_down=true, "
                f"got {self.propagation!r}", option="propagation"
            )

    def bind(self, checker: HealthComponent) -> None:
        super().bind(checker)
        if self.target_down:
            self.control()
        rounds = max(2, round(self.period / checker.interval))
        self._fail_rounds = min(rounds - 1, max(1, round(self.duty * rounds)))
        self._pass_rounds = rounds - self._fail_rounds
        self._origin: int | None = None
        self._cycles: list[_Cycle] = []
        self._lock = threading.Lock()
        self._active = True
        self._down = False

    def phase(self, round_no: int) -> str:
        """``failing``, ``propagating`` (checks pass, data path still down) or ``passing`` for a checker round."""
        if self._origin is None:
            self._origin = round_no
        relative = round_no - self._origin
        while not self._cycles or self._cycles[-1].end <= relative:
            start = self._cycles[-1].end if self._cycles else 0
            happens = self.roll("cycle")
            failing = max(1, self._fail_rounds + self._jitter())
            passing = max(1, self._pass_rounds + self._jitter())
            self._cycles.append(_Cycle(start, failing, passing, happens))
        cycle = next(c for c in reversed(self._cycles) if c.start <= relative)
        if not cycle.happens:
            return "passing"
        into = relative - cycle.start
        if into < cycle.failing:
            return "failing"
        return "propagating" if into - cycle.failing < self.propagation else "passing"

    def _jitter(self) -> int:
        return self.rng.randint(-self.jitter, self.jitter) if self.jitter else 0

    def check_override(self, probe: "Probe") -> bool | None:
        if not self.hits(probe):
            return None
        phase = self.phase(probe.round)
        return False if phase == "failing" else True if phase == "propagating" else None

    async def before_round(self, checker: "HealthChecker", round_no: int) -> None:
        if self.target_down:
            want_down = self.phase(round_no) != "passing"
            if want_down != self._down:
                await checker.run_blocking(lambda: self._set_down(want_down))

    def _set_down(self, down: bool) -> None:
        with self._lock:
            if self._active and down != self._down:
                (self.control().stop if down else self.control().start)()
                self._down = down

    def stop(self, env: Environment) -> None:
        super().stop(env)
        with self._lock:
            self._active = False
            if self._down:
                self.control().start()
                self._down = False


@fault("health.fail_checks")
class FailChecks(TargetFault):
    """Health checks of a healthy target fail.

    Every check of the target fails (each with ``probability``) while the target keeps serving: the
    propagation-delay half of 2025: the node is fine, the checker cannot see it. Use
    ``duration`` to end it; the target returns after ``healthy_threshold`` passing rounds.
    """

    def check_override(self, probe: "Probe") -> bool | None:
        return False if self.hits(probe) and self.roll(probe.group, probe.index) else None


@fault("health.kill_target")
class KillTarget(TargetFault):
    """A target really stops answering.

    Its control is stopped, and started again when the fault stops. Here the checker is right: the target leaves DNS after ``unhealthy_threshold`` failing rounds
    and comes back ``healthy_threshold`` rounds after it answers again. ``probability`` is drawn
    once: the seeded chance that the kill happens at all.
    """

    def start(self, env: Environment) -> None:
        checker = self.attach(env)
        self._killed = self.roll("kill")
        if self._killed:
            self.control().stop()
        checker.faults.add(self)  # listed with the active faults, though it never overrides a check

    def bind(self, checker: HealthComponent) -> None:
        super().bind(checker)
        self.control()

    def stop(self, env: Environment) -> None:
        super().stop(env)
        if self._killed:
            self.control().start()
            self._killed = False


@fault("health.all_unhealthy")
class AllUnhealthy(HealthFault):
    """Every target of a name fails its health checks, so DNS fails open.

    Each check fails with ``probability``.
    """

    def check_override(self, probe: "Probe") -> bool | None:
        return False if probe.group == self._group and self.roll(probe.group, probe.index) else None
