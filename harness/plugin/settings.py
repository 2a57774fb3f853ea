"""Command-line options of the pytest plugin and the harness configuration they describe.

Every harness-shaping option can be given on the command line (``--chaos-resolver-timeout 0.5``)
or in the ini file (``chaos_resolver_timeout = 0.5``); the command line wins.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

APP_CHOICES = ("resilient", "naive", "none")
ROUTING_CHOICES = ("tests", "session")
SCENARIO_PATTERNS = ("chaos_*.yaml", "chaos_*.yml", "*.chaos.yaml", "*.chaos.yml")
SETTINGS_KEY = pytest.StashKey["PluginSettings"]()

#: (option name without dashes, metavar, help) of the options that also have an ini twin.
_SHAPE_OPTIONS = (
    ("chaos-resolver-timeout", "SECONDS",
     "in-process resolver's wait per attempt (default: this machine's glibc setting from /etc/resolv.conf "
     "and $RES_OPTIONS, 5 s when unset); smaller makes dns.timeout tests faster than production"),
    ("chaos-resolver-attempts", "N", "in-process resolver's attempts per query (default: glibc's, 2 when unset)"),
    ("chaos-connection-max-age", "SECONDS",
     "the endpoints close a client connection after SECONDS, so pools turn over and resolve names again "
     "(default: never; per test: chaos_dynamodb.connection_max_age / close_connections())"),
    ("chaos-regions", "REGION,...", "regions the session harness runs (default us-east-1,us-west-2; first is primary)"),
    ("chaos-service-health-checks", "true|false",
     "health-check the other services' endpoints (sqs, sts, ...) too, so health.* faults reach them by name "
     "(default false: it costs CPU)"),
    ("chaos-dns-routing", "tests|session",
     "when managed names (*.amazonaws.com, *.chaos.test) resolve through the harness: 'tests' (default) only "
     "while a test using a chaos fixture or marker runs; 'session': from session start for every test"),
)


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
    for name, metavar, help_text in _SHAPE_OPTIONS:
        group.addoption(f"--{name}", metavar=metavar, default=None, help=f"{help_text} [ini: {name.replace('-', '_')}]")
        parser.addini(name.replace("-", "_"), help=help_text, default=None)
    parser.addini("chaos_scenario_files", type="linelist", default=list(SCENARIO_PATTERNS),
                  help="glob patterns of scenario YAML files collected as tests (empty: collect none)")


def _shape_option(config: pytest.Config, name: str) -> str | None:
    """The command-line value, else the ini value, else None."""
    key = name.replace("-", "_")
    value = config.getoption(key)
    if value is None:
        value = config.getini(key)
    return None if value in (None, "") else str(value).strip()


def _seconds(config: pytest.Config, name: str, maximum: float | None = None) -> float | None:
    text = _shape_option(config, name)
    if text is None:
        return None
    try:
        value = float(text)
    except ValueError:
        value = math.nan
    if not (math.isfinite(value) and value > 0 and (maximum is None or value <= maximum)):
        limit = f" and at most {maximum:g}" if maximum is not None else ""
        raise pytest.UsageError(f"--{name} / {name.replace('-', '_')}: expected seconds above 0{limit}, got {text!r}")
    return value


def _whole(config: pytest.Config, name: str, maximum: int) -> int | None:
    text = _shape_option(config, name)
    if text is None:
        return None
    if not text.isdigit() or not 1 <= int(text) <= maximum:
        raise pytest.UsageError(f"--{name} / {name.replace('-', '_')}: expected a whole number from 1 to {maximum}, got {text!r}")
    return int(text)


def _flag(config: pytest.Config, name: str) -> bool:
    text = _shape_option(config, name)
    if text is None:
        return False
    if text.lower() not in ("true", "false", "yes", "no", "1", "0"):
        raise pytest.UsageError(f"--{name} / {name.replace('-', '_')}: expected true or false, got {text!r}")
    return text.lower() in ("true", "yes", "1")


@dataclass(frozen=True)
class PluginSettings:
    """What the options say, validated once per session."""

    report_dir: Path | None = None
    toxiproxy_url: str | None = None
    harness_url: str | None = None
    app: str | None = None
    seed: int | None = None
    scenario_patterns: tuple[str, ...] = SCENARIO_PATTERNS
    resolver_timeout: float | None = None
    resolver_attempts: int | None = None
    connection_max_age: float | None = None
    regions: tuple[str, ...] | None = None
    dns_routing: str = "tests"
    service_health_checks: bool = False

    @classmethod
    def from_config(cls, config: pytest.Config) -> "PluginSettings":
        from harness.resolver.options import MAX_ATTEMPTS, MAX_TIMEOUT

        app = config.getoption("chaos_app")
        routing = _shape_option(config, "chaos-dns-routing") or "tests"
        if routing not in ROUTING_CHOICES:
            raise pytest.UsageError(f"--chaos-dns-routing / chaos_dns_routing: expected 'tests' or 'session', got {routing!r}")
        regions = _shape_option(config, "chaos-regions")
        region_list = tuple(regions.replace(",", " ").split()) if regions else None
        if region_list is not None:
            from harness.dynamodb.regions import validate_regions
            from harness.errors import ConfigError

            try:
                validate_regions(region_list)
            except ConfigError as exc:
                raise pytest.UsageError(f"--chaos-regions / chaos_regions: {exc}") from None
        return cls(
            report_dir=config.getoption("chaos_report_dir"),
            toxiproxy_url=config.getoption("chaos_toxiproxy_url"),
            harness_url=config.getoption("chaos_harness_url"),
            app=None if app == "none" else app,
            seed=config.getoption("chaos_seed"),
            scenario_patterns=tuple(config.getini("chaos_scenario_files")),
            resolver_timeout=_seconds(config, "chaos-resolver-timeout", MAX_TIMEOUT),
            resolver_attempts=_whole(config, "chaos-resolver-attempts", MAX_ATTEMPTS),
            connection_max_age=_seconds(config, "chaos-connection-max-age"),
            regions=region_list,
            dns_routing=routing,
            service_health_checks=_flag(config, "chaos-service-health-checks"),
        )

    def harness_config(self) -> Any:
        """The embedded harness for the session: only the app the user asked for, their seed and shape."""
        from harness.environment import HarnessConfig

        shape: dict[str, Any] = {"regions": self.regions} if self.regions else {}
        return HarnessConfig(seed=self.seed or 0, app_profile=self.app, toxiproxy_url=self.toxiproxy_url,
                             resolver_timeout=self.resolver_timeout, resolver_attempts=self.resolver_attempts,
                             resolver_source="explicit: --chaos-resolver-timeout/--chaos-resolver-attempts",
                             connection_max_age=self.connection_max_age, route_dns=False,
                             service_health_checks=self.service_health_checks, **shape)

    def resolver_options(self) -> Any:
        """What the session's in-process resolver will use (for the report header)."""
        return self.harness_config().resolver_options()


def settings_of(config: pytest.Config) -> PluginSettings:
    return config.stash[SETTINGS_KEY]
