"""Running a scenario against a live harness: load, the method timeline, rollbacks, verdict.

Order of a drill (Chaos Toolkit's experiment shape):
1. prepare the load (create the drill's users; proves the app answers before any fault);
2. start the seeded load and walk the method timeline in wall time, injecting faults through
   ``env.chaos`` and running actions;
3. rollbacks, *always* (also after an error or Ctrl-C): stop the load, ``chaos.clear_all()``,
   undo held actions (resume replication), then the scenario's own rollbacks;
4. after a clean run: wait for replication to catch up, read back every acknowledged write;
5. evaluate the steady-state objectives on the requests the harness did not disturb (its own lag
   is measured throughout, ``harness.drill.lag``) and return a ``DrillResult``, the journal the reports render.

The verdict is PASS, FAIL or INCONCLUSIVE: FAIL needs evidence against the app; when the
evidence is too thin, or the harness was too slow to give a fair test, the drill says so instead
of guessing.

The runner needs only what ``DrillEnvironment`` lists, so the lead's ``Harness`` plugs in as-is
and tests can drive it with a small in-process environment.
"""

from __future__ import annotations

import datetime as dt
import threading
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol

from harness.chaos import FaultControl
from harness.drill import slo
from harness.drill.method import MethodWalk
from harness.drill.serving_region import attribute, dynamodb_calls
from harness.drill.traffic import TrafficGenerator
from harness.drill.lag import LagMonitor, LagReport
from harness.drill.progress import NullProgress, Progress, Snapshot
from harness.drill.records import FaultWindow, RequestRecord, WriteAudit
from harness.errors import ConfigError, HarnessError, TimeoutExpired
from harness.scenario.model import Scenario, Step

REPLICATION_CATCH_UP = 15.0  # wall seconds to wait for replication before reading writes back
ERROR = "error"


class DrillApp(Protocol):
    """The running app under test."""

    url: str

    def metrics(self) -> Mapping[str, Any]: ...


class DrillEnvironment(Protocol):
    """What the runner needs from ``harness.environment.Harness``.

    ``chaos`` injects and clears faults; ``app`` is the sample app (``None`` when the drill targets
    an app by URL); ``dynamodb`` (may be ``None``) offers ``replication.pause()/resume()/
    wait_caught_up(timeout)`` for replication actions and the end-of-run write audit.
    """

    chaos: FaultControl[Any]  # a Chaos here, or a RemoteChaos driving another process
    app: DrillApp | None
    dynamodb: Any


@dataclass
class DrillResult:
    """The drill's journal: what ran, every request, the fault windows, the verdicts.

    Plain data, like a Chaos Toolkit journal: the runner fills it in and knows nothing of report
    formats; ``harness.report.drill_report`` turns it into the JSON document the reports render.
    """

    scenario: Scenario
    app_url: str
    started_at: str
    finished_at: str = ""
    records: list[RequestRecord] = field(default_factory=list)
    windows: list[FaultWindow] = field(default_factory=list)
    audit: WriteAudit = field(default_factory=lambda: WriteAudit(ran=False, note="the drill did not finish"))
    slos: list[slo.SLOResult] = field(default_factory=list)
    notes: list[dict[str, Any]] = field(default_factory=list)  # timeline/rollback log
    app_metrics: Mapping[str, Any] | None = None
    app_output: dict[str, list[str]] = field(default_factory=dict)  # last lines of each replica's output
    skipped: int = 0
    error: str | None = None
    interrupted: bool = False
    lag: LagReport | None = None

    @property
    def verdict(self) -> str:
        """``pass``, ``fail``, ``inconclusive`` or ``error`` (see ``reason``)."""
        if self.error is not None or self.interrupted:
            return ERROR
        verdicts = {r.verdict for r in self.slos}
        if slo.FAIL in verdicts:
            return slo.FAIL
        if slo.INCONCLUSIVE in verdicts or not self.slos or self._lag_over_budget:
            return slo.INCONCLUSIVE
        return slo.PASS

    @property
    def reason(self) -> str:
        """One line saying why the verdict is what it is."""
        verdict = self.verdict
        if verdict == ERROR:
            return self.error or "interrupted"
        if verdict == slo.PASS:
            return "every objective held"
        picked = [r for r in self.slos if r.verdict == verdict]
        if picked:
            return "; ".join(f"{r.spec.title}: {r.detail}" for r in picked)
        if not self.slos:
            return "the scenario has no objectives"
        assert self.lag is not None
        return (f"harness lag over budget: {self.lag.why_over_budget(self._load_count)}; "
                f"run it again on a quieter machine")

    @property
    def _load_count(self) -> int:
        return sum(r.op != "verify" for r in self.records)

    @property
    def _lag_over_budget(self) -> bool:
        return self.lag is not None and self.lag.over_budget(self._load_count)
    #: The app-side resolver's timeout/attempts and where they came from (``ResolverOptions.to_dict``).
    resolver: dict[str, Any] | None = None

    @property
    def passed(self) -> bool:
        return self.verdict == slo.PASS

    @property
    def bucket(self) -> float:
        return max(0.5, round(self.scenario.wall_duration / 120, 2))


class DrillRunner:
    def __init__(self, scenario: Scenario, env: DrillEnvironment, *, app_url: str | None = None,
                 progress: Progress | None = None) -> None:
        url = app_url or scenario.app.url or getattr(getattr(env, "app", None), "url", None)
        if not url:
            raise ConfigError("no app to drill: the harness runs no sample app and no --app-url was given")
        self.scenario = scenario
        self.env = env
        self.url = url
        self.progress = progress or NullProgress()
        self.clock = env.chaos.clock
        self.method = MethodWalk(scenario, env, self.clock)
        self._abort = self.method.abort
        self._t0 = 0.0

    # -- public -------------------------------------------------------------------------------
    def run(self) -> DrillResult:
        sc = self.scenario
        result = DrillResult(sc, self.url, _now())
        options = getattr(getattr(self.env, "resolver", None), "options", None)
        result.resolver = options.to_dict() if options is not None else None
        load = self._generator()
        loop_thread = getattr(self.env, "loop", None)
        monitor = LagMonitor(sc.load.lag_budget, clock=self.clock, loop=getattr(loop_thread, "loop", None))
        ticker: threading.Thread | None = None
        try:
            load.prepare()
            self._t0 = self.clock()
            monitor.start(self._t0)
            load.start(self._t0)
            ticker = threading.Thread(target=self._tick, args=(load,), name="drill-progress")
            ticker.start()
            self.method.walk(self._t0, lambda text: self._note(result, text))
            load.join()
        except KeyboardInterrupt:
            result.interrupted = True
            raise
        except HarnessError as exc:
            result.error = str(exc)
        finally:
            self._abort.set()
            load.stop()
            load.join()
            if ticker is not None:
                ticker.join()
            monitor.stop()
            self._rollback(result)
            result.records = attribute(load.records(), dynamodb_calls(self.env, self._t0))
            result.lag = monitor.report(result.records)
            result.skipped = load.skipped
            result.windows = self._windows()
            result.finished_at = _now()
            self.progress.close()
        if result.error is None:
            self._verify(load, result)
        result.slos = slo.evaluate(sc.steady_state, result.records, result.windows, result.audit, sc.wall_duration,
                                   result.lag)
        return result

    def _generator(self) -> TrafficGenerator:
        """The scenario's ``traffic`` against the app, its ``writes`` audited at the end."""
        sc = self.scenario
        if sc.traffic is None:
            raise ConfigError(f"scenario {sc.name!r} describes no traffic")
        return TrafficGenerator(self.url, sc.load, sc.wall_duration, sc.seed, sc.traffic, sc.writes,
                                region_header=sc.app.region_header,
                                tables=getattr(self.env, "item_in_regions", None), clock=self.clock)

    # -- timeline ---------------------------------------------------------------------------
    def schedule(self) -> list[tuple[float, int, str, Step]]:
        """(wall time, order, start|stop, step) sorted; stops go first at equal times."""
        return self.method.schedule()

    def _rollback(self, result: DrillResult) -> None:
        """Clear every fault, undo held actions, run the scenario's rollbacks; log, never stop early."""
        failed = self.method.rollback(lambda text: self._note(result, text))
        result.error = result.error or failed

    # -- verification and data ------------------------------------------------------------------
    def _verify(self, load: TrafficGenerator, result: DrillResult) -> None:
        replication = getattr(getattr(self.env, "dynamodb", None), "replication", None)
        if replication is not None:
            try:
                replication.wait_caught_up(REPLICATION_CATCH_UP)
            except TimeoutExpired as exc:
                self._note(result, f"replication did not catch up: {exc}")
        result.audit, verify_records = load.audit()
        result.records.extend(verify_records)
        app = getattr(self.env, "app", None)
        if app is not None and hasattr(app, "output"):
            result.app_output = app.output()
        if app is not None and hasattr(app, "metrics"):
            try:
                result.app_metrics = dict(app.metrics())
            except Exception as exc:  # metrics are a report extra; their absence fails nothing
                self._note(result, f"app metrics unavailable: {exc}")

    def _windows(self) -> list[FaultWindow]:
        return self.method.windows()

    def _note(self, result: DrillResult, text: str) -> None:
        t = round(self.clock() - self._t0, 3) if self._t0 else 0.0
        result.notes.append({"t": t, "text": text})
        self.progress.note(f"[{t:5.1f}s] {text}")

    def _tick(self, load: TrafficGenerator) -> None:
        while not self._abort.wait(self.progress.interval):
            self.progress.update(self.snapshot(load))

    def snapshot(self, load: TrafficGenerator) -> Snapshot:
        elapsed = self.clock() - self._t0
        recent = load.records_since(elapsed - 1.0)
        everything = load.records()
        ok = [r for r in recent if r.ok]
        regions = [r.region for r in ok if r.region]
        active = self.method.active_labels()
        p99 = slo.percentile([r.latency for r in recent], 99)
        return Snapshot(
            elapsed=min(elapsed, self.scenario.wall_duration), total=self.scenario.wall_duration,
            requests=len(everything), failures=sum(not r.ok for r in everything),
            recent_success=(len(ok) / len(recent)) if recent else None,
            recent_p99_ms=None if p99 is None else p99 * 1000,
            region=max(set(regions), key=regions.count) if regions else None, active=active,
        )


def _now() -> str:
    return dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds")


def run_drill(scenario: Scenario, env: DrillEnvironment, *, app_url: str | None = None,
              progress: Progress | None = None) -> DrillResult:
    """Run ``scenario`` against ``env``; rollbacks always run; Ctrl-C propagates after them."""
    return DrillRunner(scenario, env, app_url=app_url, progress=progress).run()
