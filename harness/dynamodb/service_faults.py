"""Service faults: the front server answers with a DynamoDB error instead of forwarding to moto.

Each region's front holds a ``FaultChain`` of ``ServiceHook`` (``Region.service_faults``). A fault
(see ``faults/dynamodb.py``) decides, per request, whether it fires (operation filter plus its
seeded probability draw) and which ``AwsError`` to send; the first fault that fires wins and moto
never sees the request, exactly as a throttled or failing DynamoDB request never reaches the table.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Protocol

from harness.dynamodb import awsjson
from harness.dynamodb.awsjson import AwsError
from harness.fault_chain import FaultChain


class ServiceHook(Protocol):
    """What a DynamoDB service fault implements (the chain's hook)."""

    def intercept(self, operation: str, attempt: int = 1) -> AwsError | None:
        """The error to answer this request (the ``attempt``-th try of its call) with, or None."""


def first_error(faults: Iterable[ServiceHook], operation: str, attempt: int = 1) -> AwsError | None:
    """The error of the first fault that fires for this request, in chain order; None if none does."""
    for fault in faults:
        error = fault.intercept(operation, attempt)
        if error is not None:
            return error
    return None


class ServiceFaultMiddleware:
    """WSGI middleware answering with the first firing fault's error, else passing through."""

    def __init__(self, app, faults: FaultChain[ServiceHook]) -> None:
        self.app = app
        self.faults = faults

    def __call__(self, environ: dict, start_response) -> Iterable[bytes]:
        error = first_error(self.faults.active, awsjson.operation_of(environ), _attempt(environ))
        if error is None:
            return self.app(environ, start_response)
        return awsjson.send(awsjson.error_response(error), start_response)


def _attempt(environ: dict) -> int:
    """Which try of its call a request is: botocore sends ``amz-sdk-request: attempt=N; max=M``
    (1 when absent). Retries are drawn in a stream of their own, so how many calls are hit twice
    does not depend on how concurrent calls interleave (``faults.base.Draws``)."""
    for part in environ.get("HTTP_AMZ_SDK_REQUEST", "").split(";"):
        name, _, value = part.strip().partition("=")
        if name == "attempt" and value.isdigit():
            return int(value)
    return 1
