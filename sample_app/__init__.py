"""A small sign-in session service on DynamoDB whose resilience is real code.

Read it module by module: ``store`` (botocore retries and timeouts, conditional writes),
``failover`` (error classes, circuit breakers, regional router), ``cache`` (static stability),
``sessions`` (the service), ``server`` (HTTP API), ``config`` (resilient vs naive, environment).

Names are imported on first use, so code that only needs the configuration or the table specs
(the harness reading its settings) does not pay for importing boto3.
"""

from __future__ import annotations

import importlib
from typing import Any

_EXPORTS = {"AppConfig": "sample_app.config", "AppServer": "sample_app.server", "TABLE_SPECS": "sample_app.tables"}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    if name in _EXPORTS:
        return getattr(importlib.import_module(_EXPORTS[name]), name)
    raise AttributeError(f"module 'sample_app' has no attribute {name!r}")
