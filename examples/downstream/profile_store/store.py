"""User profiles in a DynamoDB global table, served from a home region with failover.

The design choice this example rehearses: every call goes to the home region first, with few
fast retries (botocore ``standard`` mode, two attempts, one-second connect timeout), and on an
endpoint or server failure moves on to the next region of the global table. Reads from another
region can be stale while replication lags; that is the price of staying up, and the tests show
it happening.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import boto3
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError

TABLE: dict[str, Any] = {
    "TableName": "profiles",
    "KeySchema": [{"AttributeName": "user_id", "KeyType": "HASH"}],
    "AttributeDefinitions": [{"AttributeName": "user_id", "AttributeType": "S"}],
    "BillingMode": "PAY_PER_REQUEST",
}

# Errors after which another region is worth trying: the service side failed or throttled us.
_RETRYABLE_CODES = frozenset({
    "InternalServerError", "ServiceUnavailable", "ThrottlingException", "ProvisionedThroughputExceededException",
    "RequestLimitExceeded",
})


class StoreUnavailable(Exception):
    """No region could serve the call; ``errors`` says what each one answered."""

    def __init__(self, errors: Mapping[str, str]) -> None:
        super().__init__("no region could serve the request: " + "; ".join(f"{r}: {e}" for r, e in errors.items()))
        self.errors = dict(errors)


@dataclass(frozen=True)
class Profile:
    user_id: str
    name: str
    email: str


class ProfileStore:
    """Reads and writes profiles; ``endpoints`` maps region -> endpoint URL, home region first."""

    def __init__(self, endpoints: Mapping[str, str], *, regions: Sequence[str] | None = None,
                 table: str = TABLE["TableName"], attempts: int = 2) -> None:
        self.regions = list(regions or endpoints)
        self.table = table
        config = Config(retries={"mode": "standard", "max_attempts": attempts}, connect_timeout=1, read_timeout=2)
        self._clients = {
            region: boto3.client("dynamodb", region_name=region, endpoint_url=endpoints[region], config=config)
            for region in self.regions
        }
        #: The region that served the last call (what the tests and the service's metrics look at).
        self.last_region: str | None = None

    def save(self, profile: Profile) -> str:
        """Write the profile; returns the region that took the write."""
        item = {"user_id": {"S": profile.user_id}, "name": {"S": profile.name}, "email": {"S": profile.email}}
        self._call("put_item", TableName=self.table, Item=item)
        return self.last_region  # type: ignore[return-value]

    def load(self, user_id: str) -> Profile | None:
        reply = self._call("get_item", TableName=self.table, Key={"user_id": {"S": user_id}}, ConsistentRead=True)
        item = reply.get("Item")
        if item is None:
            return None
        return Profile(item["user_id"]["S"], item["name"]["S"], item["email"]["S"])

    def _call(self, operation: str, **request: Any) -> dict[str, Any]:
        errors: dict[str, str] = {}
        for region in self.regions:
            try:
                reply = getattr(self._clients[region], operation)(**request)
            except ClientError as exc:
                code = exc.response.get("Error", {}).get("Code", "")
                if code not in _RETRYABLE_CODES:
                    raise  # our mistake (validation, missing table): no other region will do better
                errors[region] = code
            except BotoCoreError as exc:  # endpoint unreachable, name not resolving, timeouts
                errors[region] = type(exc).__name__
            else:
                self.last_region = region
                return reply
        raise StoreUnavailable(errors)

    def close(self) -> None:
        for client in self._clients.values():
            client.close()
