"""health.flap: the October 2025 NLB health-check flapping, seen through DNS by real clients.

How flapping makes clients fail here (``target_down=True, propagation=3``): in 2025 instances were
brought into service before their network state had propagated. The flapping replica's data path
is really down (connection refused) during each failing phase and for the first 3 rounds of each
passing phase, while its checks already pass in those 3 rounds. So every cycle DNS sends clients to a
dead node twice: for ``unhealthy_threshold - 1`` rounds before the checker removes it, and from the
round it is put back (``healthy_threshold``) until its network is up. With 10-round cycles and
thresholds of 2 that is 1 + 2 = 3 rounds in 10 with the dead node listed first.
"""

from __future__ import annotations

import http.client
import subprocess

import pytest

from conftest import require_tool
from harness.health import DNS_PUBLISHED, TARGET_HEALTHY, TARGET_UNHEALTHY, VELOCITY_CAP_APPLIED
from health_rig import HealthRig

INTERVAL = 0.04
FAST = dict(interval=INTERVAL, timeout=INTERVAL, healthy_threshold=2, unhealthy_threshold=2)
CYCLE = 10  # rounds per flap cycle
FLAP_2025 = dict(period=CYCLE * INTERVAL, duty=0.5, jitter=1, target_down=True, propagation=3)
# A client resolving before every request must keep this success rate through the flapping if it
# tries the next address on connection failure; one that only uses the first address falls below
# it (expected about 0.7: 3 dead-in-DNS rounds of every 10).
SUCCESS_BOUND = 0.95


@pytest.fixture
def rig(request):
    with HealthRig(seed=11, **FAST, **getattr(request, "param", {})) as r:
        yield r


def attempt(address: str, port: int) -> bool:
    conn = http.client.HTTPConnection(address, port, timeout=1.0)
    try:
        conn.request("GET", "/")
        return conn.getresponse().status == 200
    except OSError:
        return False
    finally:
        conn.close()


def pinning_client(rig: HealthRig) -> tuple[bool, str]:
    """Resolves, then uses the first address only (as a client with one cached IP does)."""
    first = rig.resolve()[0]
    return attempt(first, rig.replicas.port), first


def retrying_client(rig: HealthRig) -> tuple[bool, int]:
    """Resolves, tries the addresses in order, moving on when a connection fails (socket.create_connection's way)."""
    for tries, address in enumerate(rig.resolve(), start=1):
        if attempt(address, rig.replicas.port):
            return True, tries
    return False, tries


def published_sets(rig: HealthRig, after_round: int = 0) -> list[tuple[str, ...]]:
    return [e.addresses for e in rig.health.events if e.kind == DNS_PUBLISHED and e.round > after_round]


def test_flapping_dns_answers_follow_the_checker_in_dig_and_query_log(rig):
    dig = require_tool("dig")
    host, port = rig.dns.address
    everyone = tuple(rig.replicas.addresses)
    without_first = everyone[1:]
    rig.chaos.inject("health.flap", period=CYCLE * INTERVAL, duty=0.5)  # checks only: the replica keeps serving
    seen: set[tuple[str, ...]] = set()
    checks = 0
    while not {everyone, without_first} <= seen:
        checks += 1
        assert checks < 200, f"dig never saw both answers, only {seen}"
        mark = len(rig.health.events)
        allowed = {rig.health.published()}
        answer = tuple(subprocess.run(
            [dig, "+short", "+tries=1", "+time=2", f"@{host}", "-p", str(port), rig.name, "A"],
            capture_output=True, text=True, timeout=10, check=True).stdout.split())
        allowed |= {e.addresses for e in rig.health.events[mark:] if e.kind == DNS_PUBLISHED}
        assert answer in allowed  # what dig sees is what the checker had published at that moment
        seen.add(answer)

    # The query log agrees: each answer is the set published just before the query (or the one
    # being published while it was answered), and both sets appear.
    published = [e for e in rig.health.events if e.kind == DNS_PUBLISHED]
    entries = rig.dns.log.entries(rig.name)
    assert len(entries) >= checks
    for entry in entries:
        index = max(i for i, e in enumerate(published) if e.time <= entry.monotonic)
        assert entry.answers in {p.addresses for p in published[index:index + 2]}
    assert {everyone, without_first} <= {e.answers for e in entries}


def test_retrying_client_rides_out_2025_flapping_and_pinning_client_does_not(rig):
    flapping = rig.replicas[0].host
    rig.chaos.inject("health.flap", target=0, **FLAP_2025)
    start = rig.health.round
    pinned, retried = [], []
    for n in range(start + 1, start + 1 + 6 * CYCLE):
        rig.health.wait_for_round(n)
        pinned.append(pinning_client(rig))
        retried.append(retrying_client(rig))
    pinned_rate = sum(ok for ok, _ in pinned) / len(pinned)
    retried_rate = sum(ok for ok, _ in retried) / len(retried)
    print(f"success rate: retrying client {retried_rate:.2f}, pinning client {pinned_rate:.2f}")
    assert retried_rate >= SUCCESS_BOUND, retried_rate
    assert pinned_rate < SUCCESS_BOUND, pinned_rate
    # the pinning client only ever failed on the flapping node, while DNS still (or already) listed it
    assert {address for ok, address in pinned if not ok} == {flapping}
    # and the retrying client got through those moments by taking a second address
    assert sum(ok and tries > 1 for ok, tries in retried) >= 3
    assert published_sets(rig, start).count(tuple(rig.replicas.addresses[1:])) >= 5  # it really flapped


@pytest.mark.parametrize("rig,cap", [({}, None), ({"max_removal_share": 0.34}, 0.34)], indirect=["rig"],
                         ids=["no-cap", "cap-0.34"])
def test_velocity_cap_keeps_the_configured_share_in_dns_while_two_of_three_flap(rig, cap):
    keep = 2  # 0.34 of 3 targets: at most 1 removed, so at least 2 of 3 (>= 1 - 0.34) stay
    start = rig.health.round
    for target, seed in ((0, 1), (1, 2)):  # same schedule length; both failing phases overlap by >= 4 rounds
        rig.chaos.inject("health.flap", target=target, period=CYCLE * INTERVAL, duty=0.6, seed=seed)
    answers = []
    for n in range(start + 1, start + 1 + 3 * CYCLE):
        rig.health.wait_for_round(n)
        answers.append(len(rig.resolve()))
    sizes = [len(a) for a in published_sets(rig, start)]
    assert most_unhealthy_at_once(rig) >= 2  # the checker did see two of three down together
    if cap:
        assert min(answers) >= keep and min(sizes) >= keep, (answers, sizes)
    else:
        assert min(answers) == 1 and min(sizes) == 1, (answers, sizes)
    capped = [e for e in rig.health.events if e.kind == VELOCITY_CAP_APPLIED and e.round > start]
    assert bool(capped) == bool(cap)


def most_unhealthy_at_once(rig: HealthRig) -> int:
    down: set[str] = set()
    most = 0
    for event in rig.health.events:
        if event.kind == TARGET_UNHEALTHY:
            down.add(event.target)
        elif event.kind == TARGET_HEALTHY:
            down.discard(event.target)
        most = max(most, len(down))
    return most
