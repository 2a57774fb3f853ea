"""Static-stability cache: keep validating recently seen sessions when no region answers.

During the October 2025 outage the control of sign-in depended on a region that could not be
reached. A service that remembers sessions it validated in the last ``ttl`` seconds can keep
answering "this session is valid" from memory — marked stale — instead of locking everyone out.
Only *reads* may come from here: creating a session must reach a database (logins get 503).
"""

from __future__ import annotations

import collections
import threading
import time
from collections.abc import Callable
from typing import Protocol

from sample_app.store import Session


class SessionCache(Protocol):
    def remember(self, session: Session) -> None: ...

    def recall(self, session_id: str) -> Session | None: ...

    def forget(self, session_id: str) -> None: ...

    def clear(self) -> None: ...


class StaticStabilityCache:
    """Sessions seen (created or validated) within ``ttl`` seconds, bounded to ``max_entries``.

    A remembered session is recalled only while it was seen recently enough *and* its own expiry
    has not passed; ``forget`` (logout, "not found" from a region) removes it at once so a
    logged-out session is never revived from memory.
    """

    def __init__(
        self, ttl: float, *, max_entries: int = 10_000, clock: Callable[[], float] = time.time
    ) -> None:
        self.ttl = ttl
        self.max_entries = max_entries
        self.clock = clock
        self._entries: collections.OrderedDict[str, tuple[Session, float]] = collections.OrderedDict()
        self._lock = threading.Lock()

    def remember(self, session: Session) -> None:
        with self._lock:
            self._entries[session.session_id] = (session, self.clock())
            self._entries.move_to_end(session.session_id)
            while len(self._entries) > self.max_entries:
                self._entries.popitem(last=False)

    def recall(self, session_id: str) -> Session | None:
        now = self.clock()
        with self._lock:
            entry = self._entries.get(session_id)
            if entry is None:
                return None
            session, seen_at = entry
            if now - seen_at > self.ttl or now >= session.expires_at:
                del self._entries[session_id]
                return None
            return session

    def forget(self, session_id: str) -> None:
        with self._lock:
            self._entries.pop(session_id, None)

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()


class NoCache:
    """The naive app remembers nothing: when the database is gone, so is sign-in."""

    def remember(self, session: Session) -> None:
        pass

    def recall(self, session_id: str) -> Session | None:
        return None

    def forget(self, session_id: str) -> None:
        pass

    def clear(self) -> None:
        pass
