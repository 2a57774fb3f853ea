"""Fixtures of this project; everything about the harness comes from the installed plugin."""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import pytest

from profile_store import TABLE, ProfileEvents, ProfileStore


@pytest.fixture(scope="session")
def profiles_table(chaos_dynamodb) -> str:
    """Our global table, created once in every region of the harness (emptied before each test)."""
    return chaos_dynamodb.create_table(TABLE)


@pytest.fixture
def store(chaos_dynamodb, profiles_table, monkeypatch) -> Iterator[ProfileStore]:
    """The store as production configures it, pointed at the harness's regional endpoints."""
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    store = ProfileStore(chaos_dynamodb.endpoints, regions=["us-east-1", "us-west-2"])
    yield store
    store.close()


@pytest.fixture
def events(chaos_aws, monkeypatch) -> Iterator[ProfileEvents]:
    """Profile events on SQS in every region, through the harness's real SQS hostnames.

    A queue of its own per test: SQS state (unlike table items) lives for the whole session."""
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    events = ProfileEvents(chaos_aws.endpoints("sqs"), f"profile-events-{uuid.uuid4().hex[:8]}",
                           regions=["us-east-1", "us-west-2"])
    yield events
    events.close()
