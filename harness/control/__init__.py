"""Driving a running harness from another process: the HTTP control API and its client.

The names below load on first use, so the CLI can read ``harness.control.token`` (its variable
names) without importing the server, the client and the fault registry on every start.
"""

from __future__ import annotations

import importlib
from typing import Any

_EXPORTS = {
    "ControlApi": "harness.control.server",
    "ControlServer": "harness.control.server",
    "ControlUnavailableError": "harness.control.client",
    "RemoteHarness": "harness.control.client",
}
__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    if name not in _EXPORTS:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(importlib.import_module(_EXPORTS[name]), name)
