"""DynamoDB service faults: the region's front answers with a real DynamoDB error.

The errors carry DynamoDB's wire format (``__type``, request id, CRC32), so botocore classifies
them as in production: throttles feed the adaptive rate limiter and cost standard-mode retry
quota, 500/503 are retried as transient errors. ``dynamodb.pause_replication`` stops global-table
replication like AWS FIS ``aws:dynamodb:global-table-pause-replication``.
"""

from __future__ import annotations

from dataclasses import field
from typing import Any, ClassVar, Literal

from faults.base import Environment, Fault, fault, option
from faults.environment import DYNAMODB
from harness.dynamodb import awsjson
from harness.dynamodb.awsjson import AwsError
from harness.errors import FaultOptionError

# Operations of the DynamoDB API (botocore's service model); validated so a typo fails loudly.
_OPERATIONS: list[str] | None = None


def dynamodb_operations() -> list[str]:
    global _OPERATIONS
    if _OPERATIONS is None:
        from harness.dynamodb.clients import botocore_session

        model = botocore_session().get_service_model("dynamodb")
        _OPERATIONS = sorted(model.operation_names)
    return _OPERATIONS


class ServiceErrorFault(Fault):
    """Shared shape of the service-error faults: which regions and operations, which error."""

    error_answered: ClassVar[AwsError]  # the error a fault of this kind answers with
    region: tuple[str, ...] = option(("us-east-1",), "region(s) whose DynamoDB answers with the error")
    operation: tuple[str, ...] = option((), "DynamoDB operations hit, e.g. PutItem, GetItem (empty: every operation)")
    targets: list[Any] = field(default_factory=list, init=False, repr=False)

    def validate(self) -> None:
        known = dynamodb_operations()
        for op in self.operation:
            if op not in known:
                raise FaultOptionError(f"{self.name}: unknown DynamoDB operation {op!r} (e.g. PutItem, GetItem, Query)",
                                       option="operation")

    def aws_error(self) -> AwsError:
        return self.error_answered

    def intercept(self, operation: str, attempt: int = 1) -> AwsError | None:
        if self.operation and operation not in self.operation:
            return None
        return self.aws_error() if self.roll(operation, attempt) else None

    def start(self, env: Environment) -> None:
        self.targets = list(self.require(env.dynamodb, DYNAMODB).select(self.region))
        for region in self.targets:
            region.service_faults.add(self)

    def stop(self, env: Environment) -> None:
        for region in self.targets:
            region.service_faults.remove(self)
        self.targets = []


@fault("dynamodb.throttle")
class Throttle(ServiceErrorFault):
    """Requests throttled (HTTP 400 ProvisionedThroughputExceededException or ThrottlingException)."""

    error: Literal["ProvisionedThroughputExceededException", "ThrottlingException"] = option(
        "ProvisionedThroughputExceededException", "which throttling error code DynamoDB answers"
    )

    def aws_error(self) -> AwsError:
        if self.error == "ThrottlingException":
            return awsjson.THROTTLING
        return awsjson.PROVISIONED_THROUGHPUT_EXCEEDED


@fault("dynamodb.internal_error")
class InternalError(ServiceErrorFault):
    """Requests fail with HTTP 500 InternalServerError."""

    error_answered = awsjson.INTERNAL_SERVER_ERROR


@fault("dynamodb.unavailable")
class Unavailable(ServiceErrorFault):
    """Requests fail with HTTP 503 ServiceUnavailable."""

    error_answered = awsjson.SERVICE_UNAVAILABLE


@fault("dynamodb.pause_replication")
class PauseReplication(Fault):
    """Global-table replication paused; writes queue up and catch up when cleared."""

    def start(self, env: Environment) -> None:
        self.require(env.dynamodb, DYNAMODB).replication.pause()

    def stop(self, env: Environment) -> None:
        self.require(env.dynamodb, DYNAMODB).replication.resume()
