"""``FaultChain``: the one way a fault reaches the DNS server, a DynamoDB front or the health checker."""

from __future__ import annotations

import pytest

from faults import Fault, fault, fault_names
from harness.fault_chain import FaultChain
from harness.registry import Registry


class Hook:
    def __init__(self, name: str) -> None:
        self.name = name


def test_faults_apply_in_the_order_added_and_each_is_in_the_chain_once() -> None:
    chain: FaultChain[Hook] = FaultChain()
    a, b, c = Hook("a"), Hook("b"), Hook("c")
    for hook in (a, b, a, c):
        chain.add(hook)
    assert chain.active == (a, b, c) and list(chain) == [a, b, c] and len(chain) == 3


def test_remove_is_idempotent_and_clear_empties_the_chain() -> None:
    chain: FaultChain[Hook] = FaultChain()
    a, b = Hook("a"), Hook("b")
    chain.add(a)
    chain.add(b)
    chain.remove(a)
    chain.remove(a)  # a second stop of the same fault changes nothing
    chain.remove(Hook("never added"))
    assert chain.active == (b,)
    chain.clear()
    assert chain.active == () and not chain


def test_a_snapshot_read_before_a_change_stays_as_it_was() -> None:
    """A query, request or round being handled keeps the faults it started with."""
    chain: FaultChain[Hook] = FaultChain()
    a = Hook("a")
    chain.add(a)
    snapshot = chain.active
    chain.add(Hook("b"))
    chain.remove(a)
    assert snapshot == (a,) and [h.name for h in chain.active] == ["b"]


def test_faults_are_told_apart_by_identity_not_equality() -> None:
    class Equal(Hook):
        def __eq__(self, other: object) -> bool:
            return True

        __hash__ = None  # type: ignore[assignment]

    chain: FaultChain[Hook] = FaultChain()
    first, second = Equal("x"), Equal("x")
    chain.add(first)
    chain.add(second)
    chain.remove(first)
    assert chain.active == (second,) and chain.active[0] is second


def test_the_fault_decorator_refuses_a_taken_name_a_bad_name_and_a_missing_docstring() -> None:
    before = fault_names()
    with pytest.raises(TypeError, match="fault name 'dns.nxdomain' registered twice"):
        @fault("dns.nxdomain")
        class Again(Fault):
            """Another NXDOMAIN."""
    with pytest.raises(TypeError, match="'family.fault'"):
        fault("nxdomain")
    with pytest.raises(TypeError, match="needs a docstring"):
        @fault("test.undocumented")
        class Undocumented(Fault):
            pass
    assert fault_names() == before


def test_every_fault_subclass_is_a_keyword_only_dataclass_without_its_own_decorator() -> None:
    class Probe(Fault):
        """A fault family base: options only."""

        name = "test.probe"  # not registered: @fault would name it
        level: int = 3

    probe = Probe(level=4, seed=1)
    assert (probe.level, probe.seed, probe.options()["level"]) == (4, 1, 4)
    assert probe != Probe(level=4, seed=1)  # faults compare by identity
    with pytest.raises(TypeError):
        Probe(4)  # type: ignore[misc]  # keyword-only


def test_a_registry_keeps_one_class_per_name() -> None:
    registry: Registry[object] = Registry("toxic type")
    assert registry.add("latency", int) is int and registry.add("latency", int) is int
    with pytest.raises(TypeError, match="toxic type 'latency' registered twice"):
        registry.add("latency", str)
    assert registry.get("latency") is int and registry.get(3) is None and registry.names() == ["latency"]
