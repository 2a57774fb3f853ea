"""Shared set-up for tests of DynamoDB regions reached by name (in-process or external moto)."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from typing import Any

import pytest

from harness.chaos import Chaos
from harness.dynamodb.testing import NetworkedRegions

ORDERS = {"name": "orders", "partition_key": "pk:S"}


def networked(**options: Any) -> Iterator[NetworkedRegions]:
    """Started regions (DNS, proxies, resolver hook) with the ``orders`` table in every region."""
    with NetworkedRegions(**options) as harness:
        harness.dynamodb.create_tables([ORDERS])
        yield harness


@contextlib.contextmanager
def fresh_chaos(harness: NetworkedRegions) -> Iterator[Chaos]:
    """A ``Chaos`` on clean regions; every fault cleared and the regions reset afterwards."""
    harness.reset()
    with Chaos(harness.env) as chaos:
        yield chaos
    harness.reset()


@pytest.fixture
def east(harness: NetworkedRegions) -> Any:
    return harness.dynamodb.region("us-east-1")
