"""Cleanup that a Ctrl-C (or a CI runner's SIGTERM) cannot cut short.

The CLI turns SIGINT and SIGTERM into ``KeyboardInterrupt``, which Python raises wherever the main
thread happens to be, including halfway through killing a sandboxed command's process group. A
cleanup interrupted there leaves the command running with nobody to stop it. ``interrupts_deferred``
holds such signals while a cleanup runs and raises the interrupt once it is done.
"""

from __future__ import annotations

import contextlib
import signal
import threading
from collections.abc import Iterator
from typing import Any

_SIGNALS = (signal.SIGINT, signal.SIGTERM)


@contextlib.contextmanager
def interrupts_deferred() -> Iterator[None]:
    """Run the block to its end; a SIGINT/SIGTERM meanwhile becomes ``KeyboardInterrupt`` after it.

    Python handles signals in the main thread only, so elsewhere this does nothing (no signal
    handler can interrupt another thread's cleanup).
    """
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    received: list[int] = []

    def hold(signum: int, frame: Any) -> None:
        received.append(signum)

    previous = {sig: signal.signal(sig, hold) for sig in _SIGNALS}
    try:
        yield
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
    if received:
        raise KeyboardInterrupt
