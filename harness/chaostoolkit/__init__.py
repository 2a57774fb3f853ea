"""Chaos Toolkit extension: experiments inject, clear and observe faults in a running harness.

Teams that already write Chaos Toolkit experiments drive ``chaos-harness up --control`` from them:
``harness.chaostoolkit.actions`` injects and clears any registered fault by name, and
``harness.chaostoolkit.probes`` reads the harness (active faults, DNS answers, query counts,
replication lag). Everything goes through ``harness.control.client.RemoteHarness``, so the control
API's bearer token (``CHAOS_HARNESS_TOKEN`` / ``CHAOS_HARNESS_TOKEN_FILE``) is added in one place.

The harness is found from the experiment's configuration key ``harness_url`` (which Chaos Toolkit
can read from the environment with ``{"type": "env", "key": "CHAOS_HARNESS_URL"}``), else from
``CHAOS_HARNESS_URL`` directly. Needs the ``chaostoolkit`` extra: ``pip install chaos-harness[chaostoolkit]``.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator, Mapping
from typing import Any

try:
    from chaoslib.exceptions import ActivityFailed
except ImportError as exc:  # pragma: no cover - depends on the installed extras
    raise ImportError("harness.chaostoolkit needs Chaos Toolkit: pip install 'chaos-harness[chaostoolkit]'") from exc

from harness.control.client import RemoteHarness
from harness.errors import HarnessError

HARNESS_URL_KEY = "harness_url"
HARNESS_URL_VARIABLE = "CHAOS_HARNESS_URL"

__all__ = ["HARNESS_URL_KEY", "connect"]


def harness_url(configuration: Mapping[str, Any] | None) -> str:
    """The control URL from the experiment's configuration, else the environment."""
    url = (configuration or {}).get(HARNESS_URL_KEY) or os.environ.get(HARNESS_URL_VARIABLE)
    if not url:
        raise ActivityFailed(f"no harness to talk to: set configuration '{HARNESS_URL_KEY}' or ${HARNESS_URL_VARIABLE} "
                             "(the 'control' line printed by 'chaos-harness up --control HOST:PORT')")
    return str(url)


@contextlib.contextmanager
def connect(configuration: Mapping[str, Any] | None) -> Iterator[RemoteHarness]:
    """The running harness; its one-line errors become Chaos Toolkit activity failures."""
    try:
        with RemoteHarness(harness_url(configuration)) as remote:
            yield remote
    except HarnessError as exc:
        raise ActivityFailed(str(exc)) from None
