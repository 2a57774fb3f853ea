"""Health checker: thresholds, fail-open, velocity cap, events, and the health.* faults that are not flapping."""

from __future__ import annotations

import http.client
import subprocess
import time

import pytest

from faults import create_fault
from clocks import ManualClock
from harness.chaos import Chaos
from harness.dns import Topology
from harness.errors import ComponentMissingError, ConfigError, FaultOptionError, HarnessError
from harness.health import (
    DNS_PUBLISHED,
    FAIL_OPEN_ENTERED,
    FAIL_OPEN_LEFT,
    TARGET_HEALTHY,
    TARGET_UNHEALTHY,
    HealthChecker,
    HealthCheckerFailed,
    HttpCheck,
    ProbeResult,
    Target,
    TcpCheck,
    min_published,
)
from harness.health.policy import TargetState, decide
from health_rig import HealthRig
from conftest import require_tool

FAST = dict(interval=0.03, timeout=0.03, healthy_threshold=2, unhealthy_threshold=2)


@pytest.fixture
def rig():
    with HealthRig(seed=7, **FAST) as r:
        yield r


def get(address: str, port: int) -> int | None:
    """HTTP status of GET / on one address, None when the connection fails."""
    conn = http.client.HTTPConnection(address, port, timeout=1.0)
    try:
        conn.request("GET", "/")
        return conn.getresponse().status
    except OSError:
        return None
    finally:
        conn.close()


# -- policy ----------------------------------------------------------------------------------------
def test_state_changes_only_after_threshold_consecutive_results():
    state = TargetState()
    seq = [False, True, False, False, True, True, True]
    flips = [state.observe(ProbeResult(i, ok, "probe"), 3, 2) for i, ok in enumerate(seq)]
    # one failure then a pass resets the streak; two failures in a row flip; three passes flip back
    assert flips == [False, False, False, True, False, False, True]
    assert state.healthy


def test_all_unhealthy_fails_open_and_cap_keeps_in_dns_targets_first():
    assert decide([False, False, False], (0, 1), 1).published == (0, 1, 2)
    assert decide([False, False, False], (0, 1), 1).fail_open
    no_cap = decide([False, False, True], (0, 1, 2), min_published(3, None))
    assert no_cap.published == (2,) and no_cap.held == ()
    # 0.34 of 3 targets: at most one removed; target 1 was still in DNS, so it is the one held
    capped = decide([False, False, True], (1, 2), min_published(3, 0.34))
    assert capped.published == (1, 2) and capped.held == (1,)


@pytest.mark.parametrize("count,share,expected", [(3, None, 1), (3, 0.34, 2), (3, 0.5, 2), (4, 0.5, 2),
                                                  (10, 0.25, 8), (3, 1.0, 1), (1, 0.34, 1)])
def test_min_published_is_n_minus_floor_share_times_n(count, share, expected):
    assert min_published(count, share) == expected


# -- bad input ---------------------------------------------------------------------------------------
@pytest.mark.parametrize("options,problem", [
    (dict(interval=0), "interval"),
    (dict(interval=0.05, timeout=0.1), "timeout"),
    (dict(healthy_threshold=0), "healthy_threshold"),
    (dict(unhealthy_threshold=1.5), "unhealthy_threshold"),
    (dict(max_removal_share=1.5), "max_removal_share"),
])
def test_bad_checker_settings_are_one_line_config_errors(options, problem):
    with pytest.raises(ConfigError, match=problem) as info:
        HealthChecker(Topology(), **options)
    assert "\n" not in str(info.value)


def test_bad_targets_and_groups_are_one_line_config_errors():
    with pytest.raises(ConfigError, match="not a loopback"):
        Target("10.0.0.1", 80)
    with pytest.raises(ConfigError, match="invalid port"):
        Target("127.0.0.1", 70000)
    with pytest.raises(ConfigError, match="path"):
        HttpCheck("healthz")
    checker = HealthChecker(Topology())
    with pytest.raises(ConfigError, match="at least one target"):
        checker.add_group("app.chaos.test", [])
    with pytest.raises(ConfigError, match="share one port"):
        checker.add_group("app.chaos.test", [Target("127.0.0.2", 80), Target("127.0.0.3", 81)])
    with pytest.raises(ConfigError, match="outside the served zones"):
        checker.add_group("app.example.org", [Target("127.0.0.2", 80)])
    checker.add_group("app.chaos.test", [Target("127.0.0.2", 80)])
    with pytest.raises(ConfigError, match="already checked"):
        checker.add_group("APP.chaos.test.", [Target("127.0.0.2", 80)])


def test_fault_options_are_checked_against_the_running_checker(rig):
    for name, options, problem in [
        ("health.flap", dict(group="nope.chaos.test"), "no group 'nope.chaos.test'"),
        ("health.flap", dict(target=5), "no target 5"),
        ("health.kill_target", dict(target="127.0.0.99"), "no target '127.0.0.99'"),
    ]:
        with pytest.raises(FaultOptionError, match=problem) as info:
            rig.chaos.inject(name, **options)
        assert str(info.value).startswith(name) and "\n" not in str(info.value)
    with pytest.raises(FaultOptionError, match="duty"):
        create_fault("health.flap", duty=1.5)
    with pytest.raises(FaultOptionError, match="propagation"):
        create_fault("health.flap", propagation=2)
    assert rig.chaos.active == [] and rig.health.faults.active == ()


def test_kill_target_needs_a_control_and_faults_need_a_checker():
    class Env:
        dns = proxies = dynamodb = health = None

    with pytest.raises(ComponentMissingError, match="health checker"):
        Chaos(Env()).inject("health.kill_target")
    checker = HealthChecker(Topology())
    checker.add_group("app.chaos.test", [Target("127.0.0.2", 80, TcpCheck())])
    Env.health = checker
    with pytest.raises(FaultOptionError, match="no control"):
        Chaos(Env()).inject("health.kill_target")


# -- behaviour against real replicas and the real DNS server ---------------------------------------------
def test_kill_target_removes_node_from_dns_and_restore_brings_it_back_after_healthy_threshold(rig):
    victim = rig.replicas[1].host
    port = rig.replicas.port
    assert rig.resolve() == rig.replicas.addresses
    handle = rig.chaos.inject("health.kill_target", target=1)
    assert get(victim, port) is None  # really down: connection refused
    rig.health.wait_for_state(victim, False)
    assert rig.resolve() == [a for a in rig.replicas.addresses if a != victim]
    assert [get(a, port) for a in rig.resolve()] == [200, 200]

    handle.clear()
    assert get(victim, port) == 200  # answering again on the same address
    back = rig.health.wait_for_state(victim, True)
    assert rig.resolve() == rig.replicas.addresses
    # back in DNS exactly on the healthy_threshold-th consecutive passing probe, not before
    trail = {p.round: p.ok for p in rig.health.history(victim)}
    assert [trail[back.round - i] for i in range(FAST["healthy_threshold"] + 1)] == [True, True, False]
    published = [e for e in rig.health.events if e.kind == DNS_PUBLISHED]
    assert published[-1].round == back.round and victim in published[-1].addresses


def test_all_unhealthy_fails_open_so_dns_still_answers_every_address(rig):
    dig = require_tool("dig")
    host, port = rig.dns.address
    with rig.chaos.inject("health.all_unhealthy"):
        entered = rig.health.wait_for_event(FAIL_OPEN_ENTERED)
        assert rig.health.healthy() == {a: False for a in rig.replicas.addresses}
        out = subprocess.run([dig, "+short", "+tries=1", "+time=2", f"@{host}", "-p", str(port), rig.name, "A"],
                             capture_output=True, text=True, timeout=10, check=True).stdout.split()
        assert out == rig.replicas.addresses
        # the moment every target was unhealthy is the round fail-open started, and DNS never went empty
        last_down = max(e.round for e in rig.health.events if e.kind == TARGET_UNHEALTHY)
        assert entered.round == last_down
        assert all(e.addresses for e in rig.health.events if e.kind == DNS_PUBLISHED)
    left = rig.health.wait_for_event(FAIL_OPEN_LEFT)
    assert left.round > entered.round
    assert rig.resolve() == rig.replicas.addresses


def test_fail_checks_takes_a_serving_target_out_of_dns_for_its_duration(rig):
    victim = rig.replicas[0].host
    clock = ManualClock()
    with Chaos(rig, clock=clock) as chaos:  # the duration runs out when the test says, not when a busy runner does
        handle = chaos.inject("health.fail_checks", target=victim, duration=1.5)
        rig.health.wait_for_state(victim, False)
        assert victim not in rig.resolve()
        assert get(victim, rig.replicas.port) == 200  # the node was fine all along: capacity lost for nothing
        assert handle.active
        clock.advance(1.5)
        handle.wait_cleared(timeout=5)
    rig.health.wait_for_state(victim, True)
    assert rig.resolve()[0] == victim


def test_events_carry_times_and_rounds_and_can_be_awaited(rig):
    before = time.monotonic()
    start = rig.health.wait_for_round(rig.health.round + 1)
    with rig.chaos.inject("health.fail_checks", target=2):
        down = rig.health.wait_for_event(TARGET_UNHEALTHY, group=rig.name, after_round=start)
    up = rig.health.wait_for_event(TARGET_HEALTHY, target=rig.replicas[2].host, after_round=down.round)
    after = time.monotonic()
    events = rig.health.events
    victim = rig.replicas[2].host
    assert [e.kind for e in events if e.target == victim] == [TARGET_UNHEALTHY, TARGET_HEALTHY]
    # each change of the victim's state is published to DNS in the same round
    dns = {e.round: e.addresses for e in events if e.kind == DNS_PUBLISHED}
    assert victim not in dns[down.round] and victim in dns[up.round]
    assert all(before <= e.time <= after for e in events if e.round > 0)
    assert [e.time for e in events] == sorted(e.time for e in events)
    assert [e.round for e in events] == sorted(e.round for e in events)
    # unhealthy on the 2nd failing round: one round between the first failure and the event
    fails = [p.round for p in rig.health.history(2) if not p.ok]
    assert down.round == fails[0] + 1 and up.round > fails[-1]
    assert rig.health.wait_for_round(up.round + 2) >= up.round + 2


def test_a_broken_fault_stops_the_checker_loudly_instead_of_hanging_waiters(rig):
    class Broken:
        name = "test.broken"

        def check_override(self, probe):
            raise RuntimeError("boom")

    rig.health.faults.add(Broken())
    with pytest.raises(HealthCheckerFailed, match="boom") as info:
        rig.health.wait_for_round(rig.health.round + 50)
    assert isinstance(info.value, HarnessError) and "\n" not in str(info.value)


def test_flap_schedule_is_deterministic_per_seed():
    checker = HealthChecker(Topology(), interval=0.05, timeout=0.02)
    checker.add_group("app.chaos.test", [Target("127.0.0.2", 80), Target("127.0.0.3", 80)])

    def schedule(**options):
        fault = create_fault("health.flap", **options)
        fault.bind(checker)
        return "".join("F" if fault.phase(r) == "failing" else "." for r in range(100, 140))

    # 0.5 s at 0.05 s per round = 10 rounds; duty 0.3 = 3 failing rounds, failing phase first
    assert schedule(period=0.5, duty=0.3) == "FFF......." * 4
    jittered = schedule(period=0.5, duty=0.3, jitter=2, seed=1)
    assert jittered == schedule(period=0.5, duty=0.3, jitter=2, seed=1)
    assert jittered != schedule(period=0.5, duty=0.3, jitter=2, seed=2)
    sometimes = schedule(period=0.5, duty=0.3, probability=0.5, seed=3)
    assert sometimes == schedule(period=0.5, duty=0.3, probability=0.5, seed=3)
    assert 0 < sometimes.count("FFF") < 4
