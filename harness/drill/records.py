"""What a drill observed: one record per request, plus the fault windows and end-of-run checks.

These are the raw facts the SLO evaluation, the per-second series and every report are computed
from, so they are plain, JSON-ready dataclasses. Times are wall seconds since the load started.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any


@dataclass(frozen=True)
class RequestRecord:
    seq: int
    t: float  # when the request was sent
    op: str  # login | validate | logout | verify
    user: str
    status: int  # HTTP status; 0 when no response arrived (refused, reset, timed out)
    latency: float  # seconds until the response or the error
    ok: bool
    region: str | None = None
    cached: bool | None = None
    session: str | None = None
    key: str | None = None  # idempotency key of a login
    error: str | None = None
    # How much later than it could have been sent the request went out: the worker was free and
    # the planned time had come, but the harness did not get to run (its own lag, not the app's).
    send_lag: float = 0.0

    @property
    def done(self) -> float:
        return self.t + self.latency

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class FaultWindow:
    """When a fault was active, relative to the load start (``end`` None: until the load ended)."""

    name: str
    start: float
    end: float | None
    options: dict[str, Any] = field(default_factory=dict)
    step: int | None = None
    label: str = ""

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class WriteAudit:
    """End-of-run check of acknowledged writes (after faults cleared and replication caught up)."""

    checked: int = 0
    lost: tuple[str, ...] = ()  # the app answered: not found
    duplicates: tuple[str, ...] = ()
    unverified: tuple[str, ...] = ()  # the app never answered the read-back (timeouts, 5xx)
    ran: bool = True
    note: str = ""

    def to_dict(self) -> dict[str, Any]:
        return {"checked": self.checked, "lost": list(self.lost), "duplicates": list(self.duplicates),
                "unverified": list(self.unverified),
                "ran": self.ran, "note": self.note}
