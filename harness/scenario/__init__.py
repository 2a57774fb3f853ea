"""Scenario files: YAML experiments (steady state, load, method timeline, rollbacks), validated."""

from harness.scenario.loader import builtin_scenarios, load_scenario, parse_scenario, resolve_scenario
from harness.scenario.model import Scenario, ScenarioError

__all__ = ["Scenario", "ScenarioError", "builtin_scenarios", "load_scenario", "parse_scenario", "resolve_scenario"]
