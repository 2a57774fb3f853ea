"""Mocked DynamoDB regions (moto server mode behind keep-alive fronts and endpoint nodes) as global tables.

Names are imported on first use, so fault modules that only need the wire-format helpers
(``harness.dynamodb.awsjson``) do not pay for importing moto and Flask.
"""

from __future__ import annotations

from harness.lazy import lazy_exports

_EXPORTS = {
    "AwsError": "harness.dynamodb.awsjson",
    "DynamoRegions": "harness.dynamodb.regions",
    "known_regions": "harness.dynamodb.regions",
    "MotoUnreachableError": "harness.dynamodb.http_store",
    "Region": "harness.dynamodb.region",
    "Replicator": "harness.dynamodb.replication",
    "RequestLog": "harness.dynamodb.request_log",
    "RequestRecord": "harness.dynamodb.request_log",
    "ServiceHook": "harness.dynamodb.service_faults",
    "GsiSpec": "harness.dynamodb.tables",
    "TableSpec": "harness.dynamodb.tables",
}
__getattr__, __all__ = lazy_exports(__name__, _EXPORTS)
