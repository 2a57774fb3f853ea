"""Finding the bundled sample app without importing it: the ``chaos_harness.apps`` entry point.

Any app the harness drills is data (``app:`` in a scenario: a command, or a URL). The bundled
sample app can also run in the harness's own process (``--app resilient|naive``, the pytest
plugin); its package registers a provider under this entry point group, so the harness never
imports it and works without it installed.
"""

from __future__ import annotations

import functools
from importlib.metadata import entry_points
from typing import Any

from harness.errors import ConfigError

GROUP = "chaos_harness.apps"
SAMPLE = "sample"


@functools.cache
def bundled_app() -> Any | None:
    """The sample app's provider (``settings()``, ``tables``, ``replicas(...)``), or None if not installed."""
    found = [ep for ep in entry_points(group=GROUP) if ep.name == SAMPLE]
    if not found:
        return None
    try:
        return found[0].load()
    except ImportError:
        return None


def require_bundled_app() -> Any:
    provider = bundled_app()
    if provider is None:
        raise ConfigError(f"the bundled sample app is not installed (no {GROUP!r} entry point {SAMPLE!r}); "
                          "describe your app with 'command' or 'url' in the scenario's app section")
    return provider
