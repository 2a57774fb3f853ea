"""The drill report as plain data: the JSON file, and the single input of the JUnit/HTML writers.

Keeping one dictionary as the source of every format means a JSON report written by CI can be
re-rendered later (``harness.report.write_reports``) and all formats always agree.
"""

from __future__ import annotations

from collections import Counter
from typing import Any

from harness.drill import slo
from harness.drill.runner import DrillResult

SCHEMA = "chaos-harness/drill-report@1"


def _app(app: Any) -> dict[str, Any]:
    """What was drilled; ``label`` is the one-line name the JUnit and HTML reports show."""
    if app.process is not None:
        command = list(app.process.command)
        return {"label": " ".join(command), "command": command, "env": dict(app.process.env),
                "replicas": app.process.replicas, "port": app.process.port}
    if app.url is not None:
        return {"label": app.url, "url": app.url}
    return {"label": app.profile, "profile": app.profile, "overrides": dict(app.overrides)}


def drill_report(result: DrillResult) -> dict[str, Any]:
    """The JSON report of a drill's journal (the runner's ``DrillResult``)."""
    sc = result.scenario
    load = [r for r in result.records if r.op != "verify"]
    points = slo.series(load, sc.wall_duration, result.bucket)
    found = slo.impacts(load, result.windows, sc.wall_duration)
    return {
        "schema": SCHEMA,
        "scenario": {
            "name": sc.name,
            "title": sc.title,
            "description": sc.description,
            "path": sc.path,
            "seed": sc.seed,
            "time_scale": sc.time_scale,
            "clock": sc.clock,
            "app": _app(sc.app),
            "wall_duration": sc.wall_duration,
            "load": {"rps": sc.load.rps, "users": sc.load.users, "workers": sc.load.workers,
                     "mix": dict(sc.load.mix), "request_timeout": sc.load.request_timeout},
        },
        "app_url": result.app_url,
        "resolver": result.resolver,
        "started_at": result.started_at,
        "finished_at": result.finished_at,
        "verdict": result.verdict,
        "reason": result.reason,
        "passed": result.passed,
        "interrupted": result.interrupted,
        "harness_lag": None if result.lag is None else result.lag.to_dict(len(load)),
        "error": result.error,
        "slos": [r.to_dict() for r in result.slos],
        "method": [
            {"index": s.index, "kind": s.kind, "name": s.name, "options": s.options, "note": s.note,
             "at": sc.wall(s.at), "end": None if s.end is None else sc.wall(s.end),
             "scenario_at": s.at, "scenario_end": s.end, "where": s.where}
            for s in sc.method
        ],
        "faults": [w.to_dict() for w in result.windows],
        "series": {"bucket": result.bucket, "points": points},
        "events": slo.events(found, points),
        "requests": {
            "total": len(load),
            "ok": sum(r.ok for r in load),
            "skipped": result.skipped,
            "by_op": dict(Counter(r.op for r in load)),
            "by_status": {str(k): v for k, v in sorted(Counter(r.status for r in load).items())},
            "by_region": dict(Counter(r.region for r in load if r.region and r.ok)),
            "from_cache": sum(bool(r.cached) for r in load),
        },
        "audit": result.audit.to_dict(),
        "notes": list(result.notes),
        "app_metrics": result.app_metrics,
        "app_output": dict(result.app_output),
        "log": [r.to_dict() for r in result.records],
    }
