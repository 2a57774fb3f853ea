"""Shared test helpers: system tools that must exist under CI."""

from __future__ import annotations

import os
import shutil

import pytest


def require_tool(name: str) -> str:
    """Path of a system tool; skip without it on a user's machine, fail under CI=true."""
    path = shutil.which(name)
    if path:
        return path
    message = f"needs the system tool {name!r} (install it, e.g. with .ci/run's apt-get line)"
    if os.environ.get("CI", "").lower() == "true":
        pytest.fail(f"CI=true and {message}")
    pytest.skip(message)
