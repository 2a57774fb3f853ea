"""Injecting faults into a running harness and always taking them out again.

``Chaos`` is the single place faults are started and stopped, whoever asks (pytest fixture or
marker, drill timeline, CLI). It keeps the active stack in injection order, clears faults with a
``duration`` when its clock says they ran out, records a history for reports, and ``clear_all()``
undoes everything in reverse order even when a stop fails, so a failing test or Ctrl-C never
leaves a fault behind.

Durations are measured on ``Chaos.clock``: a test that passes a controllable clock advances it and
calls ``expire_due()``, and nothing depends on how fast the machine's threads run.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol, TypeVar

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
    expires: float | None = field(default=None, repr=False)  # on ``chaos.clock``

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


class FaultHandle(Protocol):
    """An injected fault as a drill sees it: ``ActiveFault`` here, ``RemoteFault`` over the control API."""

    @property
    def name(self) -> str: ...

    @property
    def active(self) -> bool: ...

    @property
    def record(self) -> FaultRecord: ...


H = TypeVar("H", bound=FaultHandle)


class FaultControl(Protocol[H]):
    """What drills and ``chaos-harness run`` need to inject and clear faults by name.

    ``Chaos`` (faults in this process) and ``harness.control.client.RemoteChaos`` (a harness in
    another process) both provide it; a harness clears the handles ``H`` its own ``inject`` returned.
    """

    def clock(self) -> float:
        """Monotonic seconds; fault records (``FaultRecord.started``/``cleared``) are on this clock."""

    def inject(self, fault: str, options: Mapping[str, Any] | None = None, /) -> H: ...

    def clear(self, handle: H) -> None: ...

    def clear_all(self) -> None: ...


class Chaos:
    """Starts faults against an environment and guarantees they are stopped (a ``FaultControl``)."""

    def __init__(self, env: Environment, *, seed: int | None = None, clock: Callable[[], float] = time.monotonic) -> None:
        self.env = env
        self.seed = seed
        self.clock = clock
        self.changed = ChangeSignal()
        self._lock = threading.RLock()
        self._active: list[ActiveFault] = []
        self.history: list[FaultRecord] = []
        self._expiry_wakeup = threading.Condition(self._lock)
        self._expiry_thread: threading.Thread | None = None

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
                handle.expires = record.started + fault.duration
                self._watch_expiry()
        self.changed.notify()
        return handle

    def expire_due(self) -> list[ActiveFault]:
        """Clear every fault whose ``duration`` has run out on ``clock``; the handles cleared."""
        now = self.clock()
        due = [h for h in self.active if h.expires is not None and h.expires <= now]
        for handle in due:
            self.clear(handle)
        return due

    def _watch_expiry(self) -> None:
        """Start the one thread that clears expiring faults (it ends when none is left). Lock held."""
        if self._expiry_thread is None:
            self._expiry_thread = threading.Thread(target=self._expire_loop, name="chaos-clear", daemon=True)
            self._expiry_thread.start()
        else:
            self._expiry_wakeup.notify_all()

    def _expire_loop(self) -> None:
        while True:
            with self._lock:
                pending = [h.expires for h in self._active if h.expires is not None]
                if not pending:
                    self._expiry_thread = None
                    return
                remaining = min(pending) - self.clock()
                if remaining > 0:
                    # A controllable clock may not move in real time: look again at least every
                    # 50 ms of real time, so its owner's advance() is noticed without a call.
                    self._expiry_wakeup.wait(min(remaining, 0.05) if self.clock is not time.monotonic else remaining)
                    continue
            self.expire_due()

    def clear(self, handle: ActiveFault) -> None:
        """Stop one fault; a no-op if it is already cleared."""
        with self._lock:
            if handle not in self._active:
                return
            self._active.remove(handle)
            try:
                handle.fault.stop(self.env)
            finally:
                handle.record.cleared = self.clock()
                self._expiry_wakeup.notify_all()
            idle = all(h.expires is None for h in self._active)
            watcher = self._expiry_thread
        if idle and watcher is not None and watcher is not threading.current_thread():
            watcher.join()  # woken above with nothing left to watch: it ends now, leaving no thread
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
