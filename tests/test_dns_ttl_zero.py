"""``dns.ttl_zero`` as a resolver sees it: the same answer, but with TTL 0 on the address records."""

from __future__ import annotations

from types import SimpleNamespace

import pytest
from dnslib import QTYPE, RCODE

from harness.chaos import Chaos
from harness.dns import DnsServer, Topology
from harness.dns.client import query
from harness.loopback import LoopbackPool
from harness.scenario import parse_scenario

DDB = "dynamodb.us-east-1.amazonaws.com"
APP = "app.chaos.test"


@pytest.fixture
def server():
    topology = Topology()
    topology.set(DDB, ["127.0.0.10", "127.0.0.11"], ttl=5)
    topology.set(APP, ["127.0.0.20", "::1"], ttl=30)
    with DnsServer(topology, host=LoopbackPool().take("dns")) as dns:
        yield dns


def records(reply) -> list[tuple[str, str, int]]:
    """(type, address, ttl) of each record in the answer section."""
    return sorted((QTYPE[rr.rtype], str(rr.rdata), rr.ttl) for rr in reply.rr)


def test_ttl_zero_answers_the_same_addresses_with_ttl_0_until_cleared(server: DnsServer) -> None:
    assert records(query(server.address, DDB)) == [("A", "127.0.0.10", 5), ("A", "127.0.0.11", 5)]
    with Chaos(SimpleNamespace(dns=server)) as chaos:
        with chaos.inject("dns.ttl_zero", qname="*.amazonaws.com"):
            for tcp in (False, True):
                reply = query(server.address, DDB, tcp=tcp)
                assert reply.header.rcode == RCODE.NOERROR
                assert records(reply) == [("A", "127.0.0.10", 0), ("A", "127.0.0.11", 0)]
            assert records(query(server.address, APP, "AAAA")) == [("AAAA", "::1", 30)]  # not a matching name
            assert server.log.entries(DDB)[-1].faults == ("dns.ttl_zero",)
        assert records(query(server.address, DDB)) == [("A", "127.0.0.10", 5), ("A", "127.0.0.11", 5)]
    assert not server.faults.active


def test_ttl_zero_covers_aaaa_records_and_takes_the_common_options(server: DnsServer) -> None:
    with Chaos(SimpleNamespace(dns=server)) as chaos:
        chaos.inject("dns.ttl_zero", qname=APP, qtype="AAAA")
        assert records(query(server.address, APP, "AAAA")) == [("AAAA", "::1", 0)]
        assert records(query(server.address, APP, "A")) == [("A", "127.0.0.20", 30)]  # qtype filter


def test_a_scenario_names_ttl_zero_like_any_other_fault() -> None:
    scenario = parse_scenario(
        "title: no caching\nload: {duration: 10s, rps: 5}\nsteady_state:\n  - success_rate: {min: 99%}\n"
        f"method:\n  - fault: dns.ttl_zero\n    at: 1s\n    for: 5s\n    options: {{qname: {DDB}}}\n",
        "ttl.yaml",
    )
    assert [(s.name, s.options) for s in scenario.method] == [("dns.ttl_zero", {"qname": DDB})]
