"""One item as every region's table holds it: how a drill checks an acknowledged write landed.

The write audit (``harness.drill.writes``) asks for the item under a plain key such as
``{"order_id": "o-17"}``; values become DynamoDB JSON here (text -> ``S``, numbers -> ``N``), so
scenario files never spell DynamoDB's type tags.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from harness.errors import ConfigError


def typed_key(key: Mapping[str, Any]) -> dict[str, dict[str, str]]:
    """``{"id": "a", "n": 3}`` -> ``{"id": {"S": "a"}, "n": {"N": "3"}}``."""
    out: dict[str, dict[str, str]] = {}
    for name, value in key.items():
        if isinstance(value, bool) or not isinstance(value, (str, int, float)):
            raise ConfigError(f"key attribute {name!r} must be text or a number, got {value!r}")
        out[name] = {"S": value} if isinstance(value, str) else {"N": str(value)}
    return out


def item_in_regions(dynamodb: Any, table: str, key: Mapping[str, Any]) -> dict[str, Any]:
    """``{region: item in DynamoDB JSON, or None}`` for every region of ``dynamodb`` (``DynamoRegions``)."""
    typed = typed_key(key)
    out: dict[str, Any] = {}
    for region in dynamodb.regions:
        if not region.store.has_table(table):
            raise region.store.missing(table)
        out[region.name] = region.store.image(table, typed)
    return out
