"""The sample app's side of the harness: how ``chaos-harness`` runs it in-process (``--app resilient|naive``).

The harness knows apps only through data (``app:`` in a scenario) and this small provider, which
it finds by the ``chaos_harness.apps`` entry point named ``sample`` (see pyproject.toml), never
by importing this package. The provider says which settings a scenario may override, which tables
the app needs, and starts its replicas.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from typing import Any

from harness.errors import ConfigError
from harness.loopback import LoopbackPool
from sample_app.config import AppConfig, BreakerSettings, RetrySettings, Timeouts
from sample_app.replicas import AppReplicas
from sample_app.tables import TABLE_SPECS

_NESTED_SETTINGS = {"retry": RetrySettings, "timeouts": Timeouts, "breaker": BreakerSettings}


class SampleApp:
    """Provider of the bundled session service for the harness."""

    tables: tuple[dict[str, Any], ...] = TABLE_SPECS
    profiles: tuple[str, ...] = ("resilient", "naive")

    @staticmethod
    def settings() -> set[str]:
        """``AppConfig`` fields a scenario's ``app:`` may override."""
        return {f.name for f in dataclasses.fields(AppConfig)}

    @classmethod
    def config(cls, profile: str, overrides: Mapping[str, Any], endpoints: Mapping[str, str]) -> AppConfig:
        """The configuration for ``profile`` with ``overrides``, talking to ``endpoints``."""
        values = dict(overrides)
        for key, kind in _NESTED_SETTINGS.items():
            if isinstance(values.get(key), Mapping):
                try:
                    values[key] = kind(**values[key])
                except TypeError as exc:
                    raise ConfigError(f"app override {key!r}: {exc}") from None
        unknown = sorted(set(values) - cls.settings())
        if unknown:
            raise ConfigError(f"unknown app setting {unknown[0]!r}; known settings: {', '.join(sorted(cls.settings()))}")
        factory = AppConfig.naive if profile == "naive" else AppConfig.resilient
        return factory(endpoints, **values)

    @classmethod
    def replicas(cls, profile: str, overrides: Mapping[str, Any], endpoints: Mapping[str, str], pool: LoopbackPool,
                 *, count: int, hostname: str) -> AppReplicas:
        """``count`` in-process replicas (not started) behind ``hostname``."""
        return AppReplicas(cls.config(profile, overrides, endpoints), pool, count=count, hostname=hostname)
