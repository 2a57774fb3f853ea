"""Command-line options of the pytest plugin and the harness configuration they describe."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

APP_CHOICES = ("resilient", "naive", "none")
SCENARIO_PATTERNS = ("chaos_*.yaml", "chaos_*.yml", "*.chaos.yaml", "*.chaos.yml")
SETTINGS_KEY = pytest.StashKey["PluginSettings"]()


def add_options(parser: pytest.Parser) -> None:
    group = parser.getgroup("chaos-harness", "chaos harness (DNS, network, DynamoDB and health-check faults)")
    group.addoption("--chaos-report-dir", metavar="DIR", type=Path, default=None,
                    help="write each scenario's JSON, JUnit XML and HTML report into DIR")
    group.addoption("--chaos-toxiproxy-url", metavar="URL", default=None,
                    help="use the real Toxiproxy at URL (default: $TOXIPROXY_URL or 127.0.0.1:8474 if one "
                         "answers, else the embedded one)")
    group.addoption("--chaos-harness-url", metavar="URL", default=None,
                    help="drive an already running harness through its control API instead of starting one")
    group.addoption("--chaos-app", choices=APP_CHOICES, default="none",
                    help="sample app run by the session harness (default none: you test your own app); "
                         "for scenario files it overrides the file's app profile")
    group.addoption("--chaos-seed", metavar="N", type=int, default=None,
                    help="seed for every fault's probability draws and for scenarios (overrides their seed)")
    parser.addini("chaos_scenario_files", type="linelist", default=list(SCENARIO_PATTERNS),
                  help="glob patterns of scenario YAML files collected as tests (empty: collect none)")


@dataclass(frozen=True)
class PluginSettings:
    """What the options say, validated once per session."""

    report_dir: Path | None = None
    toxiproxy_url: str | None = None
    harness_url: str | None = None
    app: str | None = None
    seed: int | None = None
    scenario_patterns: tuple[str, ...] = SCENARIO_PATTERNS

    @classmethod
    def from_config(cls, config: pytest.Config) -> "PluginSettings":
        app = config.getoption("chaos_app")
        return cls(
            report_dir=config.getoption("chaos_report_dir"),
            toxiproxy_url=config.getoption("chaos_toxiproxy_url"),
            harness_url=config.getoption("chaos_harness_url"),
            app=None if app == "none" else app,
            seed=config.getoption("chaos_seed"),
            scenario_patterns=tuple(config.getini("chaos_scenario_files")),
        )

    def harness_config(self) -> Any:
        """The embedded harness for the session: only the app the user asked for, their seed."""
        from harness.environment import HarnessConfig

        return HarnessConfig(seed=self.seed or 0, app_profile=self.app, toxiproxy_url=self.toxiproxy_url)


def settings_of(config: pytest.Config) -> PluginSettings:
    return config.stash[SETTINGS_KEY]
