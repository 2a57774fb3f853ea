"""A fault's ``duration`` runs on ``Chaos.clock``: tests control time instead of racing it."""

from __future__ import annotations

import threading
import types

from clocks import ManualClock
from harness.chaos import Chaos


def dns_only_env() -> types.SimpleNamespace:
    faults: list = []
    dns = types.SimpleNamespace(faults=types.SimpleNamespace(add=faults.append, remove=faults.remove))
    return types.SimpleNamespace(dns=dns, proxies=None, dynamodb=None, health=None, added=faults)


def test_a_fault_clears_when_its_clock_says_the_duration_ran_out() -> None:
    clock = ManualClock()
    env = dns_only_env()
    chaos = Chaos(env, clock=clock)
    short = chaos.inject("dns.servfail", duration=5)
    long = chaos.inject("dns.nxdomain", duration=60)
    assert chaos.expire_due() == [] and short.active
    clock.advance(4.999)
    assert chaos.expire_due() == [] and short.active  # real time passing does not matter
    clock.advance(0.001)
    assert chaos.expire_due() == [short]
    assert not short.active and long.active and [f.name for f in env.added] == ["dns.nxdomain"]
    assert short.record.cleared - short.record.started == 5
    chaos.clear_all()
    assert not long.active and env.added == []
    assert not [t for t in threading.enumerate() if t.name == "chaos-clear"]


def test_the_watcher_notices_an_advanced_clock_by_itself() -> None:
    clock = ManualClock()
    chaos = Chaos(dns_only_env(), clock=clock)
    handle = chaos.inject("dns.servfail", duration=30)
    clock.advance(30)
    handle.wait_cleared(5)  # woken by the change signal, not by a sleep
    assert not handle.active
    for watcher in [t for t in threading.enumerate() if t.name == "chaos-clear"]:
        watcher.join(5)  # with nothing left to watch it ends by itself
        assert not watcher.is_alive()
