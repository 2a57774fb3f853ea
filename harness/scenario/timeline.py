"""Time in scenario files: durations, clock ranges, and compressing real outage time.

Scenarios are written in the outage's own time ("the DNS record was empty 23:48-02:25") so the
file reads like the post-event summary; ``time_scale`` compresses that into a drill that runs in
seconds. Everything here is pure arithmetic so it can be checked before any server starts.

Rules:
- a duration is a number of seconds or text like ``250ms``, ``90s``, ``15m``, ``2h30m``;
- a clock time is ``HH:MM`` or ``HH:MM:SS`` and only means something relative to the scenario's
  ``clock`` (the wall-clock time at which the drill's load starts); a range ``23:48-02:25`` may
  wrap past midnight;
- scenario time divided by ``time_scale`` is drill (wall) time.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass

from harness.errors import shown

DAY = 24 * 3600.0

_UNIT_SECONDS = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0, "d": DAY}
_PART = re.compile(r"(\d+(?:\.\d+)?)(ms|s|m|h|d)")
_CLOCK = re.compile(r"^(\d{1,2}):(\d{2})(?::(\d{2}))?$")


class TimeFormatError(ValueError):
    """A duration or clock value that cannot be read; the loader adds file, line and field."""


def _fits_float(value: float) -> bool:
    try:
        float(value)
    except OverflowError:  # an int beyond 1.8e308
        return False
    return True


def parse_duration(value: object) -> float:
    """Seconds from ``90``, ``1.5``, ``"250ms"``, ``"90s"``, ``"15m"`` or ``"2h30m"``."""
    if isinstance(value, bool):
        raise TimeFormatError(f"expected a duration like 90s, 15m or 2h30m, got {shown(value)}")
    if isinstance(value, (int, float)):
        seconds = float(value) if _fits_float(value) else math.inf
    elif isinstance(value, str):
        text = value.strip().replace(" ", "")
        try:
            seconds = float(text)
        except ValueError:
            pos, seconds = 0, 0.0
            for match in _PART.finditer(text):
                if match.start() != pos:
                    break
                seconds += float(match.group(1)) * _UNIT_SECONDS[match.group(2)]
                pos = match.end()
            if pos != len(text) or not text:
                raise TimeFormatError(
                    f"expected a duration like 90s, 15m or 2h30m, got {shown(value)}"
                ) from None
    else:
        raise TimeFormatError(f"expected a duration like 90s, 15m or 2h30m, got {shown(value)}")
    if not math.isfinite(seconds) or seconds < 0:
        raise TimeFormatError(f"a duration must be zero or more seconds, got {shown(value)}")
    return seconds


def parse_clock(value: object) -> float:
    """Seconds after midnight for ``"23:48"`` or ``"02:25:30"``."""
    match = _CLOCK.match(str(value).strip()) if isinstance(value, str) else None
    if not match:
        raise TimeFormatError(f"expected a clock time like 23:48, got {shown(value)}")
    hours, minutes, seconds = int(match.group(1)), int(match.group(2)), int(match.group(3) or 0)
    if hours > 23 or minutes > 59 or seconds > 59:
        raise TimeFormatError(f"{shown(value)} is not a time of day")
    return hours * 3600.0 + minutes * 60.0 + seconds


def clock_offset(value: object, origin: float) -> float:
    """Seconds from ``origin`` (seconds after midnight) forward to the clock time ``value``."""
    return (parse_clock(value) - origin) % DAY


def parse_clock_range(value: object, origin: float) -> tuple[float, float]:
    """``"23:48-02:25"`` -> (start, end) seconds after ``origin``; the range may wrap midnight."""
    if not isinstance(value, str) or value.count("-") != 1:
        raise TimeFormatError(f"expected a clock range like 23:48-02:25, got {shown(value)}")
    first, last = value.split("-")
    start = clock_offset(first, origin)
    length = (parse_clock(last) - parse_clock(first)) % DAY
    if length == 0:
        raise TimeFormatError(f"clock range {shown(value)} is empty")
    return start, start + length


def format_duration(seconds: float) -> str:
    """Short human form (``2h37m``, ``1.5s``, ``250ms``) for messages and reports."""
    if seconds < 1:
        return f"{seconds * 1000:.0f}ms"
    if seconds < 60:
        return f"{seconds:.3g}s"
    whole = int(round(seconds))
    hours, rest = divmod(whole, 3600)
    minutes, secs = divmod(rest, 60)
    parts = [(hours, "h"), (minutes, "m"), (secs, "s")]
    return "".join(f"{n}{unit}" for n, unit in parts if n) or "0s"


@dataclass(frozen=True)
class TimeScale:
    """Maps scenario time (as written) to drill time (wall seconds)."""

    factor: float = 1.0

    def wall(self, scenario_seconds: float) -> float:
        return scenario_seconds / self.factor

    def scenario(self, wall_seconds: float) -> float:
        return wall_seconds * self.factor
