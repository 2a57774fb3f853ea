"""examples/node-orders for tests: skipped without node/npm on a user's machine, installed once."""

from __future__ import annotations

import subprocess
from pathlib import Path

from conftest import require_tool
from harness_dns_env import require_namespaces

EXAMPLE = Path(__file__).resolve().parent.parent / "examples" / "node-orders"


def installed_example() -> Path:
    """The example directory with its npm dependencies installed (``npm ci`` from its lock file)."""
    require_namespaces()
    require_tool("node")
    npm = require_tool("npm")
    if not (EXAMPLE / "node_modules" / "@aws-sdk" / "client-dynamodb").is_dir():
        subprocess.run([npm, "ci", "--no-audit", "--no-fund"], cwd=EXAMPLE, check=True, capture_output=True,
                       timeout=600)
    return EXAMPLE
