"""Mocked DynamoDB regions (moto server mode behind keep-alive fronts and endpoint nodes) as global tables.

Names are imported on first use, so fault modules that only need the wire-format helpers
(``harness.dynamodb.awsjson``) do not pay for importing moto and Flask.
"""

from __future__ import annotations

import importlib
from typing import Any

_EXPORTS = {
    "AwsError": "harness.dynamodb.awsjson",
    "DynamoRegions": "harness.dynamodb.regions",
    "known_regions": "harness.dynamodb.regions",
    "MotoUnreachableError": "harness.dynamodb.http_store",
    "Region": "harness.dynamodb.region",
    "Replicator": "harness.dynamodb.replication",
    "RequestLog": "harness.dynamodb.request_log",
    "RequestRecord": "harness.dynamodb.request_log",
    "ServiceFaults": "harness.dynamodb.service_faults",
    "GsiSpec": "harness.dynamodb.tables",
    "TableSpec": "harness.dynamodb.tables",
}
__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    if name in _EXPORTS:
        return getattr(importlib.import_module(_EXPORTS[name]), name)
    raise AttributeError(f"module 'harness.dynamodb' has no attribute {name!r}")
