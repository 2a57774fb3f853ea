"""Live display of a running drill: one redrawn line on a terminal, periodic plain lines otherwise.

The runner hands a ``Snapshot`` to a ``Progress`` a few times per second; what the user sees
depends only on where the output goes (TTY or a CI log), so the same drill reads well in both.
"""

from __future__ import annotations

import shutil
import sys
from dataclasses import dataclass
from typing import Protocol, TextIO


@dataclass(frozen=True)
class Snapshot:
    elapsed: float
    total: float
    requests: int
    failures: int
    recent_success: float | None  # share ok over the last second
    recent_p99_ms: float | None
    region: str | None
    active: tuple[str, ...]  # labels of the faults/actions in effect


class Progress(Protocol):
    interval: float

    def update(self, snap: Snapshot) -> None: ...

    def note(self, text: str) -> None: ...

    def close(self) -> None: ...


def describe(snap: Snapshot) -> str:
    rate = "--" if snap.recent_success is None else f"{snap.recent_success:6.1%}"
    p99 = "--" if snap.recent_p99_ms is None else f"{snap.recent_p99_ms:5.0f}ms"
    active = ", ".join(snap.active) or "steady"
    return (f"[{snap.elapsed:5.1f}/{snap.total:.0f}s] ok {rate} p99 {p99} "
            f"region {snap.region or '--'} req {snap.requests} fail {snap.failures} | {active}")


class NullProgress:
    """For ``gate``: no live display."""

    interval = 1.0

    def update(self, snap: Snapshot) -> None:
        pass

    def note(self, text: str) -> None:
        pass

    def close(self) -> None:
        pass


class LineProgress:
    """On a TTY: one line redrawn in place. Elsewhere: a line every ``plain_every`` seconds."""

    def __init__(self, out: TextIO | None = None, *, tty: bool | None = None, plain_every: float = 2.0) -> None:
        self.out = out or sys.stderr
        self.tty = self.out.isatty() if tty is None else tty
        self.interval = 0.2 if self.tty else plain_every
        self._drawn = False

    def update(self, snap: Snapshot) -> None:
        line = describe(snap)
        if self.tty:
            width = shutil.get_terminal_size((100, 20)).columns - 1
            self.out.write("\r" + line[:width].ljust(width))
            self._drawn = True
        else:
            self.out.write(line + "\n")
        self.out.flush()

    def note(self, text: str) -> None:
        self._end_line()
        self.out.write(text + "\n")
        self.out.flush()

    def close(self) -> None:
        self._end_line()

    def _end_line(self) -> None:
        if self._drawn:
            self.out.write("\n")
            self._drawn = False
