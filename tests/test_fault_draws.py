"""Fault probabilities select the same events in every run with the same seed, whatever the timing.

A gate's verdict must not depend on how a busy machine interleaves the app's threads, so a fault's
``probability`` is decided per stream (a stable identity of what is affected) and spread evenly
within it (``faults.base.Draws``).
"""

from __future__ import annotations

import math
import random
import threading

import pytest

from faults import create_fault

STREAMS = [("dynamodb.us-east-1.amazonaws.com", "A"), ("dynamodb.us-east-1.amazonaws.com", "AAAA"),
           ("dynamodb.us-west-2.amazonaws.com", "A")]


def decisions(order: list[tuple[str, str]], *, seed: int = 7, probability: float = 0.3) -> dict:
    fault = create_fault("dns.servfail", probability=probability, seed=seed)
    out: dict = {s: [] for s in STREAMS}
    for stream in order:
        out[stream].append(fault.roll(*stream))
    return out


def test_the_same_events_are_hit_however_streams_interleave() -> None:
    events = [s for s in STREAMS for _ in range(50)]
    in_order = decisions(events)
    shuffled = list(events)
    random.Random(1).shuffle(shuffled)
    assert decisions(shuffled) == in_order
    assert decisions(events, seed=8) != in_order  # the seed matters


def test_threads_racing_on_one_fault_get_the_same_hits_per_stream() -> None:
    fault = create_fault("dynamodb.throttle", probability=0.3, seed=20251020)
    hits: dict[str, int] = {"GetItem": 0, "PutItem": 0}
    lock = threading.Lock()
    start = threading.Barrier(4)

    def work(operation: str) -> None:
        start.wait()
        for _ in range(250):
            hit = fault.roll(operation)
            with lock:
                hits[operation] += hit

    threads = [threading.Thread(target=work, args=(op,)) for op in ("GetItem", "PutItem", "GetItem", "PutItem")]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert hits == {"GetItem": 150, "PutItem": 150}  # exactly 30% of 500 events per stream


@pytest.mark.parametrize("probability", [0.05, 0.3, 0.5, 0.77])
def test_every_run_of_consecutive_events_gets_its_share(probability: float) -> None:
    hits = decisions([STREAMS[0]] * 400, probability=probability)[STREAMS[0]]
    for k in (10, 40):
        for start in range(0, 400 - k):
            count = sum(hits[start:start + k])
            assert math.floor(k * probability) <= count <= math.ceil(k * probability), (k, start, count)


def test_one_shot_identities_are_hit_with_the_probability() -> None:
    """A decision made once per identity (the nodes a partition picks) is a seeded coin per identity."""
    fault = create_fault("network.partition", probability=0.3, seed=3)
    picked = [fault.roll(f"node-{i}") for i in range(2000)]
    assert 500 <= sum(picked) <= 700
    again = create_fault("network.partition", probability=0.3, seed=3)
    assert [again.roll(f"node-{i}") for i in range(2000)] == picked


def test_certain_and_impossible_faults_do_not_draw() -> None:
    assert all(create_fault("dns.nxdomain").roll("x") for _ in range(10))
    assert not any(create_fault("dns.nxdomain", probability=0).roll("x") for _ in range(10))


def test_retries_are_drawn_in_a_stream_of_their_own() -> None:
    """A throttled call's retry is not decided by whatever calls ran in between: of the retries,
    exactly their share is hit again, whether or not other calls interleaved."""
    from harness.dynamodb.service_faults import _attempt

    assert _attempt({"HTTP_AMZ_SDK_REQUEST": "attempt=3; max=4"}) == 3 and _attempt({}) == 1
    fault = create_fault("dynamodb.throttle", probability=0.3, seed=5)
    first = [fault.roll("GetItem", 1) for _ in range(100)]
    retries = [fault.roll("GetItem", 2) for _ in range(sum(first))]
    assert sum(first) == 30 and sum(retries) == 9
