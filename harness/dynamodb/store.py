"""Direct access to one region's moto DynamoDB backend, for the harness only.

Replication between regions is AWS-internal (it never goes through public DNS or the endpoint
nodes), so the replicator reads and writes the backends directly. Each ``DynamoRegions`` uses its
own moto account id, which keeps two harnesses in one process (moto's backends are process-global)
from seeing each other's tables, and lets ``stop()`` drop everything it created.
"""

from __future__ import annotations

import itertools
import json
import os
import threading
from typing import Any

from moto.dynamodb.models import dynamodb_backends
from moto.dynamodb.models.dynamo_type import DynamoType

from harness.dynamodb.tables import TableSpec
from harness.errors import ConfigError

_accounts = itertools.count(1)


def new_account_id() -> str:
    """A 12-digit account id unique to this process and call.

    moto lets ``$MOTO_ACCOUNT_ID`` override the account of every request; then that one is used
    (the harness must read the backend moto writes), at the cost of isolation between harnesses.
    """
    return os.environ.get("MOTO_ACCOUNT_ID") or f"9{os.getpid() % 1_000_000:06d}{next(_accounts) % 100_000:05d}"


def drop_account(account_id: str) -> None:
    """Forget a harness's tables; an account shared through ``$MOTO_ACCOUNT_ID`` is left alone."""
    if account_id != os.environ.get("MOTO_ACCOUNT_ID") and account_id in dynamodb_backends:
        del dynamodb_backends[account_id]


def key_text(key: dict[str, Any]) -> str:
    """Canonical text of a DynamoDB key, usable as a dict key."""
    return json.dumps(key, sort_keys=True, separators=(",", ":"))


class RegionStore:
    """One (account, region) moto backend: tables, item images, and the region's write lock.

    ``write_lock`` serialises writes in this region with their capture for replication, so the
    image replicated for a write is exactly the state that write produced.
    """

    def __init__(self, account_id: str, region: str) -> None:
        self.account_id = account_id
        self.region = region
        self.write_lock = threading.RLock()

    @property
    def backend(self) -> Any:
        return dynamodb_backends[self.account_id][self.region]

    def table_names(self) -> list[str]:
        return list(self.backend.tables)

    def table(self, name: str) -> Any:
        table = self.backend.tables.get(name)
        if table is None:
            known = ", ".join(self.table_names()) or "none"
            raise ConfigError(f"table {name!r} does not exist in {self.region} (tables there: {known})")
        return table

    def has_table(self, name: str) -> bool:
        return name in self.backend.tables

    def create_table(self, spec: TableSpec) -> None:
        with self.write_lock:
            if spec.name in self.backend.tables:
                raise ConfigError(f"table {spec.name!r} already exists in {self.region}")
            self.backend.create_table(**spec.create_arguments())

    def empty(self) -> None:
        with self.write_lock:
            for table in self.backend.tables.values():
                table.items.clear()

    def key_of(self, table_name: str, attributes: dict[str, Any]) -> dict[str, Any]:
        """The primary key part of an item (or a key) in DynamoDB JSON."""
        table = self.table(table_name)
        names = [table.hash_key_attr] + ([table.range_key_attr] if table.range_key_attr else [])
        return {n: attributes[n] for n in names if n in attributes}

    def image(self, table_name: str, key: dict[str, Any]) -> dict[str, Any] | None:
        """The item stored under ``key`` in DynamoDB JSON, or None if absent."""
        item = self.backend.get_item(self.table(table_name).name, key)
        return None if item is None else item.to_json()["Attributes"]

    def apply(self, table_name: str, key: dict[str, Any], image: dict[str, Any] | None) -> None:
        """Make ``key`` hold ``image`` (None deletes), bypassing conditions: replication, not a request."""
        table = self.table(table_name)
        if image is None:
            hash_key = DynamoType(key[table.hash_key_attr])
            range_key = DynamoType(key[table.range_key_attr]) if table.range_key_attr else None
            table.delete_item(hash_key, range_key)
        else:
            table.put_item(image, overwrite=True)

    def items(self, table_name: str) -> list[dict[str, Any]]:
        """Every item of a table in DynamoDB JSON (for tests and reports)."""
        return [item.to_json()["Attributes"] for item in self.table(table_name).all_items()]
