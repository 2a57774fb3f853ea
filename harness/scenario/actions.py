"""Actions a scenario's method or rollbacks can take besides injecting faults.

Chaos Toolkit calls these "actions": things an operator does to the system (pause global-table
replication, wait for it to catch up, clear every fault). Each is a small named unit with its
options, a ``run`` and, when it can be held for a while (``for: 10m``), an ``undo``. They are
validated at load time like faults, and executed against the running harness.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol

from harness.errors import ComponentMissingError
from harness.scenario.timeline import TimeFormatError, parse_duration

if TYPE_CHECKING:
    from harness.chaos import FaultControl


class Replication(Protocol):
    """Global-table replication as actions drive it (``Replicator``, or ``RemoteReplication``)."""

    def pause(self) -> None: ...

    def resume(self) -> None: ...

    def wait_caught_up(self, timeout: float) -> None: ...


class ReplicatedRegions(Protocol):
    @property
    def replication(self) -> Replication: ...


class ActionEnvironment(Protocol):
    """What actions need from the harness they run against (``Harness`` or ``RemoteHarness``)."""

    @property
    def chaos(self) -> FaultControl[Any]: ...

    @property
    def dynamodb(self) -> ReplicatedRegions | None:
        """None when the harness runs no DynamoDB regions."""


Run = Callable[[ActionEnvironment, Mapping[str, Any]], None]


def _replication(env: ActionEnvironment) -> Replication:
    if env.dynamodb is None:
        raise ComponentMissingError("replication actions need the DynamoDB regions, which this harness is not running")
    return env.dynamodb.replication


def _pause(env: ActionEnvironment, options: Mapping[str, Any]) -> None:
    _replication(env).pause()


def _resume(env: ActionEnvironment, options: Mapping[str, Any]) -> None:
    _replication(env).resume()


def _wait(env: ActionEnvironment, options: Mapping[str, Any]) -> None:
    _replication(env).wait_caught_up(options.get("timeout", 10.0))


def _clear(env: ActionEnvironment, options: Mapping[str, Any]) -> None:
    env.chaos.clear_all()


@dataclass(frozen=True)
class Action:
    """A named operator step: ``summary`` is what ``chaos-harness list`` shows for it."""

    name: str
    summary: str
    run: Run
    undo: Run | None = None
    duration_options: tuple[str, ...] = ()

    def validate(self, options: Mapping[str, Any]) -> dict[str, Any]:
        """Options with durations parsed (wall seconds); ``ValueError`` names the bad one."""
        unknown = [k for k in options if k not in self.duration_options]
        if unknown:
            known = ", ".join(self.duration_options) or "none"
            raise ValueError(f"action {self.name}: unknown option {unknown[0]!r}; known options: {known}")
        out = {}
        for key, value in options.items():
            try:
                out[key] = parse_duration(value)
            except TimeFormatError as exc:
                raise ValueError(f"action {self.name}: option {key!r}: {exc}") from None
        return out


ACTIONS: dict[str, Action] = {
    a.name: a
    for a in (
        Action("pause_replication", "stop global-table replication between regions", _pause, undo=_resume),
        Action("resume_replication", "resume global-table replication", _resume),
        Action("wait_replication", "wait until replication has caught up", _wait, duration_options=("timeout",)),
        Action("clear_faults", "clear every active fault", _clear),
    )
}


def action_names() -> list[str]:
    return sorted(ACTIONS)
