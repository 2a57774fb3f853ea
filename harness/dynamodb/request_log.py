"""What each region's front server saw: one entry per HTTP request that reached it.

Tests and reports count attempts here ("botocore made 10 attempts", "no request reached
us-east-1 during the outage") instead of trusting what the client says about itself.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass

from harness.dynamodb import awsjson
from harness.waiting import ChangeSignal


@dataclass(frozen=True)
class RequestRecord:
    at: float  # monotonic seconds
    operation: str
    status: int
    error: str | None  # AWS error code when the front answered with one


class RequestLog:
    """Thread-safe, bounded request log with a change signal for waiting."""

    def __init__(self, limit: int = 100_000) -> None:
        self._entries: list[RequestRecord] = []
        self._lock = threading.Lock()
        self._limit = limit
        self.changed = ChangeSignal()

    def add(self, record: RequestRecord) -> None:
        with self._lock:
            self._entries.append(record)
            if len(self._entries) > self._limit:
                del self._entries[: len(self._entries) - self._limit]
        self.changed.notify()

    def entries(self) -> list[RequestRecord]:
        with self._lock:
            return list(self._entries)

    def count(self, operation: str | None = None, *, status: int | None = None, error: str | None = None) -> int:
        return sum(
            1
            for r in self.entries()
            if (operation is None or r.operation == operation)
            and (status is None or r.status == status)
            and (error is None or r.error == error)
        )

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()
        self.changed.notify()

    def wait_for(self, predicate: Callable[["RequestLog"], bool], timeout: float, what: str = "requests") -> None:
        self.changed.wait_for(lambda: predicate(self), timeout, what)


class RecordRequests:
    """WSGI middleware: append one ``RequestRecord`` per request (outermost layer of the front)."""

    def __init__(self, app, log: RequestLog) -> None:
        self.app = app
        self.log = log

    def __call__(self, environ: dict, start_response) -> Iterable[bytes]:
        seen: dict[str, object] = {}

        def recording_start_response(status: str, headers: list[tuple[str, str]], exc_info=None):
            seen["status"] = int(status.split(" ", 1)[0])
            return start_response(status, headers, exc_info) if exc_info else start_response(status, headers)

        body = b"".join(self.app(environ, recording_start_response))
        status = int(seen.get("status", 500))
        error = _error_code(body) if status >= 400 else None
        self.log.add(RequestRecord(time.monotonic(), awsjson.operation_of(environ), status, error))
        return [body]


def _error_code(body: bytes) -> str | None:
    try:
        return str(json.loads(body).get("__type", "")).rpartition("#")[2] or None
    except (ValueError, AttributeError):
        return None
