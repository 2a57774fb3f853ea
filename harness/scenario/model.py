"""What a validated scenario is: plain dataclasses the drill runner and reports read.

A ``Scenario`` is only ever built by ``harness.scenario.loader`` after every field has been
checked, so the runner can trust it (fault options already went through ``create_fault``,
timelines are within the load, thresholds are in range). Times are kept in *scenario* seconds as
written; ``Scenario.wall()`` converts with the file's ``time_scale``.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Any, Literal

from harness.errors import HarnessError
from harness.scenario.appspec import ProcessSpec, TrafficSpec, WritesSpec
from harness.scenario.timeline import TimeScale, format_duration


class ScenarioError(HarnessError):
    """A scenario file is wrong; the message starts with ``file:line: field:``."""


AppProfile = Literal["resilient", "naive"]
APP_PROFILES: tuple[str, ...] = ("resilient", "naive")
OPERATIONS: tuple[str, ...] = ("login", "validate", "logout")


@dataclass(frozen=True)
class AppSpec:
    """The app under test: a command the harness starts (``process``), an app already running at
    ``url``, or the bundled sample app (``profile`` plus ``AppConfig`` overrides); ``tables`` are
    CreateTable requests created as global tables before it starts; ``region_header`` names a
    response header saying which region served a request (optional: the harness sees it anyway)."""

    profile: str = "resilient"
    overrides: dict[str, Any] = field(default_factory=dict)
    process: ProcessSpec | None = None
    url: str | None = None
    tables: tuple[dict[str, Any], ...] = ()
    region_header: str | None = None


@dataclass(frozen=True)
class SetupSpec:
    """Harness shape for this scenario. Cache TTLs are in scenario time (scaled at run time)."""

    regions: tuple[str, ...] = ("us-east-1", "us-west-2")
    nodes: int = 3
    app_replicas: int = 1
    dns_max_ttl: float | None = None
    dns_negative_ttl: float | None = None
    replication_lag: float | None = None
    #: How long the DynamoDB endpoint keeps a client connection (scenario time); None = forever.
    connection_max_age: float | None = None
    #: The in-process resolver's per-attempt timeout and attempts, in *wall* seconds: a DNS
    #: client's wait is not compressed by ``time_scale``. None: the host's glibc settings.
    resolver_timeout: float | None = None
    resolver_attempts: int | None = None


@dataclass(frozen=True)
class LoadProfile:
    """Bounded, seeded load: ``rps`` is real requests per wall second; ``duration`` is scenario time."""

    rps: float = 20.0
    duration: float = 60.0
    users: int = 20
    workers: int = 4
    mix: dict[str, float] = field(default_factory=lambda: {"login": 1.0, "validate": 8.0, "logout": 1.0})
    request_timeout: float = 2.0
    # How late (wall seconds) the harness may run before the requests it touches are left out of the
    # verdict (``harness.drill.lag``); the app is never judged on the harness's own slowness.
    lag_budget: float = 0.2


SLO_KINDS: tuple[str, ...] = (
    "success_rate",
    "p99_latency",
    "time_to_failover",
    "time_to_recover",
    "lost_writes",
    "duplicate_writes",
)


@dataclass(frozen=True)
class SLOSpec:
    """One steady-state objective. Durations here are wall seconds (the app is not compressed)."""

    kind: str
    threshold: float
    window: float | None = None
    min_requests: int = 1
    where: str = ""

    @property
    def comparator(self) -> str:
        return ">=" if self.kind == "success_rate" else "<="

    @property
    def unit(self) -> str:
        return {"success_rate": "%", "p99_latency": "ms", "time_to_failover": "s", "time_to_recover": "s"}.get(
            self.kind, "writes"
        )

    @property
    def title(self) -> str:
        """Stable human name, used as the JUnit test case name."""
        if self.kind == "success_rate":
            return f"success_rate >= {self.threshold * 100:g}% per {format_duration(self.window or 1)} window"
        if self.kind == "p99_latency":
            return f"p99_latency <= {self.threshold * 1000:g}ms"
        if self.kind in ("time_to_failover", "time_to_recover"):
            return f"{self.kind} <= {format_duration(self.threshold)}"
        return f"{self.kind} <= {self.threshold:g}"


@dataclass(frozen=True)
class Step:
    """A timeline entry: a fault (by registered name) or an action, at/for scenario seconds."""

    index: int
    kind: Literal["fault", "action"]
    name: str
    options: dict[str, Any]
    at: float
    duration: float | None
    where: str
    note: str = ""

    @property
    def end(self) -> float | None:
        return None if self.duration is None else self.at + self.duration

    @property
    def label(self) -> str:
        return self.note or self.name


@dataclass(frozen=True)
class Scenario:
    name: str
    title: str
    description: str
    seed: int
    time_scale: float
    clock: float | None
    app: AppSpec
    setup: SetupSpec
    steady_state: tuple[SLOSpec, ...]
    load: LoadProfile
    method: tuple[Step, ...]
    rollbacks: tuple[Step, ...]
    path: str
    traffic: TrafficSpec | None = None
    writes: WritesSpec | None = None

    @property
    def scale(self) -> TimeScale:
        return TimeScale(self.time_scale)

    def wall(self, scenario_seconds: float) -> float:
        return self.scale.wall(scenario_seconds)

    @property
    def wall_duration(self) -> float:
        """How long the load (and so the method) runs, in wall seconds."""
        return self.wall(self.load.duration)

    def with_overrides(self, *, seed: int | None = None, app_profile: str | None = None,
                       app: AppSpec | None = None) -> "Scenario":
        """The same scenario with CLI overrides applied (``--seed``, ``--app``, ``--app-command``...)."""
        app = app or self.app
        if app_profile is not None:
            app = replace(app, profile=app_profile)
        return replace(self, seed=self.seed if seed is None else seed, app=app)

    @property
    def bundled_app(self) -> bool:
        """Whether the bundled app (``--app resilient|naive``) is the app under test (no command, no URL)."""
        return self.app.process is None and self.app.url is None
