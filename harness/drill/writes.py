"""Acknowledged writes: what the app said it stored, and whether it is all there at the end.

``WriteLedger`` is filled while the traffic runs: a write request the app acknowledged adds the
key found in its response (``writes.key``) under the request's ``{{id}}``; a replay of an
ambiguous write (no answer, or a 5xx) keeps its id, so one id acknowledged with two different keys
is a duplicate write. ``check_writes`` runs after the faults cleared and replication caught up:
every live key is read back through the app and/or looked up in every region's table.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from harness.drill.records import WriteAudit
from harness.drill.templates import render
from harness.scenario.appspec import WritesSpec

READ_ATTEMPTS = 3

# (method, path) -> (status, error text or None): one read through the app.
ReadBack = Callable[[str, str], tuple[int, str | None]]
# (table, plain key) -> {region: item or None}.
TableReader = Callable[[str, Mapping[str, Any]], Mapping[str, Any]]


@dataclass
class WriteLedger:
    """Acknowledged keys (live / deleted / unknown) and the keys acknowledged for each write id."""

    lock: threading.Lock = field(default_factory=threading.Lock)
    keys: dict[str, str] = field(default_factory=dict)
    by_id: dict[str, set[str]] = field(default_factory=dict)

    def acknowledged(self, write_id: str, key: str) -> None:
        with self.lock:
            self.keys.setdefault(key, "live")
            self.by_id.setdefault(write_id, set()).add(key)

    def deleted(self, key: str, *, certain: bool) -> None:
        """A delete the app acknowledged (``certain``), or one whose outcome is unknown: not checked."""
        with self.lock:
            self.keys[key] = "deleted" if certain else "unknown"

    def live(self) -> list[str]:
        with self.lock:
            return sorted(k for k, state in self.keys.items() if state == "live")

    def duplicates(self) -> list[str]:
        with self.lock:
            return sorted(i for i, keys in self.by_id.items() if len(keys) > 1)


def check_writes(ledger: WriteLedger, spec: WritesSpec, read: ReadBack | None,
                 tables: TableReader | None) -> WriteAudit:
    """Read back every live acknowledged key; a key the app or a region's table does not have is lost.

    A read the app never answered (timeouts, 5xx after ``READ_ATTEMPTS``) is *unverified*: no
    proof of loss, no proof of safety.
    """
    lost: list[str] = []
    unverified: list[str] = []
    notes: list[str] = []
    live = ledger.live()
    for key in live:
        names = {"key": key}
        verdict = "found"
        if spec.request is not None and read is not None:
            path = str(render(spec.request.path, names, {}))
            for _ in range(READ_ATTEMPTS):
                status, _error = read(spec.request.method, path)
                if status != 0 and status < 500:
                    break
            if status in spec.request.missing:
                verdict = "lost"
            elif status not in spec.request.found:
                verdict = "unverified"
        if verdict == "found" and spec.table is not None and tables is not None:
            plain = render(dict(spec.table.key), names, {})
            missing = [region for region, item in tables(spec.table.name, plain).items() if item is None]
            if missing:
                verdict = "lost"
                notes.append(f"{key} missing in {', '.join(missing)}")
        if verdict == "lost":
            lost.append(key)
        elif verdict == "unverified":
            unverified.append(key)
    return WriteAudit(checked=len(live), lost=tuple(lost), duplicates=tuple(ledger.duplicates()),
                      unverified=tuple(unverified), note="; ".join(notes[:5]))
