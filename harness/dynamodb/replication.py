"""Global-table emulation: asynchronous, last-writer-wins replication between regions.

DynamoDB global tables replicate each item write to the other replicas, typically within a second,
and resolve concurrent writes to the same item by "last writer wins" on a write timestamp. Here:

* ``CaptureWrites`` (WSGI middleware in each region's front) sees every successful write operation,
  reads the resulting item image(s) from that region's backend under the region's write lock, and
  stamps them with a process-wide monotonic timestamp.
* ``Replicator`` delivers each image to every other region after ``lag`` seconds, applying it only
  if it is newer than what that region last wrote for the key; an older replicated write loses to a
  newer local one, as in DynamoDB.
* ``pause()`` holds deliveries (AWS FIS ``aws:dynamodb:global-table-pause-replication``);
  ``resume()`` lets the backlog drain. Replication never touches DNS or the endpoint nodes.
"""

from __future__ import annotations

import heapq
import itertools
import json
import threading
import time
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any

from harness.dynamodb import awsjson
from harness.dynamodb.store import Store, key_text
from harness.errors import HarnessError
from harness.waiting import ChangeSignal

WRITE_OPERATIONS = frozenset({"PutItem", "UpdateItem", "DeleteItem", "BatchWriteItem", "TransactWriteItems"})
TABLE_OPERATIONS = frozenset({"CreateTable", "DeleteTable"})


@dataclass(order=True)
class Change:
    due: float
    seq: int
    target: str = field(compare=False)
    table: str = field(compare=False)
    key: dict[str, Any] = field(compare=False)
    image: dict[str, Any] | None = field(compare=False)
    stamp: int = field(compare=False)
    source: str = field(compare=False)


def written_keys(store: Store, operation: str, request: dict[str, Any]) -> Iterator[tuple[str, dict]]:
    """(table, key) pairs a successful write request touched."""
    if operation == "PutItem":
        yield request["TableName"], store.key_of(request["TableName"], request["Item"])
    elif operation in ("UpdateItem", "DeleteItem"):
        yield request["TableName"], request["Key"]
    elif operation == "BatchWriteItem":
        for table, writes in request.get("RequestItems", {}).items():
            for write in writes:
                if "PutRequest" in write:
                    yield table, store.key_of(table, write["PutRequest"]["Item"])
                elif "DeleteRequest" in write:
                    yield table, write["DeleteRequest"]["Key"]
    elif operation == "TransactWriteItems":
        for entry in request.get("TransactItems", []):
            if "Put" in entry:
                yield entry["Put"]["TableName"], store.key_of(entry["Put"]["TableName"], entry["Put"]["Item"])
            for kind in ("Update", "Delete"):
                if kind in entry:
                    yield entry[kind]["TableName"], entry[kind]["Key"]


class Replicator:
    """Delivers captured writes to the other regions after ``lag`` seconds, last writer wins."""

    def __init__(self, stores: dict[str, Store], lag: float = 0.05) -> None:
        self.stores = stores
        self.lag = lag
        self.changed = ChangeSignal()
        self._queue: list[Change] = []
        self._cond = threading.Condition()
        self._seq = itertools.count()
        self._last_stamp = 0
        self._stamps: dict[str, dict[tuple[str, str], int]] = {name: {} for name in stores}
        self._in_flight = 0
        self._paused = False
        self._stopping = False
        self._thread: threading.Thread | None = None
        self.applied = 0  # replicated writes that took effect
        self.superseded = 0  # replicated writes dropped because the target had a newer write
        self.failed = 0  # replicated writes the target store refused (an external moto gone away)
        self.last_error: HarnessError | None = None

    # -- lifecycle ---------------------------------------------------------------------------
    def start(self) -> None:
        if self._thread is None:
            self._stopping = False
            self._thread = threading.Thread(target=self._run, name="dynamodb-replicator")
            self._thread.start()

    def stop(self) -> None:
        with self._cond:
            self._stopping = True
            self._cond.notify_all()
        if self._thread is not None:
            self._thread.join()
            self._thread = None

    def reset(self) -> None:
        """Forget pending changes and write stamps; resume. (Tables are emptied by the caller.)"""
        with self._cond:
            self._queue.clear()
            self._cond.wait_for(lambda: self._in_flight == 0, timeout=10)
            for stamps in self._stamps.values():
                stamps.clear()
            self._paused = False
            self.applied = self.superseded = self.failed = 0
            self.last_error = None
            self._cond.notify_all()
        self.changed.notify()

    # -- control -----------------------------------------------------------------------------
    def pause(self) -> None:
        with self._cond:
            self._paused = True
        self.changed.notify()

    def resume(self) -> None:
        with self._cond:
            self._paused = False
            self._cond.notify_all()
        self.changed.notify()

    @property
    def paused(self) -> bool:
        return self._paused

    @property
    def pending(self) -> int:
        """Writes captured but not yet applied (or superseded) in some target region."""
        with self._cond:
            return len(self._queue) + self._in_flight

    @property
    def backlog_age(self) -> float:
        """Seconds since the oldest write still queued for another region was captured (0: none).

        The lag a reader in another region sees right now; it grows while replication is paused.
        """
        with self._cond:
            captured = min((c.due - self.lag for c in self._queue), default=None)
        return 0.0 if captured is None else max(0.0, time.monotonic() - captured)

    def wait_caught_up(self, timeout: float) -> None:
        """Block until nothing is pending; ``TimeoutExpired`` names the backlog otherwise."""
        self.changed.wait_for(lambda: self.pending == 0, timeout,
                              f"replication to catch up ({self.pending} pending, paused={self.paused})")

    # -- capture (called by CaptureWrites under the source region's write lock) ---------------
    def record(self, source: str, table: str, key: dict[str, Any], image: dict[str, Any] | None) -> None:
        with self._cond:
            self._last_stamp = max(time.time_ns(), self._last_stamp + 1)
            stamp = self._last_stamp
            self._stamps[source][(table, key_text(key))] = stamp
            due = time.monotonic() + self.lag
            for target in self.stores:
                if target != source:
                    heapq.heappush(self._queue, Change(due, next(self._seq), target, table, key, image, stamp, source))
            self._cond.notify_all()
        self.changed.notify()

    # -- delivery ----------------------------------------------------------------------------
    def _run(self) -> None:
        while True:
            with self._cond:
                change = self._next_due()
                if change is None:
                    return
                self._in_flight += 1
            try:
                self._apply(change)
            except HarnessError as exc:  # one lost delivery must not stop replication for good
                self.failed += 1
                self.last_error = exc
            finally:
                with self._cond:
                    self._in_flight -= 1
                    self._cond.notify_all()
                self.changed.notify()

    def _next_due(self) -> Change | None:
        """Wait (on the condition, never a fixed sleep) for the next deliverable change."""
        while not self._stopping:
            if self._paused or not self._queue:
                self._cond.wait()
                continue
            wait = self._queue[0].due - time.monotonic()
            if wait > 0:
                self._cond.wait(wait)
                continue
            return heapq.heappop(self._queue)
        return None

    def _apply(self, change: Change) -> None:
        store = self.stores[change.target]
        with store.write_lock:
            if not store.has_table(change.table):
                return  # not a global table in that region: nothing to replicate into
            slot = (change.table, key_text(change.key))
            with self._cond:
                current = self._stamps[change.target].get(slot, -1)
                newer = change.stamp > current
                if newer:
                    self._stamps[change.target][slot] = change.stamp
            if newer:
                store.apply(change.table, change.key, change.image)
                self.applied += 1
            else:
                self.superseded += 1


class CaptureWrites:
    """WSGI middleware: after a successful write, hand the resulting item images to the replicator."""

    def __init__(self, app, store: Store, replicator: Replicator) -> None:
        self.app = app
        self.store = store
        self.replicator = replicator

    def __call__(self, environ: dict, start_response) -> Iterable[bytes]:
        operation = awsjson.operation_of(environ)
        if operation in TABLE_OPERATIONS:
            try:
                return [b"".join(self.app(environ, start_response))]
            finally:
                self.store.tables_changed()
        if operation not in WRITE_OPERATIONS:
            return self.app(environ, start_response)
        request = json.loads(awsjson.read_body(environ) or b"{}")
        status: list[str] = []

        def capturing_start_response(s: str, headers: list[tuple[str, str]], exc_info=None):
            status.append(s)
            return start_response(s, headers, exc_info) if exc_info else start_response(s, headers)

        with self.store.write_lock:
            before = self._images(operation, request)  # None: malformed; moto will refuse it
            body = b"".join(self.app(environ, capturing_start_response))
            if before is not None and status and status[0].startswith("200"):
                for (table, key), old in before:
                    image = self.store.image(table, key)
                    # Like DynamoDB Streams, a write that changed nothing (deleting a missing item,
                    # putting identical data) emits no record, so it replicates nothing: a no-op
                    # delete in one region must not erase the item another region still holds.
                    if image != old:
                        self.replicator.record(self.store.region, table, key, image)
        return [body]

    def _images(self, operation: str, request: dict[str, Any]) -> list[tuple[tuple[str, dict], dict | None]] | None:
        """The touched keys with their images before the write."""
        try:
            keys = list(written_keys(self.store, operation, request))
        except (KeyError, TypeError, ValueError, HarnessError):
            return None
        return [((table, key), self.store.image(table, key) if self.store.has_table(table) else None)
                for table, key in keys]
