"""Drills: a seeded load against the app while a scenario's faults run, judged by SLOs.

The names below load on first use: the scenario reader needs ``harness.drill.templates`` alone,
and ``chaos-harness up`` should not import the runner to get it.
"""

from __future__ import annotations

from harness.lazy import lazy_exports

_EXPORTS = {name: "harness.drill.runner" for name in ("DrillEnvironment", "DrillResult", "DrillRunner", "run_drill")}
__getattr__, __all__ = lazy_exports(__name__, _EXPORTS)
