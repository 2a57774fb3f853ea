"""The fully wired embedded harness for acceptance tests: one running per process, reset per test.

The resolver hook sends every lookup of a managed name to the innermost harness, so one process
must never run two harnesses at once. ``HarnessSlot`` keeps the one this test module uses and, when
a test asks for another shape (``HarnessConfig``), stops it before starting the next; tests of one
shape share a harness (starting one takes about half a second, resetting it less).
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from harness.environment import Harness, HarnessConfig
from local_regions import AppClient, Reply

EAST, WEST = "us-east-1", "us-west-2"
PASSWORD = "correct horse battery"


class HarnessSlot:
    """The module's running harness, reshaped on demand; ``close()`` stops it."""

    def __init__(self) -> None:
        self.config: HarnessConfig | None = None
        self.running: Harness | None = None

    def harness(self, config: HarnessConfig) -> Harness:
        """A clean harness of this shape: the running one reset, or a new one started."""
        if self.running is not None and self.config == config:
            self.running.reset()
            return self.running
        self.close()
        self.running = Harness(config).start()
        self.config = config
        return self.running

    def close(self) -> None:
        running, self.running, self.config = self.running, None, None
        if running is not None:
            running.stop()


@pytest.fixture(scope="module")
def harness_slot() -> Iterator[HarnessSlot]:
    slot = HarnessSlot()
    try:
        yield slot
    finally:
        slot.close()


class User:
    """An HTTP client of the app *by name* (``app.chaos.test`` resolved through the harness DNS)."""

    def __init__(self, harness: Harness, timeout: float, username: str = "ada") -> None:
        assert harness.app is not None
        self.harness = harness
        self.username = username
        self.client = AppClient(harness.app.url, timeout=timeout)

    def sign_up(self) -> Reply:
        return self.client.request("POST", "/users", {"username": self.username, "password": PASSWORD})

    def login(self, key: str | None = None) -> Reply:
        headers = {"Idempotency-Key": key} if key else {}
        return self.client.request("POST", "/sessions", {"username": self.username, "password": PASSWORD}, headers)

    def validate(self, session_id: str) -> Reply:
        return self.client.request("GET", f"/sessions/{session_id}")

    def logout(self, session_id: str) -> Reply:
        return self.client.request("DELETE", f"/sessions/{session_id}")

    def metrics(self) -> dict:
        return self.client.request("GET", "/metrics").body

    def close(self) -> None:
        self.client.close()


def session_id(reply: Reply) -> str:
    assert reply.status == 201, reply
    return reply.body["session"]["session_id"]
