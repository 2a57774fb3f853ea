"""Every DNS fault as a real client sees it: ``dig`` against the harness's DNS server."""

from __future__ import annotations

import re
import subprocess
from dataclasses import dataclass, field
from types import SimpleNamespace

import pytest

from harness.chaos import Chaos
from harness.dns import DnsServer, Topology
from harness.loopback import LoopbackPool
from conftest import require_tool
from harness_dns_env import APP, WEST, NAME as DDB


@dataclass
class DigAnswer:
    status: str
    flags: set[str]
    answers: list[str]  # rdata of the answer section
    authority: list[str]  # record types in the authority section
    msec: int
    transport: str  # "UDP" or "TCP"


@dataclass
class DigRun:
    returncode: int
    output: str
    replies: list[DigAnswer] = field(default_factory=list)


def parse_dig(output: str) -> list[DigAnswer]:
    replies = []
    for block in output.split(";; Got answer:")[1:]:
        status = re.search(r"status: (\w+)", block).group(1)
        flags = set(re.search(r";; flags: ([^;]*);", block).group(1).split())
        sections: dict[str, list[list[str]]] = {}
        for title, body in re.findall(r";; (\w+) SECTION:\n(.*?)(?:\n\n|\Z)", block, re.S):
            sections[title] = [line.split() for line in body.splitlines() if line and not line.startswith(";")]
        replies.append(DigAnswer(
            status=status,
            flags=flags,
            answers=[" ".join(rr[4:]) for rr in sections.get("ANSWER", [])],
            authority=[rr[3] for rr in sections.get("AUTHORITY", [])],
            msec=int(re.search(r"Query time: (\d+) msec", block).group(1)),
            transport=re.search(r";; SERVER: .*\((UDP|TCP)\)", block).group(1),
        ))
    return replies


@pytest.fixture(scope="module")
def dig_path() -> str:
    return require_tool("dig")


@pytest.fixture
def dns(topology: Topology):
    with DnsServer(topology, host=LoopbackPool().take("dns")) as server:
        yield server


@pytest.fixture
def chaos(dns: DnsServer):
    with Chaos(SimpleNamespace(dns=dns)) as c:
        yield c


@pytest.fixture
def dig(dig_path: str, dns: DnsServer):
    """dig @server with short timeouts; ``*queries`` are "name" or "name TYPE" strings."""

    def run(*queries: str, options: tuple[str, ...] = ()) -> DigRun:
        args = [dig_path, f"@{dns.host}", "-p", str(dns.port), "+norec", "+time=1", "+tries=1", *options]
        for q in queries:
            args += q.split()
        done = subprocess.run(args, capture_output=True, text=True, timeout=30)
        return DigRun(done.returncode, done.stdout + done.stderr, parse_dig(done.stdout))

    return run


def one(run: DigRun) -> DigAnswer:
    assert run.returncode == 0 and len(run.replies) == 1, run.output
    return run.replies[0]


def test_without_faults_dig_gets_the_records(dig) -> None:
    reply = one(dig(DDB))
    assert (reply.status, sorted(reply.answers)) == ("NOERROR", ["127.0.0.10", "127.0.0.11", "127.0.0.12"])
    assert "aa" in reply.flags and "ra" not in reply.flags


def test_empty_answer_is_authoritative_noerror_with_no_records(dig, chaos) -> None:
    chaos.inject("dns.empty_answer", {"name": DDB})
    reply = one(dig(DDB))
    assert (reply.status, reply.answers, reply.authority) == ("NOERROR", [], ["SOA"])
    assert "aa" in reply.flags
    assert one(dig(WEST)).answers == ["127.0.0.13"]


def test_empty_answer_without_soa_is_bare(dig, chaos) -> None:
    chaos.inject("dns.empty_answer", soa=False)
    reply = one(dig(DDB))
    assert (reply.status, reply.answers, reply.authority) == ("NOERROR", [], [])


@pytest.mark.parametrize(
    ("fault", "status", "authority"),
    [("dns.nxdomain", "NXDOMAIN", ["SOA"]), ("dns.servfail", "SERVFAIL", []), ("dns.refused", "REFUSED", [])],
)
def test_error_rcodes(dig, chaos, fault: str, status: str, authority: list[str]) -> None:
    chaos.inject(fault)
    reply = one(dig(DDB, options=("+nofail",)))  # +nofail: report SERVFAIL instead of giving up
    assert (reply.status, reply.answers, reply.authority) == (status, [], authority)


def test_timeout_gets_no_answer(dig, chaos, dns: DnsServer) -> None:
    chaos.inject("dns.timeout", {"name": DDB})
    run = dig(DDB)
    assert run.returncode == 9 and run.replies == [], run.output
    assert "timed out" in run.output
    (entry,) = dns.log.entries(DDB)
    assert entry.dropped and entry.faults == ("dns.timeout",)
    assert one(dig(WEST)).status == "NOERROR"


def test_delay_holds_the_answer_back(dig, chaos, dns: DnsServer) -> None:
    chaos.inject("dns.delay", latency=0.3)
    reply = one(dig(DDB))
    assert reply.msec >= 290 and len(reply.answers) == 3  # dig truncates to whole ms
    assert dns.log.entries()[-1].delay == pytest.approx(0.3)


def test_delay_does_not_block_other_queries(dig, chaos, dns: DnsServer) -> None:
    chaos.inject("dns.delay", {"name": DDB, "latency": 0.5})
    slow = subprocess.Popen(["dig", f"@{dns.host}", "-p", str(dns.port), "+norec", DDB],
                            stdout=subprocess.PIPE, text=True)
    try:
        dns.changed.wait_for(lambda: dns.held, 5, "the delayed answer to be held back")
        assert one(dig(WEST)).msec < 300  # answered while the other reply is still held back
    finally:
        out, _ = slow.communicate(timeout=10)
    assert parse_dig(out)[0].msec >= 490
    assert dns.changed.wait_for(lambda: dns.held == 0, 5, "no reply held back")


def test_wrong_address_answers_other_addresses_by_family(dig, chaos) -> None:
    chaos.inject("dns.wrong_address", {"name": APP})
    assert one(dig(APP)).answers == ["127.255.255.254"]
    aaaa = one(dig(f"{APP} AAAA"))
    assert (aaaa.status, aaaa.answers, aaaa.authority) == ("NOERROR", [], ["SOA"])
    chaos.clear_all()
    chaos.inject("dns.wrong_address", addresses=["127.0.0.66", "::2"])
    assert one(dig(APP)).answers == ["127.0.0.66"]
    assert one(dig(f"{APP} AAAA")).answers == ["::2"]


def test_truncate_sets_tc_over_udp_and_tcp_answers(dig, chaos, dns: DnsServer) -> None:
    chaos.inject("dns.truncate")
    udp = one(dig(DDB, options=("+ignore", "+notcp")))
    assert "tc" in udp.flags and udp.answers == [] and udp.transport == "UDP"
    dns.log.clear()
    retried = one(dig(DDB))  # plain dig retries over TCP on TC
    assert retried.transport == "TCP" and len(retried.answers) == 3 and "tc" not in retried.flags
    assert [(e.transport, e.faults) for e in dns.log.entries()] == [("udp", ("dns.truncate",)), ("tcp", ())]


def test_probability_with_a_seed_gives_a_repeatable_pattern(dig, chaos, dns: DnsServer) -> None:
    queries = [DDB] * 16

    def pattern() -> list[str]:
        handle = chaos.inject("dns.nxdomain", probability=0.5, seed=7)
        try:
            run = dig(*queries)
        finally:
            handle.clear()
        assert len(run.replies) == len(queries), run.output
        return [r.status for r in run.replies]

    first = pattern()
    assert set(first) == {"NOERROR", "NXDOMAIN"}
    assert pattern() == first
    affected = [e.faults == ("dns.nxdomain",) for e in dns.log.entries()]
    assert affected == [s == "NXDOMAIN" for s in first + first]


def test_name_patterns_and_qtype_filters_select_queries(dig, chaos) -> None:
    chaos.inject("dns.servfail", {"name": "*.us-east-1.amazonaws.com", "qtype": "A"})
    chaos.inject("dns.nxdomain", {"name": ["app.chaos.test", "other.chaos.test"], "qtype": ["AAAA"]})
    got = dig(DDB, f"{DDB} AAAA", WEST, APP, f"{APP} AAAA", options=("+nofail",))
    assert [r.status for r in got.replies] == ["SERVFAIL", "NOERROR", "NOERROR", "NOERROR", "NXDOMAIN"]
    assert got.replies[3].answers == ["127.0.0.20"]
