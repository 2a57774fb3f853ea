"""The rules that turn probe results into DNS answers, kept free of I/O so they are easy to test.

Two rules, as NLB target groups and Route 53 apply them:

* thresholds: a target changes state only after ``healthy_threshold`` consecutive passing checks
  (or ``unhealthy_threshold`` consecutive failing ones), so a single lost probe does not move DNS;
* fail-open: when every target of a name is unhealthy, DNS answers with all of them, because
  answering with none would turn a health-check problem into a total outage.

Plus the velocity control AWS added after the October 2025 outage, off by default:
``max_removal_share`` is the largest share of a name's targets that health checks may take out of
DNS at the same time. With ``n`` targets, at most ``floor(share * n)`` are removed, so DNS always
keeps at least ``min_published = n - floor(share * n)`` addresses (``ceil((1 - share) * n)``), i.e.
at least ``1 - share`` of the capacity. When more targets fail than that allows, the unhealthy
targets already in DNS stay in (least churn), then others in target order.
"""

from __future__ import annotations

import math
from collections import deque
from dataclasses import dataclass, field

from harness.errors import ConfigError

HISTORY_ROUNDS = 256  # probe results kept per target for reports and assertions


@dataclass(frozen=True)
class ProbeResult:
    """One check of one target: the round, whether it passed, and who decided (probe or fault name)."""

    round: int
    ok: bool
    source: str


@dataclass
class TargetState:
    """Threshold state of one target. Targets start healthy: they are in DNS when registered."""

    healthy: bool = True
    streak: int = 0  # consecutive results that disagree with ``healthy``
    history: deque[ProbeResult] = field(default_factory=lambda: deque(maxlen=HISTORY_ROUNDS))

    def observe(self, result: ProbeResult, healthy_threshold: int, unhealthy_threshold: int) -> bool:
        """Record a result; True when it flips the state."""
        self.history.append(result)
        if result.ok == self.healthy:
            self.streak = 0
            return False
        self.streak += 1
        if self.streak >= (healthy_threshold if result.ok else unhealthy_threshold):
            self.healthy = result.ok
            self.streak = 0
            return True
        return False


@dataclass(frozen=True)
class Decision:
    """Which targets (indices, in target order) DNS should answer with, and why."""

    published: tuple[int, ...]
    fail_open: bool
    held: tuple[int, ...]  # unhealthy targets kept in DNS by the velocity cap


def min_published(count: int, max_removal_share: float | None) -> int:
    """The fewest targets DNS may answer with while at least one is healthy."""
    if max_removal_share is None:
        return 1
    removable = math.floor(max_removal_share * count + 1e-9)
    return max(1, count - removable)


def decide(healthy: list[bool], previous: tuple[int, ...], minimum: int) -> Decision:
    """Apply fail-open and the velocity cap to the targets' health."""
    up = [i for i, ok in enumerate(healthy) if ok]
    if not up:
        return Decision(tuple(range(len(healthy))), True, ())
    missing = minimum - len(up)
    held: list[int] = []
    if missing > 0:
        down_in_dns = [i for i in previous if not healthy[i]]
        down_out = [i for i, ok in enumerate(healthy) if not ok and i not in previous]
        held = (down_in_dns + down_out)[:missing]
    return Decision(tuple(sorted(up + held)), False, tuple(sorted(held)))


def validate_settings(interval: float, timeout: float, healthy_threshold: int, unhealthy_threshold: int,
                      max_removal_share: float | None) -> None:
    """One-line errors for checker settings that cannot work."""
    if not (isinstance(interval, (int, float)) and math.isfinite(interval) and interval > 0):
        raise ConfigError(f"health check interval must be a positive number of seconds, got {interval!r}")
    if not (isinstance(timeout, (int, float)) and 0 < timeout <= interval):
        raise ConfigError(f"health check timeout must be > 0 and <= the interval ({interval:g} s), got {timeout!r}")
    for value, what in ((healthy_threshold, "healthy_threshold"), (unhealthy_threshold, "unhealthy_threshold")):
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            raise ConfigError(f"health check {what} must be a whole number >= 1, got {value!r}")
    if max_removal_share is not None and not (
        isinstance(max_removal_share, (int, float)) and 0 < max_removal_share <= 1
    ):
        raise ConfigError(f"health check max_removal_share must be in (0, 1] or None, got {max_removal_share!r}")
