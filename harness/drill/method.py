"""Walking a scenario's method in wall time: faults injected and cleared, actions run and undone.

One job, shared by drills (``harness.drill.runner``) and ``chaos-harness run --scenario`` (which
runs the same method while the user's own program runs in the sandbox). ``rollback()`` always
clears every fault, undoes held actions and runs the scenario's rollbacks, logging each step and
never stopping early, so a drill or run ends clean whatever happened.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

from harness.chaos import FaultHandle
from harness.drill.records import FaultWindow
from harness.scenario.actions import ACTIONS
from harness.scenario.model import Scenario, Step

Note = Callable[[str], None]


class MethodWalk:
    """The method of ``scenario`` against ``env``: anything with ``chaos`` (a ``harness.chaos.FaultControl``)
    and what the scenario's actions need."""

    def __init__(self, scenario: Scenario, env: Any, clock: Callable[[], float]) -> None:
        self.scenario = scenario
        self.env = env
        self.clock = clock
        self.abort = threading.Event()
        self.held: dict[int, Step] = {}  # actions with 'for' currently in effect
        self.faults: dict[int, FaultHandle] = {}
        self.t0 = 0.0

    def schedule(self) -> list[tuple[float, int, str, Step]]:
        """(wall time, order, start|stop, step) sorted; stops go first at equal times."""
        events = []
        for step in self.scenario.method:
            events.append((self.scenario.wall(step.at), 1, "start", step))
            if step.end is not None:
                events.append((self.scenario.wall(step.end), 0, "stop", step))
        return sorted(events, key=lambda e: (e[0], e[1], e[3].index))

    def walk(self, t0: float, note: Note) -> None:
        """Run the timeline from ``t0`` (a ``clock`` reading) until its end or ``abort``."""
        self.t0 = t0
        for at, _, what, step in self.schedule():
            delay = self.t0 + at - self.clock()
            if delay > 0 and self.abort.wait(delay):
                return
            (self._start if what == "start" else self._stop)(step)
            note(f"{what} {step.kind} {step.name}" + (f" ({step.note})" if step.note else ""))

    def _start(self, step: Step) -> None:
        if step.kind == "fault":
            self.faults[step.index] = self.env.chaos.inject(step.name, dict(step.options))
            return
        ACTIONS[step.name].run(self.env, step.options)
        if step.duration is not None:
            self.held[step.index] = step

    def _stop(self, step: Step) -> None:
        if step.kind == "fault":
            self.env.chaos.clear(self.faults[step.index])
        else:
            self.held.pop(step.index, None)
            ACTIONS[step.name].undo(self.env, step.options)

    def rollback(self, note: Note) -> str | None:
        """Clear every fault, undo held actions, run the scenario's rollbacks; the first failure's text."""
        self.abort.set()
        undo = [(f"undo {s.name}", lambda s=s: ACTIONS[s.name].undo(self.env, s.options)) for s in self.held.values()]
        self.held.clear()
        steps = [("clear all faults", self.env.chaos.clear_all), *undo]
        steps += [(f"rollback {s.name}", lambda s=s: ACTIONS[s.name].run(self.env, s.options))
                  for s in self.scenario.rollbacks]
        first: str | None = None
        for label, fn in steps:
            try:
                fn()
                note(label)
            except Exception as exc:  # a failed rollback is reported, the others still run
                note(f"{label} failed: {exc}")
                first = first or f"rollback '{label}' failed: {exc}"
        return first

    def windows(self) -> list[FaultWindow]:
        """When each injected fault was active, relative to ``t0``."""
        out = []
        for index, handle in sorted(self.faults.items()):
            step = self.scenario.method[index]
            record = handle.record
            end = None if step.end is None or record.cleared is None else round(record.cleared - self.t0, 6)
            out.append(FaultWindow(step.name, round(record.started - self.t0, 6), end,
                                   dict(step.options), index, step.label))
        return out

    def active_labels(self) -> tuple[str, ...]:
        active = tuple(self.scenario.method[i].label for i, h in self.faults.items() if h.active)
        return active + tuple(s.label for s in self.held.values())
