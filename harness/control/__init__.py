"""Driving a running harness from another process: the HTTP control API and its client.

The names below load on first use, so the CLI can read ``harness.control.token`` (its variable
names) without importing the server, the client and the fault registry on every start.
"""

from __future__ import annotations

from harness.lazy import lazy_exports

_EXPORTS = {
    "ControlApi": "harness.control.server",
    "ControlServer": "harness.control.server",
    "ControlUnavailableError": "harness.control.client",
    "RemoteHarness": "harness.control.client",
}
__getattr__, __all__ = lazy_exports(__name__, _EXPORTS)
