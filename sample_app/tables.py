"""Table specifications the harness creates in every region.

Plain data in the shape of DynamoDB's ``CreateTable`` request, so any creator (the harness's
``DynamoRegions.create_tables``, a test, a real AWS account) can pass a spec straight to
``client.create_table(**spec)``. ``TTL_ATTRIBUTES`` names the attribute DynamoDB's TTL should expire.

* users: one item per username, holding the salted PBKDF2 hash.
* sessions: one item per session id, with ``expires_at`` (epoch seconds).
* idempotency: one item per ``<username>#<idempotency key>``, remembering the session a login
  created. Its key carries no region, so in a global table both regions hold the *same* item.
"""

from __future__ import annotations

from typing import Any

USERS_TABLE = "sample-users"
SESSIONS_TABLE = "sample-sessions"
IDEMPOTENCY_TABLE = "sample-idempotency"


def _spec(name: str, key: str) -> dict[str, Any]:
    return {
        "TableName": name,
        "KeySchema": [{"AttributeName": key, "KeyType": "HASH"}],
        "AttributeDefinitions": [{"AttributeName": key, "AttributeType": "S"}],
        "BillingMode": "PAY_PER_REQUEST",
    }


TABLE_SPECS: tuple[dict[str, Any], ...] = (
    _spec(USERS_TABLE, "username"),
    _spec(SESSIONS_TABLE, "session_id"),
    _spec(IDEMPOTENCY_TABLE, "idempotency_key"),
)

TTL_ATTRIBUTES: dict[str, str] = {SESSIONS_TABLE: "expires_at", IDEMPOTENCY_TABLE: "expires_at"}


def create_tables(client: Any, specs: tuple[dict[str, Any], ...] = TABLE_SPECS) -> None:
    """Create ``specs`` with one boto3 DynamoDB client (one region) and turn on their TTL."""
    for spec in specs:
        client.create_table(**spec)
        attribute = TTL_ATTRIBUTES.get(spec["TableName"])
        if attribute:
            client.update_time_to_live(
                TableName=spec["TableName"],
                TimeToLiveSpecification={"Enabled": True, "AttributeName": attribute},
            )
