"""The authoritative DNS server over real sockets: answers, negative caching data, transports,
malformed input, binding rules, the query log and faults driven through Chaos."""

from __future__ import annotations

import random
import socket
import struct
from types import SimpleNamespace

import pytest
from dnslib import EDNS0, QTYPE, RCODE, DNSRecord

from faults import create_fault
from clocks import ManualClock
from harness.chaos import Chaos
from harness.dns import DnsServer, Topology
from harness.dns.client import query
from harness.dns.precheck import MAX_QUERY_SIZE
from harness.errors import AddressInUseError, ConfigError, FaultOptionError, HarnessError, UnknownFaultError
from harness.loop_thread import LoopThread
from harness.loopback import LoopbackPool
from harness_dns_env import APP, NAME as DDB
from hostile import pointer_chain


@pytest.fixture
def server(topology: Topology):
    with DnsServer(topology, host=LoopbackPool().take("dns")) as dns:
        yield dns


def udp_exchange(server: DnsServer, *packets: bytes, timeout: float = 2.0) -> bytes:
    """Send packets in order from one socket; return the first reply that arrives."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.settimeout(timeout)
        for packet in packets:
            sock.sendto(packet, server.address)
        return sock.recv(65535)


def tcp_exchange(server: DnsServer, packets: list[bytes]) -> list[DNSRecord]:
    """Several length-prefixed queries over one TCP connection."""
    replies = []
    with socket.create_connection(server.address, timeout=2) as sock:
        stream = sock.makefile("rb")
        for packet in packets:
            sock.sendall(struct.pack("!H", len(packet)) + packet)
            (length,) = struct.unpack("!H", stream.read(2))
            replies.append(DNSRecord.parse(stream.read(length)))
    return replies


def addresses(reply: DNSRecord) -> list[str]:
    return [str(rr.rdata) for rr in reply.rr]


# -- answers ------------------------------------------------------------------------------------
def test_a_records_are_served_authoritatively_with_every_address(server: DnsServer) -> None:
    reply = query(server.address, DDB)
    assert reply.header.rcode == RCODE.NOERROR
    assert reply.header.aa == 1 and reply.header.ra == 0
    assert sorted(addresses(reply)) == ["127.0.0.10", "127.0.0.11", "127.0.0.12"]
    assert {rr.ttl for rr in reply.rr} == {5}


def test_aaaa_records_come_from_ipv6_addresses_only(server: DnsServer) -> None:
    assert addresses(query(server.address, APP, "AAAA")) == ["::1"]
    assert addresses(query(server.address, APP, "A")) == ["127.0.0.20"]


def test_names_are_case_insensitive_and_trailing_dot_tolerant(server: DnsServer, topology: Topology) -> None:
    assert len(query(server.address, "DynamoDB.US-East-1.AmazonAWS.com.").rr) == 3
    topology.set("Mixed.Chaos.Test.", ["127.0.0.30"])
    assert addresses(query(server.address, "mixed.chaos.test")) == ["127.0.0.30"]


def test_nxdomain_carries_the_zone_soa_at_the_negative_ttl(server: DnsServer) -> None:
    reply = query(server.address, "nope.amazonaws.com")
    assert reply.header.rcode == RCODE.NXDOMAIN and reply.header.aa == 1
    assert reply.rr == []
    (soa,) = reply.auth
    assert soa.rtype == QTYPE.SOA and str(soa.rname) == "amazonaws.com."
    assert soa.rdata.times[-1] == 86400  # Route 53's SOA MINIMUM
    assert soa.ttl == 900  # min(SOA TTL 900, MINIMUM 86400), RFC 2308


def test_negative_ttl_is_the_smaller_of_soa_ttl_and_minimum() -> None:
    topo = Topology(zones=["chaos.test"], soa_ttl=300, soa_minimum=60)
    with DnsServer(topo) as dns:
        (soa,) = query(dns.address, "missing.chaos.test").auth
    assert soa.ttl == 60 and soa.rdata.times[-1] == 60


def test_existing_name_without_that_type_is_nodata(server: DnsServer, topology: Topology) -> None:
    topology.set("v4only.chaos.test", ["127.0.0.40"])
    for name, qtype in [("v4only.chaos.test", "AAAA"), (DDB, "MX"), ("us-east-1.amazonaws.com", "A")]:
        reply = query(server.address, name, qtype)
        assert (reply.header.rcode, len(reply.rr)) == (RCODE.NOERROR, 0), (name, qtype)
        assert [rr.rtype for rr in reply.auth] == [QTYPE.SOA]
        assert reply.auth[0].ttl == 900


def test_names_outside_every_zone_are_refused(server: DnsServer) -> None:
    reply = query(server.address, "example.org")
    assert reply.header.rcode == RCODE.REFUSED
    assert reply.rr == [] and reply.header.aa == 0


def test_zone_apex_answers_soa_and_ns(server: DnsServer) -> None:
    soa = query(server.address, "chaos.test", "SOA")
    assert [rr.rtype for rr in soa.rr] == [QTYPE.SOA] and soa.rr[0].ttl == 900
    ns = query(server.address, "chaos.test", "NS")
    assert [str(rr.rdata) for rr in ns.rr] == ["ns1.chaos.test."]


def test_record_changes_show_on_the_very_next_query(server: DnsServer, topology: Topology) -> None:
    for _ in range(2):  # second query is answered from the server's packed-reply cache
        assert len(query(server.address, DDB).rr) == 3
    topology.set(DDB, ["127.0.0.99"])
    assert addresses(query(server.address, DDB)) == ["127.0.0.99"]
    topology.remove(DDB)
    assert query(server.address, DDB).header.rcode == RCODE.NXDOMAIN
    topology.set(DDB, [])
    reply = query(server.address, DDB)
    assert (reply.header.rcode, reply.rr) == (RCODE.NOERROR, [])


def test_repeated_queries_get_their_own_id_and_keep_edns(server: DnsServer) -> None:
    request = DNSRecord.question(DDB)
    request.add_ar(EDNS0(udp_len=4096, flags="do"))
    replies = []
    for query_id in (0x1111, 0x2222, 0x3333):  # the 2nd and 3rd come from the packed-reply cache
        request.header.id = query_id
        replies.append(udp_exchange(server, request.pack()))
    assert [r[:2] for r in replies] == [b"\x11\x11", b"\x22\x22", b"\x33\x33"]
    assert replies[1][2:] == replies[0][2:] == replies[2][2:]
    opt = DNSRecord.parse(replies[2]).ar[0]
    assert opt.rtype == QTYPE.OPT and opt.ttl & 0x8000  # DO bit echoed (RFC 3225)


def test_topology_rejects_names_outside_zones_and_bad_addresses(topology: Topology) -> None:
    with pytest.raises(ConfigError, match="outside the served zones"):
        topology.set("example.org", ["127.0.0.1"])
    with pytest.raises(ConfigError, match="not an IPv4 or IPv6 address"):
        topology.set(APP, ["127.0.0.300"])


def test_edns_queries_get_an_opt_record_and_unknown_versions_badvers(server: DnsServer) -> None:
    reply = query(server.address, DDB, edns=True)
    (opt,) = reply.ar
    assert opt.rtype == QTYPE.OPT and opt.rclass == 1232 and len(reply.rr) == 3
    request = DNSRecord.question(DDB)
    request.add_ar(EDNS0(version=1, udp_len=1232))
    reply = DNSRecord.parse(udp_exchange(server, request.pack()))
    assert (reply.ar[0].ttl >> 24) == 1 and reply.rr == []  # extended rcode 16 = BADVERS
    assert server.log.entries()[-1].rcode == "BADVERS"


def test_large_answers_are_truncated_over_udp_and_complete_over_tcp(server: DnsServer, topology: Topology) -> None:
    many = [f"127.0.1.{i}" for i in range(1, 61)]
    topology.set("big.chaos.test", many)
    udp = query(server.address, "big.chaos.test")
    assert udp.header.tc == 1 and udp.rr == []
    assert sorted(addresses(query(server.address, "big.chaos.test", tcp=True))) == sorted(many)


def test_tcp_serves_several_queries_per_connection(server: DnsServer) -> None:
    replies = tcp_exchange(server, [DNSRecord.question(DDB).pack(), DNSRecord.question(APP, "AAAA").pack(),
                                    DNSRecord.question("nope.chaos.test").pack()])
    assert [len(r.rr) for r in replies] == [3, 1, 0]
    assert replies[2].header.rcode == RCODE.NXDOMAIN
    assert {e.transport for e in server.log.entries()} == {"tcp"}


# -- malformed input ----------------------------------------------------------------------------
def test_header_only_garbage_gets_formerr_with_the_same_id(server: DnsServer) -> None:
    garbage = b"\x12\x34" + b"\x01\x00" + b"\xff" * 8  # claims 65535 questions, has none
    reply = udp_exchange(server, garbage)
    assert reply[:2] == b"\x12\x34"
    header = DNSRecord.parse(reply).header
    assert (header.qr, header.rcode) == (1, RCODE.FORMERR)


def test_short_packets_are_dropped_and_the_server_keeps_serving(server: DnsServer) -> None:
    valid = DNSRecord.question(DDB)
    reply = DNSRecord.parse(udp_exchange(server, b"\x01\x02\x03", b"", valid.pack()))
    assert reply.header.id == valid.header.id and len(reply.rr) == 3
    dropped = server.log.wait_for(lambda: [e for e in server.log.entries() if e.dropped], 2, "dropped entries")
    assert len(dropped) >= 1 and dropped[0].name == ""


def test_random_bytes_never_crash_or_stall_the_server(server: DnsServer) -> None:
    rng = random.Random(1234)
    for size in [1, 11, 12, 13, 40, 300, 1200]:
        junk = bytes(rng.randrange(256) for _ in range(size))
        junk = junk[:2] + bytes([junk[2] & 0x7F]) + junk[3:] if size > 2 else junk  # a query, not a response
        valid = DNSRecord.question(APP)
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
            sock.settimeout(2)
            sock.sendto(junk, server.address)
            sock.sendto(valid.pack(), server.address)
            replies = [sock.recv(65535)]
            if replies[0][:2] != valid.pack()[:2]:
                replies.append(sock.recv(65535))
        assert DNSRecord.parse(replies[-1]).rr, f"server stopped answering after {size} random bytes"
        if len(replies) == 2:  # the junk was answered: always with a header-only error, same id
            assert replies[0][:2] == junk[:2] and replies[0][2] & 0x80


def test_qdcount_other_than_one_is_formerr_and_other_opcodes_notimp(server: DnsServer) -> None:
    two = DNSRecord.question(DDB)
    two.add_question(DNSRecord.question(APP).q)
    assert DNSRecord.parse(udp_exchange(server, two.pack())).header.rcode == RCODE.FORMERR
    notify = bytearray(DNSRecord.question(DDB).pack())
    notify[2] = 4 << 3  # opcode NOTIFY
    assert DNSRecord.parse(udp_exchange(server, bytes(notify))).header.rcode == RCODE.NOTIMP
    assert [e.rcode for e in server.log.entries()] == ["FORMERR", "NOTIMP"]


def test_malformed_tcp_message_gets_formerr_and_the_connection_keeps_working(server: DnsServer) -> None:
    garbage = b"\xab\xcd\x00\x00\x00\x01\x00\x00\x00\x00\x00\x00\x3fabc"  # label runs past the end
    bad, good = tcp_exchange(server, [garbage, DNSRecord.question(DDB).pack()])
    assert bad.header.id == 0xABCD and bad.header.rcode == RCODE.FORMERR
    assert len(good.rr) == 3


# -- binding ------------------------------------------------------------------------------------
@pytest.mark.parametrize("host", ["0.0.0.0", "10.1.2.3", "::"])
def test_non_loopback_bind_is_refused(topology: Topology, host: str) -> None:
    with pytest.raises(ConfigError, match="non-loopback"):
        DnsServer(topology, host=host)


def test_port_in_use_is_a_one_line_error(server: DnsServer, topology: Topology) -> None:
    with pytest.raises(AddressInUseError) as info:
        DnsServer(topology, host=server.host, port=server.port).start()
    assert "\n" not in str(info.value) and f"{server.host}:{server.port}" in str(info.value)


def test_udp_and_tcp_share_the_port_and_a_given_loop_is_left_running(topology: Topology) -> None:
    with LoopThread() as loop:
        dns = DnsServer(topology, loop=loop).start()
        try:
            assert dns.host == "127.0.0.1" and dns.port > 0
            assert len(query(dns.address, DDB, tcp=True).rr) == len(query(dns.address, DDB).rr) == 3
        finally:
            dns.stop()
        assert loop.running


def test_serve_sockets_answers_on_sockets_bound_elsewhere_and_closes_them(server: DnsServer) -> None:
    host = LoopbackPool().take("elsewhere")  # an address of its own: the TCP twin of the port is free
    udp = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    udp.bind((host, 0))
    tcp = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    tcp.bind((host, udp.getsockname()[1]))
    server.serve_sockets(udp, tcp)
    other = udp.getsockname()
    assert len(query(other, DDB).rr) == 3
    assert len(query(other, DDB, tcp=True).rr) == 3
    server.stop()
    assert udp.fileno() == -1 and tcp.fileno() == -1


# -- faults and the log -------------------------------------------------------------------------
def test_unknown_fault_and_bad_options_are_one_line_errors() -> None:
    with pytest.raises(UnknownFaultError, match="unknown fault 'dns.nxdomian'"):
        create_fault("dns.nxdomian")
    with pytest.raises(FaultOptionError, match="probability must be between 0 and 1"):
        create_fault("dns.nxdomain", probability=1.5)
    with pytest.raises(FaultOptionError, match="'latency' must be a positive"):
        create_fault("dns.delay", latency=-1)
    with pytest.raises(FaultOptionError, match="unknown record type 'BOGUS'"):
        create_fault("dns.servfail", qtype="bogus")
    for exc_type, make in [(UnknownFaultError, lambda: create_fault("dns.nope")),
                           (FaultOptionError, lambda: create_fault("dns.wrong_address", addresses=["x"]))]:
        with pytest.raises(HarnessError) as info:
            make()
        assert isinstance(info.value, exc_type) and "\n" not in str(info.value)


def test_query_log_records_what_was_asked_and_answered(server: DnsServer) -> None:
    query(server.address, DDB)
    query(server.address, DDB)
    query(server.address, APP, "AAAA", tcp=True)
    query(server.address, "nope.chaos.test")
    with Chaos(SimpleNamespace(dns=server)) as chaos:
        chaos.inject("dns.nxdomain", {"name": APP})
        query(server.address, APP)
    first, _, third, fourth, fifth = server.log.entries()
    assert (first.name, first.qtype, first.transport, first.rcode) == (DDB, "A", "udp", "NOERROR")
    assert sorted(first.answers) == ["127.0.0.10", "127.0.0.11", "127.0.0.12"]
    assert first.client[0] == "127.0.0.1" and first.wall > 0 and first.monotonic > 0
    assert (third.transport, third.answers) == ("tcp", ("::1",))
    assert (fourth.rcode, fourth.answers) == ("NXDOMAIN", ())
    assert (fifth.rcode, fifth.faults, fifth.dropped) == ("NXDOMAIN", ("dns.nxdomain",), False)
    assert server.log.count() == 5 and server.log.count(DDB.upper() + ".") == 2
    assert server.log.count(APP, "AAAA") == 1 and server.log.count(qtype="A") == 4
    assert [e.name for e in server.log.entries(APP)] == [APP, APP]


def test_log_counts_stay_exact_beyond_the_window(topology: Topology) -> None:
    with DnsServer(topology, log_size=3) as dns:
        for _ in range(5):
            query(dns.address, DDB)
        assert len(dns.log.entries()) == 3 and dns.log.count(DDB) == 5


def test_reset_clears_faults_and_log(server: DnsServer) -> None:
    create_fault("dns.servfail").start(SimpleNamespace(dns=server))
    assert query(server.address, DDB).header.rcode == RCODE.SERVFAIL
    server.reset()
    assert server.log.count() == 0 and not server.faults.active
    assert len(query(server.address, DDB).rr) == 3


def test_chaos_stacks_faults_and_clears_them_one_by_one_or_all(server: DnsServer) -> None:
    chaos = Chaos(SimpleNamespace(dns=server))
    wrong = chaos.inject("dns.wrong_address", addresses=["127.0.0.77"])
    chaos.inject("dns.servfail", qtype="AAAA")
    chaos.inject("dns.nxdomain", {"name": "*.chaos.test"})
    assert addresses(query(server.address, DDB)) == ["127.0.0.77"]
    assert query(server.address, DDB, "AAAA").header.rcode == RCODE.SERVFAIL
    assert query(server.address, APP).header.rcode == RCODE.NXDOMAIN  # later fault wins
    wrong.clear()
    assert len(query(server.address, DDB).rr) == 3
    assert query(server.address, APP).header.rcode == RCODE.NXDOMAIN
    chaos.clear_all()
    assert not server.faults.active
    assert len(query(server.address, DDB, "A").rr) == 3 and query(server.address, APP).rr


def test_a_fault_with_a_duration_clears_itself(server: DnsServer) -> None:
    clock = ManualClock()
    with Chaos(SimpleNamespace(dns=server), clock=clock) as chaos:
        handle = chaos.inject("dns.refused", duration=1.0)
        assert query(server.address, DDB).header.rcode == RCODE.REFUSED  # however slowly this runs
        clock.advance(1.0)
        handle.wait_cleared(5)
        assert not server.faults.active
        assert len(query(server.address, DDB).rr) == 3


def test_a_fault_needs_a_running_dns_server() -> None:
    with pytest.raises(HarnessError, match="needs the DNS server"):
        Chaos(SimpleNamespace(dns=None)).inject("dns.timeout")


# -- hostile packets (issue 12) -------------------------------------------------------------------
def question_with_name(wire_name: bytes, arcount: int = 0, additional: bytes = b"") -> bytes:
    return struct.pack("!HHHHHH", 0x5151, 0x0100, 1, 0, 0, arcount) + wire_name + b"\x00\x01\x00\x01" + additional


def opt_record() -> bytes:
    return b"\x00" + struct.pack("!HHIH", 41, 1232, 0, 0)


class ParseSpy(DNSRecord):
    """``DNSRecord`` for the server module, recording every packet the server hands to dnslib."""

    parsed: list[bytes] = []

    @classmethod
    def parse(cls, packet: bytes) -> DNSRecord:
        cls.parsed.append(packet)
        return DNSRecord.parse(packet)


@pytest.mark.parametrize("size", [10_800, 4_800, 4_000])
def test_pointer_chain_queries_are_formerr_and_the_shared_loop_keeps_serving(
        topology: Topology, size: int, monkeypatch: pytest.MonkeyPatch) -> None:
    """The chain never reaches dnslib (whose quadratic decoding held the loop for seconds)."""
    from harness.toxiproxy.server import EmbeddedToxiproxy
    import harness.dns.server
    import http.client

    monkeypatch.setattr(harness.dns.server, "DNSRecord", ParseSpy)
    monkeypatch.setattr(ParseSpy, "parsed", [])
    hostile = pointer_chain(size)
    loop = LoopThread("test-shared").start()
    host = LoopbackPool().take("dns")
    try:
        with DnsServer(topology, host=host, loop=loop) as dns, EmbeddedToxiproxy(host, loop=loop) as api:
            with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
                sock.settimeout(2)  # before the fix the reply took 6.5 s
                sock.sendto(hostile, dns.address)
                conn = http.client.HTTPConnection(host, api.port, timeout=2)  # the API was blocked 3.4 s
                conn.request("GET", "/version")
                assert conn.getresponse().status == 200
                conn.close()
                reply = DNSRecord.parse(sock.recv(65535))
            assert (reply.header.id, reply.header.rcode) == (0x4242, RCODE.FORMERR)
            assert DNSRecord.parse(udp_exchange(dns, DNSRecord.question(DDB).pack())).rr
            assert hostile[:MAX_QUERY_SIZE + 1] not in ParseSpy.parsed and len(ParseSpy.parsed) == 1
    finally:
        loop.close()


def test_pointer_loops_overlong_labels_and_names_are_formerr(server: DnsServer) -> None:
    loop = b"\x01a\xc0\x0c"  # "a" then a pointer back to itself: endless without a hop limit
    long_label = bytes([64]) + b"x" * 64 + b"\x00"
    long_name = b"".join(bytes([63]) + b"y" * 63 for _ in range(4)) + b"\x00"  # 257 bytes
    forward = b"\xc0\x20" + b"\x00" * 30  # a pointer to a later offset
    for name in (loop, long_label, long_name, forward):
        reply = DNSRecord.parse(udp_exchange(server, question_with_name(name)))
        assert (reply.header.id, reply.header.rcode) == (0x5151, RCODE.FORMERR), name[:8]
    _, reply = tcp_exchange(server, [question_with_name(long_name), DNSRecord.question(DDB).pack()])
    assert len(reply.rr) == 3
    assert [e.rcode for e in server.log.entries()] == ["FORMERR"] * 5 + ["NOERROR"]


def test_two_opt_records_are_formerr_and_one_is_fine(server: DnsServer) -> None:
    name = b"\x03app\x05chaos\x04test\x00"
    one = DNSRecord.parse(udp_exchange(server, question_with_name(name, 1, opt_record())))
    two = DNSRecord.parse(udp_exchange(server, question_with_name(name, 2, opt_record() * 2)))
    assert one.header.rcode == RCODE.NOERROR and [str(rr.rdata) for rr in one.rr] == ["127.0.0.20"]
    assert two.header.rcode == RCODE.FORMERR


def test_queries_with_answer_records_or_oversized_datagrams_are_formerr(server: DnsServer) -> None:
    with_answer = bytearray(DNSRecord.question(DDB).pack())
    with_answer[7] = 1  # ancount 1, no record behind it
    oversized = DNSRecord.question(DDB).pack() + b"\x00" * 5000
    for packet in (bytes(with_answer), oversized):
        assert DNSRecord.parse(udp_exchange(server, packet)).header.rcode == RCODE.FORMERR
