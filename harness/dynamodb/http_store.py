"""One region of a moto *server*, read and written over HTTP with boto3 (the external-moto backend).

The harness's own reads and writes (replication, item images for write capture, ``reset()``) go
straight to the moto URL, never through DNS, the endpoint nodes or the fronts, so faults never
touch them, just as AWS-internal replication never crosses the public endpoint. Every call carries
the harness's moto account (``x-moto-account-id``), the same one ``PinAccount`` puts on client
requests, so the store sees exactly the tables clients write.

Key schemas are cached (each write capture needs them); ``tables_changed()`` drops the cache when a
client creates or deletes a table through the endpoint.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from typing import Any

import botocore.config
import botocore.exceptions

from harness.dynamodb.clients import dynamodb_client
from harness.dynamodb.store import Store
from harness.dynamodb.tables import TableSpec
from harness.errors import ConfigError, HarnessError

_BATCH = 25  # BatchWriteItem's limit


class MotoUnreachableError(HarnessError):
    """The external moto server does not answer (or does not answer like moto)."""


class HttpRegionStore(Store):
    """One (account, region) of the moto server at ``url``."""

    def __init__(self, url: str, account_id: str, region: str, *, timeout: float = 10.0) -> None:
        super().__init__(account_id, region)
        self.url = url
        config = botocore.config.Config(
            connect_timeout=timeout, read_timeout=timeout, retries={"mode": "standard", "total_max_attempts": 1},
            max_pool_connections=16,
        )
        self.client = dynamodb_client(region, url, config)
        self.client.meta.events.register("before-sign.dynamodb", self._pin_account)
        self._keys: dict[str, tuple[str, str | None]] = {}
        self._keys_lock = threading.Lock()

    def _pin_account(self, request: Any, **_: Any) -> None:
        request.headers["x-moto-account-id"] = self.account_id

    def _call(self, operation: str, table: str | None = None, **params: Any) -> dict[str, Any]:
        """One API call; a missing table becomes ``ConfigError``, an unreachable server ``MotoUnreachableError``."""
        try:
            return getattr(self.client, operation)(**params)
        except self.client.exceptions.ResourceNotFoundException:
            if table is None:
                raise
            self._forget(table)
            raise self.missing(table) from None
        except (botocore.exceptions.EndpointConnectionError, botocore.exceptions.ConnectionClosedError,
                botocore.exceptions.ReadTimeoutError, botocore.exceptions.ConnectTimeoutError) as exc:
            raise MotoUnreachableError(
                f"moto at {self.url} did not answer {operation} for {self.region}: {exc}"
            ) from None

    def _forget(self, table: str) -> None:
        with self._keys_lock:
            self._keys.pop(table, None)

    def tables_changed(self) -> None:
        with self._keys_lock:
            self._keys.clear()

    # -- tables -----------------------------------------------------------------------------------
    def table_names(self) -> list[str]:
        names: list[str] = []
        params: dict[str, Any] = {}
        while True:
            page = self._call("list_tables", **params)
            names += page.get("TableNames", [])
            if "LastEvaluatedTableName" not in page:
                return names
            params["ExclusiveStartTableName"] = page["LastEvaluatedTableName"]

    def key_names(self, table_name: str) -> tuple[str, str | None]:
        with self._keys_lock:
            cached = self._keys.get(table_name)
        if cached is not None:
            return cached
        schema = self._call("describe_table", table_name, TableName=table_name)["Table"]["KeySchema"]
        roles = {k["KeyType"]: k["AttributeName"] for k in schema}
        names = (roles["HASH"], roles.get("RANGE"))
        with self._keys_lock:
            self._keys[table_name] = names
        return names

    def has_table(self, name: str) -> bool:
        try:
            self.key_names(name)
        except ConfigError:  # an unreachable server (MotoUnreachableError) still propagates
            return False
        return True

    def _create(self, spec: TableSpec) -> None:
        self._call("create_table", **spec.create_request())
        with self._keys_lock:
            self._keys[spec.name] = (spec.partition_key[0], spec.sort_key[0] if spec.sort_key else None)

    def close(self) -> None:
        """Close the client's pooled connections (a later call opens new ones)."""
        self.client.close()

    def drop_tables(self) -> None:
        """Delete every table of this account and region (the harness is done with it)."""
        with self.write_lock:
            for name in self.table_names():
                try:
                    self._call("delete_table", name, TableName=name)
                except ConfigError:
                    pass  # deleted meanwhile: that is what we wanted
            self.tables_changed()

    # -- items ------------------------------------------------------------------------------------
    def image(self, table_name: str, key: dict[str, Any]) -> dict[str, Any] | None:
        reply = self._call("get_item", table_name, TableName=table_name, Key=key, ConsistentRead=True)
        return reply.get("Item")

    def apply(self, table_name: str, key: dict[str, Any], image: dict[str, Any] | None) -> None:
        if image is None:
            self._call("delete_item", table_name, TableName=table_name, Key=key)
        else:
            self._call("put_item", table_name, TableName=table_name, Item=image)

    def _scan(self, table_name: str, **params: Any) -> Iterator[dict[str, Any]]:
        while True:
            page = self._call("scan", table_name, TableName=table_name, ConsistentRead=True, **params)
            yield from page.get("Items", [])
            if "LastEvaluatedKey" not in page:
                return
            params["ExclusiveStartKey"] = page["LastEvaluatedKey"]

    def items(self, table_name: str) -> list[dict[str, Any]]:
        return list(self._scan(table_name))

    def _clear(self, table_name: str) -> None:
        names = [n for n in self.key_names(table_name) if n is not None]
        aliases = {f"#k{i}": n for i, n in enumerate(names)}  # key names may be reserved words
        keys = list(self._scan(table_name, ProjectionExpression=", ".join(aliases), ExpressionAttributeNames=aliases))
        for start in range(0, len(keys), _BATCH):
            batch = [{"DeleteRequest": {"Key": key}} for key in keys[start:start + _BATCH]]
            pending: dict[str, Any] = {table_name: batch}
            while pending:  # moto processes whole batches, but the API allows leftovers
                pending = self._call("batch_write_item", table_name, RequestItems=pending).get("UnprocessedItems") or {}
