"""Shared test helpers: system tools that must exist under CI, and the fixture modules.

Fixtures shared by several test modules live in the modules below, loaded as plugins, so a test
module asks for them by name and never imports them. Helpers (classes, functions) are imported
from those modules as usual.
"""

from __future__ import annotations

import os
import shutil

import pytest

pytest_plugins = [
    "cli_process",  # remote: a reset RemoteHarness on the module's own ``up`` fixture
    "harness_dns_env",  # dns_env: a DNS server with a fault injector
    "local_regions",  # pool, regions: two local moto regions for the sample app's tests (before
    # harness_env, which imports it: a plugin imported earlier as a plain module is not assert-rewritten)
    "harness_env",  # harness_slot: the module's embedded harness
    "regions_fixtures",  # east: us-east-1 of the module's ``harness`` (NetworkedRegions)
]


def require_tool(name: str) -> str:
    """Path of a system tool; skip without it on a user's machine, fail under CI=true."""
    path = shutil.which(name)
    if path:
        return path
    message = f"needs the system tool {name!r} (install it, e.g. with .ci/run's apt-get line)"
    if os.environ.get("CI", "").lower() == "true":
        pytest.fail(f"CI=true and {message}")
    pytest.skip(message)
