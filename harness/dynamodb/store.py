"""Direct access to one region's moto DynamoDB backend, for the harness only.

Replication between regions is AWS-internal (it never goes through public DNS or the endpoint
nodes), so the replicator reads and writes the backends directly. Each ``DynamoRegions`` uses its
own moto account id, which keeps two harnesses in one process (moto's backends are process-global)
from seeing each other's tables, and lets ``stop()`` drop everything it created.

``Store`` is what the harness needs from one (account, region) whichever way moto is reached;
``RegionStore`` reads moto's backend in this process, ``harness.dynamodb.http_store.HttpRegionStore``
talks to a moto server over HTTP. The shared rules (key extraction, table checks, emptying, the
write lock) live in ``Store`` once.
"""

from __future__ import annotations

import abc
import itertools
import json
import os
import secrets
import threading
from typing import Any

from moto.dynamodb.models import dynamodb_backends
from moto.dynamodb.models.dynamo_type import DynamoType

from harness.dynamodb.tables import TableSpec
from harness.errors import ConfigError

_accounts = itertools.count(1)


def new_account_id(*, shared_server: bool = False) -> str:
    """A 12-digit account id unique to this process and call (random across hosts for a shared server).

    moto lets ``$MOTO_ACCOUNT_ID`` override the account of every request; then that one is used
    (the harness must read the backend moto writes), at the cost of isolation between harnesses.
    Harnesses in different containers often share a pid (1), so on a moto server that several may
    use the id is random instead.
    """
    if os.environ.get("MOTO_ACCOUNT_ID"):
        return os.environ["MOTO_ACCOUNT_ID"]
    if shared_server:
        return f"8{secrets.randbelow(10**11):011d}"
    return f"9{os.getpid() % 1_000_000:06d}{next(_accounts) % 100_000:05d}"


def shared_account(account_id: str) -> bool:
    """Whether ``account_id`` is the one every harness uses (``$MOTO_ACCOUNT_ID``): never drop it."""
    return account_id == os.environ.get("MOTO_ACCOUNT_ID")


def drop_account(account_id: str) -> None:
    """Forget a harness's tables; an account shared through ``$MOTO_ACCOUNT_ID`` is left alone."""
    if not shared_account(account_id) and account_id in dynamodb_backends:
        del dynamodb_backends[account_id]


def key_text(key: dict[str, Any]) -> str:
    """Canonical text of a DynamoDB key, usable as a dict key."""
    return json.dumps(key, sort_keys=True, separators=(",", ":"))


class Store(abc.ABC):
    """One (account, region) of moto: tables, item images, and the region's write lock.

    ``write_lock`` serialises writes in this region with their capture for replication, so the
    image replicated for a write is exactly the state that write produced. Items and keys are
    DynamoDB JSON (``{"pk": {"S": "a"}}``) on both sides.
    """

    def __init__(self, account_id: str, region: str) -> None:
        self.account_id = account_id
        self.region = region
        self.write_lock = threading.RLock()

    # -- what each way of reaching moto provides ------------------------------------------------
    @abc.abstractmethod
    def table_names(self) -> list[str]:
        """Every table in this account and region."""

    @abc.abstractmethod
    def has_table(self, name: str) -> bool: ...

    @abc.abstractmethod
    def key_names(self, table_name: str) -> tuple[str, str | None]:
        """(partition key, sort key or None) of a table; ``ConfigError`` if it does not exist."""

    @abc.abstractmethod
    def image(self, table_name: str, key: dict[str, Any]) -> dict[str, Any] | None:
        """The item stored under ``key``, or None if absent."""

    @abc.abstractmethod
    def apply(self, table_name: str, key: dict[str, Any], image: dict[str, Any] | None) -> None:
        """Make ``key`` hold ``image`` (None deletes), bypassing conditions: replication, not a request."""

    @abc.abstractmethod
    def items(self, table_name: str) -> list[dict[str, Any]]:
        """Every item of a table (for tests and reports)."""

    @abc.abstractmethod
    def _create(self, spec: TableSpec) -> None: ...

    @abc.abstractmethod
    def _clear(self, table_name: str) -> None:
        """Remove every item of one table, keeping the table."""

    def tables_changed(self) -> None:
        """A table was created or deleted through the endpoint; forget anything cached about tables."""

    # -- shared rules ---------------------------------------------------------------------------
    def create_table(self, spec: TableSpec) -> None:
        with self.write_lock:
            if self.has_table(spec.name):
                raise ConfigError(f"table {spec.name!r} already exists in {self.region}")
            self._create(spec)

    def empty(self) -> None:
        with self.write_lock:
            for name in self.table_names():
                self._clear(name)

    def key_of(self, table_name: str, attributes: dict[str, Any]) -> dict[str, Any]:
        """The primary key part of an item (or a key) in DynamoDB JSON."""
        return {n: attributes[n] for n in self.key_names(table_name) if n is not None and n in attributes}

    def missing(self, name: str) -> ConfigError:
        """The error for a table that does not exist here, naming the ones that do."""
        known = ", ".join(self.table_names()) or "none"
        return ConfigError(f"table {name!r} does not exist in {self.region} (tables there: {known})")


class RegionStore(Store):
    """moto's DynamoDB backend in this process, read and written directly."""

    @property
    def backend(self) -> Any:
        return dynamodb_backends[self.account_id][self.region]

    def table_names(self) -> list[str]:
        return list(self.backend.tables)

    def table(self, name: str) -> Any:
        table = self.backend.tables.get(name)
        if table is None:
            raise self.missing(name)
        return table

    def has_table(self, name: str) -> bool:
        return name in self.backend.tables

    def key_names(self, table_name: str) -> tuple[str, str | None]:
        table = self.table(table_name)
        return table.hash_key_attr, table.range_key_attr

    def _create(self, spec: TableSpec) -> None:
        self.backend.create_table(**spec.create_arguments())

    def _clear(self, table_name: str) -> None:
        self.table(table_name).items.clear()

    def image(self, table_name: str, key: dict[str, Any]) -> dict[str, Any] | None:
        item = self.backend.get_item(self.table(table_name).name, key)
        return None if item is None else item.to_json()["Attributes"]

    def apply(self, table_name: str, key: dict[str, Any], image: dict[str, Any] | None) -> None:
        table = self.table(table_name)
        if image is None:
            hash_key = DynamoType(key[table.hash_key_attr])
            range_key = DynamoType(key[table.range_key_attr]) if table.range_key_attr else None
            table.delete_item(hash_key, range_key)
        else:
            table.put_item(image, overwrite=True)

    def items(self, table_name: str) -> list[dict[str, Any]]:
        return [item.to_json()["Attributes"] for item in self.table(table_name).all_items()]
