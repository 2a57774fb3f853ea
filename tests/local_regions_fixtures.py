"""Shared set-up for the sample app's own tests: two local moto regions per test module."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from harness.loopback import LoopbackPool
from sample_app.testing import LocalRegions


@pytest.fixture(scope="module")
def pool() -> LoopbackPool:
    return LoopbackPool()


@pytest.fixture(scope="module")
def regions(pool: LoopbackPool) -> Iterator[LocalRegions]:
    local = LocalRegions(pool).start()
    yield local
    local.stop()
