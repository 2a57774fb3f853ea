"""Service faults: the front server answers with a DynamoDB error instead of forwarding to moto.

Each region's front holds a ``ServiceFaults`` chain. A fault (see ``faults/dynamodb.py``) decides,
per request, whether it fires (operation filter plus its seeded probability draw) and which
``AwsError`` to send; the first fault that fires wins and moto never sees the request, exactly as a
throttled or failing DynamoDB request never reaches the table.
"""

from __future__ import annotations

import threading
from collections.abc import Iterable
from typing import Protocol

from harness.dynamodb import awsjson
from harness.dynamodb.awsjson import AwsError


class ServiceFault(Protocol):
    def intercept(self, operation: str, attempt: int = 1) -> AwsError | None:
        """The error to answer this request (the ``attempt``-th try of its call) with, or None."""


class ServiceFaults:
    """Ordered, thread-safe chain of active service faults for one region."""

    def __init__(self) -> None:
        self._faults: list[ServiceFault] = []
        self._lock = threading.Lock()

    def add(self, fault: ServiceFault) -> None:
        with self._lock:
            if fault not in self._faults:
                self._faults.append(fault)

    def remove(self, fault: ServiceFault) -> None:
        with self._lock:
            if fault in self._faults:
                self._faults.remove(fault)

    def clear(self) -> None:
        with self._lock:
            self._faults.clear()

    @property
    def active(self) -> list[ServiceFault]:
        with self._lock:
            return list(self._faults)

    def intercept(self, operation: str, attempt: int = 1) -> AwsError | None:
        with self._lock:
            for fault in self._faults:
                error = fault.intercept(operation, attempt)
                if error is not None:
                    return error
        return None


class ServiceFaultMiddleware:
    """WSGI middleware answering with the first firing fault's error, else passing through."""

    def __init__(self, app, faults: ServiceFaults) -> None:
        self.app = app
        self.faults = faults

    def __call__(self, environ: dict, start_response) -> Iterable[bytes]:
        error = self.faults.intercept(awsjson.operation_of(environ), _attempt(environ))
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
