"""Scenario files: YAML experiments (steady state, load, method timeline, rollbacks), validated.

The names below load on first use, so a module that needs one small part (the app process reads
``harness.scenario.appspec``) does not import the loader, the YAML parser and the drill templates.
"""

from __future__ import annotations

from harness.lazy import lazy_exports

_EXPORTS = {
    **{name: "harness.scenario.loader" for name in ("builtin_scenarios", "load_scenario", "parse_scenario",
                                                     "resolve_scenario")},
    "Scenario": "harness.scenario.model",
    "ScenarioError": "harness.scenario.model",
}
__getattr__, __all__ = lazy_exports(__name__, _EXPORTS)
