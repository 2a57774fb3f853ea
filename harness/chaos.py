"""Injecting faults into a running harness and always taking them out again.

``Chaos`` is the single place faults are started and stopped, whoever asks (pytest fixture or
marker, drill timeline, CLI). It keeps the active stack in injection order, clears faults with a
``duration`` when it runs out, records a history for reports, and ``clear_all()`` undoes
everything in reverse order even when a stop fails, so a failing test or Ctrl-C never leaves a
fault behind.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from faults import Environment, Fault, create_fault
from harness.waiting import ChangeSignal


@dataclass
class FaultRecord:
    """One fault's life, for reports: what it was and when it was active (monotonic seconds)."""

    fault: dict[str, Any]
    started: float
    cleared: float | None = None


@dataclass(eq=False)
class ActiveFault:
    """Handle for an injected fault; a context manager that clears it on exit."""

    fault: Fault
    chaos: "Chaos"
    record: FaultRecord
    timer: threading.Timer | None = field(default=None, repr=False)

    @property
    def name(self) -> str:
        return self.fault.name

    @property
    def active(self) -> bool:
        return self.record.cleared is None

    def clear(self) -> None:
        self.chaos.clear(self)

    def wait_cleared(self, timeout: float) -> None:
        """Block until the fault is cleared (its ``duration`` ran out, or someone cleared it).

        Raises ``harness.errors.TimeoutExpired`` (a ``HarnessError``) if it is still active after
        ``timeout`` seconds; the fault stays active then.
        """
        self.chaos.changed.wait_for(lambda: not self.active, timeout, f"fault {self.name} to clear")

    def __enter__(self) -> "ActiveFault":
        return self

    def __exit__(self, *exc: object) -> None:
        self.clear()


class Chaos:
    """Starts faults against an environment and guarantees they are stopped."""

    def __init__(self, env: Environment, *, seed: int | None = None, clock: Callable[[], float] = time.monotonic) -> None:
        self.env = env
        self.seed = seed
        self.clock = clock
        self.changed = ChangeSignal()
        self._lock = threading.RLock()
        self._active: list[ActiveFault] = []
        self.history: list[FaultRecord] = []

    @property
    def active(self) -> list[ActiveFault]:
        with self._lock:
            return list(self._active)

    def inject(self, fault: Fault | str, options: Mapping[str, Any] | None = None, /, **kw: Any) -> ActiveFault:
        """Start a fault (by object or registered name); returns a handle/context manager."""
        if isinstance(fault, str):
            opts = dict(options or {})
            opts.update(kw)
            if self.seed is not None:
                opts.setdefault("seed", self.seed)
            fault = create_fault(fault, opts)
        elif options or kw:
            raise TypeError("options are given with a fault name, not with a fault object")
        with self._lock:
            record = FaultRecord(fault.describe(), self.clock())
            fault.start(self.env)
            handle = ActiveFault(fault, self, record)
            self._active.append(handle)
            self.history.append(record)
            if fault.duration is not None:
                handle.timer = threading.Timer(fault.duration, self.clear, (handle,))
                handle.timer.name = f"chaos-clear-{fault.name}"
                handle.timer.start()
        self.changed.notify()
        return handle

    def clear(self, handle: ActiveFault) -> None:
        """Stop one fault; a no-op if it is already cleared."""
        with self._lock:
            if handle not in self._active:
                return
            self._active.remove(handle)
            timer = handle.timer
            try:
                handle.fault.stop(self.env)
            finally:
                handle.record.cleared = self.clock()
        if timer is not None and timer is not threading.current_thread():
            timer.cancel()
            timer.join()
        self.changed.notify()

    def clear_all(self) -> None:
        """Stop every active fault, newest first; re-raise the first failure after trying all."""
        first_error: BaseException | None = None
        for handle in reversed(self.active):
            try:
                self.clear(handle)
            except BaseException as exc:  # keep clearing the rest, even on KeyboardInterrupt
                first_error = first_error or exc
        if first_error is not None:
            raise first_error

    def __enter__(self) -> "Chaos":
        return self

    def __exit__(self, *exc: object) -> None:
        self.clear_all()
