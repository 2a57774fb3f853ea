"""Announce saved profiles on an SQS queue, next to the data: in the region that took the write.

Other services fail with DynamoDB when their region does (on 20 Oct 2025 STS, SQS and others in
us-east-1 went down with it), so the announcement follows the same failover choice as the store:
the region that took the write first, then the other regions.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence

import boto3
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError

from profile_store.store import Profile, StoreUnavailable


class ProfileEvents:
    """``endpoints``: region -> SQS endpoint URL; the queue ``queue`` exists in every region."""

    def __init__(self, endpoints: Mapping[str, str], queue: str, *, regions: Sequence[str] | None = None) -> None:
        self.regions = list(regions or endpoints)
        config = Config(retries={"mode": "standard", "max_attempts": 2}, connect_timeout=1, read_timeout=2)
        self._clients = {region: boto3.client("sqs", region_name=region, endpoint_url=endpoints[region], config=config)
                         for region in self.regions}
        self._urls = {region: self._clients[region].create_queue(QueueName=queue)["QueueUrl"] for region in self.regions}

    def publish(self, profile: Profile, region: str) -> str:
        """Send a ``profile-saved`` event, preferring ``region``; returns the region that took it."""
        body = json.dumps({"event": "profile-saved", "user_id": profile.user_id, "region": region})
        errors: dict[str, str] = {}
        for candidate in [region] + [r for r in self.regions if r != region]:
            try:
                self._clients[candidate].send_message(QueueUrl=self._urls[candidate], MessageBody=body)
            except (BotoCoreError, ClientError) as exc:
                errors[candidate] = type(exc).__name__
            else:
                return candidate
        raise StoreUnavailable(errors)

    def received(self, region: str) -> list[dict]:
        """Events waiting in ``region``'s queue (consumed)."""
        reply = self._clients[region].receive_message(QueueUrl=self._urls[region], MaxNumberOfMessages=10)
        return [json.loads(message["Body"]) for message in reply.get("Messages", [])]

    def close(self) -> None:
        for client in self._clients.values():
            client.close()
