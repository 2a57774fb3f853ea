"""Scenario YAML files as test items, and running a scenario from inside a test.

A scenario runs in a fresh embedded harness shaped by its own ``setup`` (regions, nodes, DNS
cache, app replicas) and ``app`` profile, not in the session harness: its objectives are only
meaningful against the harness it describes, and a drill needs the sample app, which the session
harness does not run by default. The item fails with the SLO table when an objective fails, and
errors (one line) when the file is invalid or the drill itself broke.
"""

from __future__ import annotations

import fnmatch
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

import pytest

from harness.errors import HarnessError
from harness.plugin.settings import settings_of


class ScenarioFailed(AssertionError):
    """A scenario's drill ran and at least one steady-state objective failed (message: the SLO table).

    A test failure, not a usage error, so it keeps its lines (a ``HarnessError`` is one line)."""


def is_scenario_file(path: Path, patterns: Iterable[str]) -> bool:
    return any(fnmatch.fnmatch(path.name, pattern) for pattern in patterns)


def slo_table(result: Any) -> str:
    """``PASS/FAIL/INCONCLUSIVE  objective  measured vs threshold`` lines, one per objective, with a heading."""
    from harness.report.fmt import LABELS, verdict

    failed = sum(r.verdict == "fail" for r in result.slos)
    scenario = result.scenario
    head = (f"scenario {scenario.name} ({scenario.path}): "
            f"{failed} of {len(result.slos)} objectives failed" if failed else
            f"scenario {scenario.name} ({scenario.path}): all {len(result.slos)} objectives held")
    width = max((len(r.spec.title) for r in result.slos), default=0)
    rows = [f"  {LABELS[r.verdict]:<12}  {r.spec.title:<{width}}  {verdict(r.to_dict())}" for r in result.slos]
    return "\n".join([head, *rows])


def run_scenario(scenario: Any, settings: Any) -> tuple[Any, dict[str, Path]]:
    """Run a loaded scenario (with the session's ``--chaos-seed``/``--chaos-app`` overrides) in its
    own harness; write reports when ``--chaos-report-dir`` is set. Returns (DrillResult, report paths)."""
    from harness.drill import run_drill
    from harness.environment import Harness
    from harness.report import drill_report, write_reports

    scenario = scenario.with_overrides(seed=settings.seed, app_profile=settings.app)
    with Harness.for_scenario(scenario, with_app=True) as env:
        result = run_drill(scenario, env)
    paths = write_reports(drill_report(result), settings.report_dir) if settings.report_dir is not None else {}
    return result, paths


def verdict_of(result: Any, paths: dict[str, Path]) -> str:
    """The table plus where the reports are; raises ``ScenarioFailed``/``HarnessError`` unless it passed.

    An INCONCLUSIVE drill (too little evidence, or the harness over its lag budget) is a skip with
    the reason: neither a pass nor the app's failure (``pytest -rs`` lists it)."""
    text = slo_table(result)
    if paths:
        text += "\nreports: " + " ".join(str(p) for p in paths.values())
    if result.error:
        raise HarnessError(f"scenario {result.scenario.name}: the drill did not complete: {result.error}")
    if result.verdict == "inconclusive":
        pytest.skip(f"chaos scenario {result.scenario.name} INCONCLUSIVE: {result.reason}")
    if not result.passed:
        raise ScenarioFailed(text)
    return text


class ScenarioFile(pytest.File):
    """A ``chaos_*.yaml`` / ``*.chaos.yaml`` file: one test item running its drill."""

    def collect(self) -> Iterator["ScenarioItem"]:
        from harness.scenario import load_scenario

        try:
            scenario = load_scenario(str(self.path))
        except HarnessError as exc:
            raise self.CollectError(str(exc)) from None
        yield ScenarioItem.from_parent(self, name=scenario.name, scenario=scenario)


class ScenarioItem(pytest.Item):
    def __init__(self, *, scenario: Any, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.scenario = scenario

    def runtest(self) -> None:
        result, paths = run_scenario(self.scenario, settings_of(self.config))
        self.add_report_section("call", "chaos scenario", verdict_of(result, paths))

    def repr_failure(self, excinfo: pytest.ExceptionInfo[BaseException], style: Any = None) -> str:
        if isinstance(excinfo.value, (ScenarioFailed, HarnessError)):
            return str(excinfo.value)
        return super().repr_failure(excinfo, style)

    def reportinfo(self) -> tuple[Path, int, str]:
        return self.path, 0, f"chaos scenario: {self.scenario.title}"
