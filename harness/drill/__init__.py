"""Drills: a seeded load against the app while a scenario's faults run, judged by SLOs."""

from harness.drill.runner import DrillEnvironment, DrillResult, DrillRunner, run_drill

__all__ = ["DrillEnvironment", "DrillResult", "DrillRunner", "run_drill"]
