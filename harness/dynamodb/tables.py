"""Table specifications: what a global table looks like, independent of any region.

A spec is plain data so scenario files and fixtures can declare tables; ``DynamoRegions`` creates
each spec in every region (that is what makes it a global table) and ``reset()`` empties them.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from harness.errors import ConfigError

_TYPES = ("S", "N", "B")


def _key(value: Any, where: str) -> tuple[str, str]:
    """Accept "pk", "pk:S", ("pk", "S") or {"name": "pk", "type": "S"}."""
    if isinstance(value, str):
        name, _, kind = value.partition(":")
        value = (name, kind or "S")
    elif isinstance(value, Mapping):
        value = (value.get("name", ""), value.get("type", "S"))
    if not (isinstance(value, (tuple, list)) and len(value) == 2 and value[0] and value[1] in _TYPES):
        raise ConfigError(f"{where} must be a name with a type S, N or B (e.g. 'pk:S'), got {value!r}")
    return str(value[0]), str(value[1])


@dataclass(frozen=True)
class GsiSpec:
    name: str
    partition_key: tuple[str, str]
    sort_key: tuple[str, str] | None = None


@dataclass(frozen=True)
class TableSpec:
    """A table's name, key schema and optional global secondary indexes."""

    name: str
    partition_key: tuple[str, str] = ("pk", "S")
    sort_key: tuple[str, str] | None = None
    gsis: tuple[GsiSpec, ...] = field(default_factory=tuple)

    @classmethod
    def of(cls, spec: "TableSpec | Mapping[str, Any]") -> "TableSpec":
        """Build from a spec or a mapping like {"name": "orders", "partition_key": "pk:S", "gsis": [...]}."""
        if isinstance(spec, TableSpec):
            return spec
        if isinstance(spec, Mapping) and "TableName" in spec:
            return cls.from_create_table(spec)
        if not isinstance(spec, Mapping) or not spec.get("name"):
            raise ConfigError(f"a table spec needs at least a name, got {spec!r}")
        unknown = set(spec) - {"name", "partition_key", "sort_key", "gsis"}
        if unknown:
            raise ConfigError(f"table {spec['name']!r}: unknown field {sorted(unknown)[0]!r}; "
                              "known: name, partition_key, sort_key, gsis")
        where = f"table {spec['name']!r}"
        gsis = tuple(_gsi(g, where) for g in spec.get("gsis", ()))
        return cls(
            str(spec["name"]),
            _key(spec.get("partition_key", "pk:S"), f"{where}: partition_key"),
            _key(spec["sort_key"], f"{where}: sort_key") if spec.get("sort_key") else None,
            gsis,
        )

    @classmethod
    def from_create_table(cls, request: Mapping[str, Any]) -> "TableSpec":
        """Build from a DynamoDB ``CreateTable`` request (what ``client.create_table(**request)`` takes)."""
        name = str(request.get("TableName") or "")
        where = f"table {name!r}"
        types = {a.get("AttributeName"): a.get("AttributeType") for a in request.get("AttributeDefinitions", ())}

        def keys(schema: Any, owner: str) -> tuple[tuple[str, str], tuple[str, str] | None]:
            roles = {k.get("KeyType"): k.get("AttributeName") for k in schema or ()}
            if "HASH" not in roles:
                raise ConfigError(f"{owner}: KeySchema needs a HASH key, got {schema!r}")

            def typed(attr: str) -> tuple[str, str]:
                if attr not in types:
                    raise ConfigError(f"{owner}: key attribute {attr!r} is missing from AttributeDefinitions")
                return _key((attr, types[attr]), f"{owner}: key {attr!r}")

            return typed(roles["HASH"]), typed(roles["RANGE"]) if "RANGE" in roles else None

        if not name:
            raise ConfigError(f"a CreateTable spec needs a TableName, got {dict(request)!r}")
        pk, sk = keys(request.get("KeySchema"), where)
        gsis = tuple(
            GsiSpec(str(g.get("IndexName")), *keys(g.get("KeySchema"), f"{where}: GSI {g.get('IndexName')!r}"))
            for g in request.get("GlobalSecondaryIndexes", ())
        )
        return cls(name, pk, sk, gsis)

    def create_request(self) -> dict[str, Any]:
        """The DynamoDB ``CreateTable`` request for this table (on-demand billing), as boto3 takes it."""
        attributes: dict[str, str] = {}

        def schema(pk: tuple[str, str], sk: tuple[str, str] | None) -> list[dict[str, str]]:
            out = [{"AttributeName": pk[0], "KeyType": "HASH"}]
            attributes[pk[0]] = pk[1]
            if sk:
                out.append({"AttributeName": sk[0], "KeyType": "RANGE"})
                attributes[sk[0]] = sk[1]
            return out

        request: dict[str, Any] = {"TableName": self.name, "KeySchema": schema(self.partition_key, self.sort_key)}
        gsis = [
            {"IndexName": g.name, "KeySchema": schema(g.partition_key, g.sort_key), "Projection": {"ProjectionType": "ALL"}}
            for g in self.gsis
        ]
        request["AttributeDefinitions"] = [{"AttributeName": n, "AttributeType": t} for n, t in attributes.items()]
        request["BillingMode"] = "PAY_PER_REQUEST"
        if gsis:
            request["GlobalSecondaryIndexes"] = gsis
        return request

    def create_arguments(self) -> dict[str, Any]:
        """Arguments for moto's ``DynamoDBBackend.create_table`` (the same table as ``create_request``)."""
        request = self.create_request()
        return {
            "name": self.name,
            "schema": request["KeySchema"],
            "throughput": None,
            "attr": request["AttributeDefinitions"],
            "global_indexes": request.get("GlobalSecondaryIndexes"),
            "indexes": None,
            "streams": None,
            "billing_mode": request["BillingMode"],
            "sse_specification": None,
            "tags": [],
            "deletion_protection_enabled": False,
            "warm_throughput": None,
        }


def _gsi(spec: Any, where: str) -> GsiSpec:
    if isinstance(spec, GsiSpec):
        return spec
    if not isinstance(spec, Mapping) or not spec.get("name"):
        raise ConfigError(f"{where}: a GSI needs a name and a partition_key, got {spec!r}")
    return GsiSpec(
        str(spec["name"]),
        _key(spec.get("partition_key"), f"{where}: GSI {spec['name']!r} partition_key"),
        _key(spec["sort_key"], f"{where}: GSI {spec['name']!r} sort_key") if spec.get("sort_key") else None,
    )
