"""Waiting on real conditions instead of sleeping.

Components that change state (query log, health checker, replication) own a ``ChangeSignal`` and
``notify()`` it on every change; tests and drills block in ``wait_for(predicate)`` until the
predicate holds or the timeout expires. Nothing polls on a fixed sleep.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import TypeVar

from harness.errors import TimeoutExpired

T = TypeVar("T")


class ChangeSignal:
    """A condition variable that wakes waiters whenever the owner says its state changed."""

    def __init__(self) -> None:
        self._cond = threading.Condition()
        self.version = 0

    def notify(self) -> None:
        with self._cond:
            self.version += 1
            self._cond.notify_all()

    def wait_for(self, predicate: Callable[[], T], timeout: float, what: str = "condition") -> T:
        """Return the predicate's first truthy value; raise ``TimeoutExpired`` naming ``what``."""
        deadline = time.monotonic() + timeout
        with self._cond:
            while True:
                value = predicate()
                if value:
                    return value
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    raise TimeoutExpired(f"timed out after {timeout:g} s waiting for {what}")
                self._cond.wait(remaining)
