"""DynamoDB access for one region: one boto3 client, explicit retry and timeout settings.

Everything about *how* the app talks to DynamoDB lives here and nowhere else:

* ``make_client`` — botocore ``Config`` with the retry mode and attempt budget, short connect and
  read timeouts, and the region's own endpoint URL (one client per region, never shared).
* ``RegionStore`` — the handful of operations the service needs, written as conditional writes so
  retries cannot apply a write twice, and a count of HTTP attempts per call (``before-send`` fires
  once per attempt, including attempts that never got an answer) so retries show up in metrics.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import asdict, dataclass
from typing import Any

import botocore.config
import botocore.exceptions

from harness.dynamodb.clients import dynamodb_client
from harness.errors import ConfigError
from sample_app.config import RetrySettings, Timeouts
from sample_app.tables import IDEMPOTENCY_TABLE, SESSIONS_TABLE, TABLE_SPECS, USERS_TABLE


def make_client(
    region: str,
    endpoint_url: str,
    retry: RetrySettings,
    timeouts: Timeouts,
    *,
    max_pool_connections: int = 32,
) -> Any:
    """A DynamoDB client for one region with the app's retry and timeout policy made explicit."""
    config = botocore.config.Config(
        region_name=region,
        retries={"mode": retry.mode, "total_max_attempts": retry.max_attempts},
        connect_timeout=timeouts.connect,
        read_timeout=timeouts.read,
        max_pool_connections=max_pool_connections,
        tcp_keepalive=True,
    )
    return dynamodb_client(region, endpoint_url, config)


@dataclass(frozen=True)
class User:
    username: str
    password_hash: str
    created_at: float


class Revoked:
    """Marker for a logged-out session (its tombstone)."""


REVOKED = Revoked()


@dataclass(frozen=True)
class Session:
    session_id: str
    username: str
    created_at: float
    expires_at: float

    def as_json(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class SessionWrite:
    """One login's writes: the session item and the idempotency record pointing at it."""

    session: Session
    idempotency_key: str
    idempotency_expires_at: float
    now: float


class _AttemptCounter:
    """Counts HTTP attempts made by the current thread's call on a client."""

    def __init__(self) -> None:
        self._local = threading.local()

    def on_before_send(self, **_: Any) -> None:
        self._local.attempts = getattr(self._local, "attempts", 0) + 1

    def start(self) -> None:
        self._local.attempts = 0

    def attempts(self) -> int:
        return getattr(self._local, "attempts", 0)


RetryListener = Callable[[str, int], None]  # (region, retries taken by one call)


class RegionStore:
    """The service's DynamoDB operations against one region."""

    def __init__(self, name: str, client: Any, *, on_retries: RetryListener | None = None) -> None:
        self.name = name
        self.client = client
        self.on_retries = on_retries
        self._counter = _AttemptCounter()
        client.meta.events.register("before-send.dynamodb", self._counter.on_before_send)

    def _call(self, operation: str, **params: Any) -> dict[str, Any]:
        self._counter.start()
        try:
            return getattr(self.client, operation)(**params)
        finally:
            retries = max(self._counter.attempts() - 1, 0)
            if retries and self.on_retries is not None:
                self.on_retries(self.name, retries)

    # -- users

    def put_user(self, user: User) -> bool:
        """Store a new user; False (nothing written) when the name is taken."""
        try:
            self._call(
                "put_item",
                TableName=USERS_TABLE,
                Item={
                    "username": {"S": user.username},
                    "password_hash": {"S": user.password_hash},
                    "created_at": {"N": repr(user.created_at)},
                },
                ConditionExpression="attribute_not_exists(username)",
            )
        except botocore.exceptions.ClientError as exc:
            if _code(exc) == "ConditionalCheckFailedException":
                return False
            raise
        return True

    def get_user(self, username: str) -> User | None:
        item = self._get(USERS_TABLE, "username", username)
        if item is None:
            return None
        return User(item["username"]["S"], item["password_hash"]["S"], float(item["created_at"]["N"]))

    # -- sessions

    def create_session(self, write: SessionWrite) -> tuple[Session, bool]:
        """Write the session and its idempotency record in one transaction; both are conditional.

        Returns ``(session, replayed)``. When the idempotency record already exists (a retry by
        botocore or by the client, or a duplicate racing this one) nothing is written and the
        original session comes back with ``replayed=True``.
        """
        session = write.session
        now = {":now": {"N": repr(write.now)}}
        for _ in range(3):
            try:
                self._call(
                    "transact_write_items",
                    TransactItems=[
                        {
                            "Put": {
                                "TableName": IDEMPOTENCY_TABLE,
                                "Item": {
                                    "idempotency_key": {"S": write.idempotency_key},
                                    **_session_attributes(session),
                                    "expires_at": {"N": repr(write.idempotency_expires_at)},
                                    "session_expires_at": {"N": repr(session.expires_at)},
                                },
                                "ConditionExpression": "attribute_not_exists(idempotency_key) OR expires_at < :now",
                                "ExpressionAttributeValues": now,
                            }
                        },
                        {
                            "Put": {
                                "TableName": SESSIONS_TABLE,
                                "Item": _session_attributes(session),
                                "ConditionExpression": "attribute_not_exists(session_id) OR expires_at < :now",
                                "ExpressionAttributeValues": now,
                            }
                        },
                    ],
                )
                return session, False
            except botocore.exceptions.ClientError as exc:
                if _code(exc) not in ("TransactionCanceledException", "TransactionConflictException"):
                    raise
            original = self._get(IDEMPOTENCY_TABLE, "idempotency_key", write.idempotency_key)
            if original is not None:
                return (
                    Session(
                        original["session_id"]["S"],
                        original["username"]["S"],
                        float(original["created_at"]["N"]),
                        float(original["session_expires_at"]["N"]),
                    ),
                    True,
                )
            # Cancelled by a concurrent transaction that has not committed its record yet: try again.
        raise botocore.exceptions.ClientError(
            {"Error": {"Code": "TransactionConflictException", "Message": "login kept conflicting"}},
            "TransactWriteItems",
        )

    def get_session(self, session_id: str) -> Session | Revoked | None:
        """The session, ``REVOKED`` when it was logged out, None when this region never saw it."""
        item = self._get(SESSIONS_TABLE, "session_id", session_id)
        if item is None:
            return None
        return REVOKED if "revoked_at" in item else _session_from_item(item)

    def revoke_session(self, session_id: str, now: float, *, known: bool) -> Session | None:
        """Log out by writing a tombstone; return the live session that was there (or None).

        A delete would be lost in a failover: deleting an item the failover region has not
        received yet changes nothing there, so nothing replicates, and the primary's copy comes
        back when traffic fails back. A tombstone is a write that replicates and, being the later
        write, wins over the original (global tables are last-writer-wins). ``expires_at`` lets
        DynamoDB's TTL remove it. Unless the caller ``known``s the session (this region may lag),
        only an existing item is overwritten, so unknown ids leave nothing behind.
        """
        condition = {} if known else {"ConditionExpression": "attribute_exists(session_id)"}
        try:
            response = self._call(
                "put_item",
                TableName=SESSIONS_TABLE,
                Item={"session_id": {"S": session_id}, "revoked_at": {"N": repr(now)}, "expires_at": {"N": repr(now)}},
                ReturnValues="ALL_OLD",
                **condition,
            )
        except botocore.exceptions.ClientError as exc:
            if exc.response.get("Error", {}).get("Code") != "ConditionalCheckFailedException":
                raise
            return None
        item = response.get("Attributes")
        return None if not item or "revoked_at" in item else _session_from_item(item)

    def _get(self, table: str, key: str, value: str) -> dict[str, Any] | None:
        response = self._call("get_item", TableName=table, Key={key: {"S": value}}, ConsistentRead=True)
        return response.get("Item")


def check_tables(region: str, client: Any) -> None:
    """Raise ``ConfigError`` for a table missing in ``region``; an unreachable region passes (the
    app must be able to start during an outage — that is what static stability means)."""
    for spec in TABLE_SPECS:
        try:
            client.describe_table(TableName=spec["TableName"])
        except botocore.exceptions.ClientError as exc:
            if _code(exc) == "ResourceNotFoundException":
                raise ConfigError(
                    f"table {spec['TableName']!r} does not exist in {region} ({client.meta.endpoint_url});"
                    " create sample_app.tables.TABLE_SPECS there"
                ) from None
            return
        except (botocore.exceptions.HTTPClientError, botocore.exceptions.ConnectionError):
            return


def _code(exc: botocore.exceptions.ClientError) -> str:
    return exc.response.get("Error", {}).get("Code", "")


def _session_attributes(session: Session) -> dict[str, Any]:
    return {
        "session_id": {"S": session.session_id},
        "username": {"S": session.username},
        "created_at": {"N": repr(session.created_at)},
        "expires_at": {"N": repr(session.expires_at)},
    }


def _session_from_item(item: dict[str, Any]) -> Session:
    return Session(
        item["session_id"]["S"], item["username"]["S"], float(item["created_at"]["N"]), float(item["expires_at"]["N"])
    )
