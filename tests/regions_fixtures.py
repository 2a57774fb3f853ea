"""Shared set-up for tests of DynamoDB regions reached by name (in-process or external moto).

``NetworkedRegions`` is the DynamoDB part of a harness (also used by bench/dynamodb_bench.py);
``skip_retry_backoff`` lets tests watch botocore's retry schedule without sleeping it. This module
is a pytest plugin (tests/conftest.py ``pytest_plugins``): its fixtures need no import.
"""

from __future__ import annotations

import contextlib
import time
import types
from collections.abc import Iterator
from contextlib import ExitStack
from dataclasses import dataclass, field
from typing import Any

import botocore.endpoint
import pytest

from harness.chaos import Chaos


@dataclass
class Backoffs:
    """The retry delays botocore asked for, in order (seconds)."""

    delays: list[float] = field(default_factory=list)


@contextlib.contextmanager
def skip_retry_backoff() -> Iterator[Backoffs]:
    """Record botocore's retry backoff delays instead of sleeping them.

    botocore sleeps between attempts in ``botocore.endpoint`` (``time.sleep(delay)``); legacy mode's
    10 DynamoDB attempts alone would sleep 25.55 s. Swapping that module's ``time`` for a recorder
    keeps every attempt real (each still reaches the front server) while the schedule botocore chose
    stays visible for assertions. Only botocore's retry sleep is affected, nothing else.
    """
    recorded = Backoffs()
    shim = types.SimpleNamespace(**{name: getattr(time, name) for name in dir(time) if not name.startswith("__")})
    shim.sleep = recorded.delays.append
    original: Any = botocore.endpoint.time
    botocore.endpoint.time = shim
    try:
        yield recorded
    finally:
        botocore.endpoint.time = original


class NetworkedRegions:
    """The DynamoDB part of a harness, for the tests and bench/dynamodb_bench.py.

    Loop thread, DNS server, Toxiproxy layer, regions with endpoint nodes, and the resolver hook so
    boto3 resolves ``dynamodb.<region>.amazonaws.com`` through the harness DNS. ``env`` is what
    faults receive. (``harness.environment.Harness`` composes the same parts for everything else.)
    """

    def __init__(self, **regions_options: Any) -> None:
        self.regions_options = regions_options
        self._stack = ExitStack()

    def __enter__(self) -> "NetworkedRegions":
        from harness.dns.server import DnsServer
        from harness.dns.zone import Topology
        from harness.dynamodb.regions import DynamoRegions
        from harness.loop_thread import LoopThread
        from harness.loopback import LoopbackPool
        from harness.proxies import ProxyLayer
        from harness.resolver import use_harness_dns

        stack = self._stack
        try:
            self.pool = LoopbackPool()
            self.loop = stack.enter_context(LoopThread("dynamodb-test-loop"))
            self.dns = stack.enter_context(DnsServer(Topology(), self.pool.take("dns"), loop=self.loop))
            self.proxies = stack.enter_context(ProxyLayer.connect(loop=self.loop))
            self.dynamodb = stack.enter_context(
                DynamoRegions(self.dns, self.proxies, self.pool, **self.regions_options)
            )
            stack.enter_context(use_harness_dns(self.dns.address, ["amazonaws.com"]))
        except BaseException:
            stack.close()
            raise
        self.env = types.SimpleNamespace(dns=self.dns, proxies=self.proxies, dynamodb=self.dynamodb, health=None)
        return self

    def reset(self) -> None:
        """Per-test state: proxies re-enabled without toxics, DNS faults/log cleared, regions reset."""
        self.proxies.reset()
        self.dns.reset()
        self.dynamodb.reset()

    def __exit__(self, *exc: object) -> None:
        self._stack.close()


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
