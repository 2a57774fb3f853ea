"""The in-process resolver hook: harness names go to the harness DNS server, glibc-style."""

from __future__ import annotations

import socket
import threading
from collections import Counter

import pytest
from dnslib import A as ARecord
from dnslib import QTYPE, RR, DNSRecord

from harness.errors import ConfigError
from harness.resolver import DnsCache, HarnessResolver, ResolverOptions, use_harness_dns
from harness_dns_env import NAME, DnsEnv

FAST = ResolverOptions(timeout=0.2, attempts=2)


def addresses(results: list[tuple]) -> list[str]:
    return [sockaddr[0] for *_, sockaddr in results]


def gai_code(fn, *args, **kw) -> int:
    with pytest.raises(socket.gaierror) as info:
        fn(*args, **kw)
    return info.value.errno


def test_managed_name_is_resolved_by_the_harness_server(dns_env: DnsEnv) -> None:
    node = dns_env.pool.take("node-1")
    dns_env.topology.set(NAME, [node])
    with use_harness_dns(dns_env.server.address, ["amazonaws.com"], FAST):
        results = socket.getaddrinfo(NAME, 443, type=socket.SOCK_STREAM)
    assert results == [(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP, "", (node, 443))]
    assert dns_env.queries() == [("udp", "A"), ("udp", "AAAA")]


def test_family_decides_the_queries(dns_env: DnsEnv) -> None:
    dns_env.topology.set(NAME, [dns_env.pool.take("node-1"), "::1"])
    with use_harness_dns(dns_env.server.address, ["amazonaws.com"], FAST):
        v4 = socket.getaddrinfo(NAME, 80, socket.AF_INET, socket.SOCK_STREAM)
        assert dns_env.queries() == [("udp", "A")]
        dns_env.server.log.clear()
        v6 = socket.getaddrinfo(NAME, 80, socket.AF_INET6, socket.SOCK_STREAM)
        assert dns_env.queries() == [("udp", "AAAA")]
        both = socket.getaddrinfo(NAME, 80, socket.AF_UNSPEC, socket.SOCK_STREAM)
    assert addresses(v4) == [dns_env.pool.assigned["node-1"]]
    assert v6 == [(socket.AF_INET6, socket.SOCK_STREAM, socket.IPPROTO_TCP, "", ("::1", 80, 0, 0))]
    assert addresses(both) == ["::1", dns_env.pool.assigned["node-1"]]  # glibc: usable IPv6 first


def test_result_tuples_match_the_system_for_every_type_and_flag(dns_env: DnsEnv) -> None:
    node = dns_env.pool.take("node-1")
    dns_env.topology.set(NAME, [node])
    system = socket.getaddrinfo
    cases = [((443,), {}), (("https",), {"type": socket.SOCK_STREAM}), ((53,), {"type": socket.SOCK_DGRAM}),
             ((None,), {"proto": socket.IPPROTO_UDP}), (("80",), {"flags": socket.AI_NUMERICSERV})]
    with use_harness_dns(dns_env.server.address, ["amazonaws.com"], FAST):
        for args, kw in cases:
            assert socket.getaddrinfo(NAME, *args, **kw) == system(node, *args, **kw), (args, kw)
        canon = socket.getaddrinfo(NAME, 80, socket.AF_INET, socket.SOCK_STREAM, 0, socket.AI_CANONNAME)
        assert canon[0][3] == NAME
        # Service and socket-type errors are the system's own, raised before any query.
        dns_env.server.log.clear()
        assert gai_code(socket.getaddrinfo, NAME, "no-such-service") == gai_code(system, node, "no-such-service")
        assert gai_code(socket.getaddrinfo, NAME, 80, flags=socket.AI_NUMERICHOST) == socket.EAI_NONAME
        assert dns_env.queries() == []


def test_other_names_and_numeric_hosts_go_to_the_system(dns_env: DnsEnv) -> None:
    with use_harness_dns(dns_env.server.address, ["amazonaws.com"], FAST):
        assert addresses(socket.getaddrinfo("localhost", 80, socket.AF_INET, socket.SOCK_STREAM)) == ["127.0.0.1"]
        assert socket.gethostbyname("127.0.0.7") == "127.0.0.7"
        assert addresses(socket.getaddrinfo("::1", 80, type=socket.SOCK_STREAM)) == ["::1"]
    assert dns_env.server.log.count() == 0


def test_originals_are_restored_after_nesting_errors_and_threads(dns_env: DnsEnv) -> None:
    originals = (socket.getaddrinfo, socket.gethostbyname, socket.gethostbyname_ex)
    node = dns_env.pool.take("node-1")
    dns_env.topology.set(NAME, [node])
    with pytest.raises(RuntimeError):
        with use_harness_dns(dns_env.server.address, ["amazonaws.com"], FAST):
            with use_harness_dns(dns_env.server.address, ["example.test"], FAST):
                assert socket.gethostbyname(NAME) == node
            assert socket.getaddrinfo is not originals[0]
            raise RuntimeError("boom")
    assert (socket.getaddrinfo, socket.gethostbyname, socket.gethostbyname_ex) == originals

    results: list[str] = []
    errors: list[BaseException] = []
    start = threading.Barrier(4)

    def worker() -> None:
        try:
            start.wait()
            for _ in range(5):
                with use_harness_dns(dns_env.server.address, ["amazonaws.com"], FAST):
                    results.append(socket.gethostbyname(NAME))
        except BaseException as exc:  # reported below
            errors.append(exc)

    threads = [threading.Thread(target=worker) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == [] and results == [node] * 20
    assert (socket.getaddrinfo, socket.gethostbyname, socket.gethostbyname_ex) == originals


def test_gethostbyname_and_ex(dns_env: DnsEnv) -> None:
    nodes = [dns_env.pool.take("node-1"), dns_env.pool.take("node-2")]
    dns_env.topology.set(NAME, nodes)
    with use_harness_dns(dns_env.server.address, ["amazonaws.com"], FAST):
        assert socket.gethostbyname(NAME.upper() + ".") == nodes[0]
        assert socket.gethostbyname_ex(NAME) == (NAME, [], nodes)
        assert dns_env.server.log.count(qtype="AAAA") == 0  # CPython resolves these with AF_INET
        with dns_env.chaos.inject("dns.nxdomain"):
            assert gai_code(socket.gethostbyname, NAME) == socket.EAI_NONAME
            assert gai_code(socket.gethostbyname_ex, NAME) == socket.EAI_NONAME


@pytest.mark.parametrize(("fault", "options", "code", "queries"), [
    ("dns.empty_answer", {}, socket.EAI_NODATA, {("udp", "A"): 1, ("udp", "AAAA"): 1}),
    ("dns.nxdomain", {}, socket.EAI_NONAME, {("udp", "A"): 1, ("udp", "AAAA"): 1}),
    ("dns.servfail", {}, socket.EAI_AGAIN, {("udp", "A"): 2, ("udp", "AAAA"): 2}),
    ("dns.refused", {}, socket.EAI_AGAIN, {("udp", "A"): 2, ("udp", "AAAA"): 2}),
    ("dns.timeout", {}, socket.EAI_AGAIN, {("udp", "A"): 2, ("udp", "AAAA"): 2}),
    ("dns.servfail", {"qtype": "A"}, socket.EAI_NODATA, {("udp", "A"): 1, ("udp", "AAAA"): 1}),
    ("dns.nxdomain", {"qtype": "A"}, socket.EAI_NONAME, {("udp", "A"): 1, ("udp", "AAAA"): 1}),
    # glibc: one reply, then single-request mode, then a reopened socket, then the next attempt.
    ("dns.timeout", {"qtype": "A"}, socket.EAI_AGAIN, {("udp", "A"): 3, ("udp", "AAAA"): 1}),
])
def test_fault_gives_glibc_error_and_attempts(dns_env: DnsEnv, fault: str, options: dict, code: int,
                                              queries: dict) -> None:
    dns_env.topology.set(NAME, [dns_env.pool.take("node-1")])
    with use_harness_dns(dns_env.server.address, ["amazonaws.com"], FAST), dns_env.chaos.inject(fault, **options):
        assert gai_code(socket.getaddrinfo, NAME, 443) == code
    assert Counter(dns_env.queries()) == queries


def test_one_family_failing_still_gives_the_other(dns_env: DnsEnv) -> None:
    node = dns_env.pool.take("node-1")
    dns_env.topology.set(NAME, [node])
    with use_harness_dns(dns_env.server.address, ["amazonaws.com"], FAST):
        with dns_env.chaos.inject("dns.timeout", qtype="AAAA"):
            assert addresses(socket.getaddrinfo(NAME, 443, type=socket.SOCK_STREAM)) == [node]
        # glibc waited three times for the AAAA reply (normal, single-request, reopened socket).
        assert Counter(dns_env.queries()) == {("udp", "A"): 3, ("udp", "AAAA"): 3}
        dns_env.server.log.clear()
        with dns_env.chaos.inject("dns.servfail", qtype="AAAA"):
            assert addresses(socket.getaddrinfo(NAME, 443, type=socket.SOCK_STREAM)) == [node]
        assert gai_code(socket.getaddrinfo, NAME, 443, socket.AF_INET6) == socket.EAI_NODATA


def test_truncated_answers_are_retried_over_tcp(dns_env: DnsEnv) -> None:
    node = dns_env.pool.take("node-1")
    dns_env.topology.set(NAME, [node])
    with use_harness_dns(dns_env.server.address, ["amazonaws.com"], FAST), dns_env.chaos.inject("dns.truncate"):
        assert addresses(socket.getaddrinfo(NAME, 443, type=socket.SOCK_STREAM)) == [node]
    assert Counter(dns_env.queries()) == {("udp", "A"): 1, ("udp", "AAAA"): 1, ("tcp", "A"): 1, ("tcp", "AAAA"): 1}


def test_delays_against_timeout_and_attempts(dns_env: DnsEnv) -> None:
    node = dns_env.pool.take("node-1")
    dns_env.topology.set(NAME, [node])
    with use_harness_dns(dns_env.server.address, ["amazonaws.com"], FAST):
        with dns_env.chaos.inject("dns.delay", latency=0.05):
            assert socket.gethostbyname(NAME) == node
        assert dns_env.queries() == [("udp", "A")]
        # Longer than one attempt: the late reply to attempt 1 is accepted during attempt 2.
        with dns_env.chaos.inject("dns.delay", latency=0.3):
            assert socket.gethostbyname(NAME) == node
        # Longer than every attempt together: EAI_AGAIN.
        with dns_env.chaos.inject("dns.delay", latency=0.6):
            assert gai_code(socket.gethostbyname, NAME) == socket.EAI_AGAIN


def test_wrong_address_is_returned(dns_env: DnsEnv) -> None:
    dns_env.topology.set(NAME, [dns_env.pool.take("node-1")])
    other = dns_env.pool.take("elsewhere")
    with use_harness_dns(dns_env.server.address, ["amazonaws.com"], FAST), \
            dns_env.chaos.inject("dns.wrong_address", addresses=[other]):
        assert socket.gethostbyname(NAME) == other


def test_replies_with_a_wrong_id_are_ignored_and_ids_are_random(dns_env: DnsEnv) -> None:
    """A hand-written server that first answers with a forged id (and a different address)."""
    server = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    server.bind((dns_env.pool.take("spoof"), 0))
    seen: list[int] = []

    def answer_twice() -> None:
        for _ in range(2):
            data, client = server.recvfrom(4096)
            query = DNSRecord.parse(data)
            seen.append(query.header.id)
            forged = query.reply()
            forged.header.id = (query.header.id + 1) % 65536
            forged.add_answer(RR(query.q.qname, QTYPE.A, rdata=ARecord("127.66.66.66"), ttl=60))
            real = query.reply()
            real.add_answer(RR(query.q.qname, QTYPE.A, rdata=ARecord("127.77.77.77"), ttl=60))
            server.sendto(forged.pack(), client)
            server.sendto(real.pack(), client)

    thread = threading.Thread(target=answer_twice)
    thread.start()
    try:
        resolver = HarnessResolver(server.getsockname(), ["amazonaws.com"], FAST)
        assert resolver.resolve(NAME, socket.AF_INET).addresses == ("127.77.77.77",)
        assert resolver.resolve(NAME, socket.AF_INET).addresses == ("127.77.77.77",)
    finally:
        thread.join(5)
        server.close()
    assert len(set(seen)) == 2


def test_cache_keeps_answers_for_their_ttl(dns_env: DnsEnv) -> None:
    now = [0.0]
    cache = DnsCache(clock=lambda: now[0])
    first, second = dns_env.pool.take("node-1"), dns_env.pool.take("node-2")
    dns_env.topology.set(NAME, [first], ttl=60)
    with use_harness_dns(dns_env.server.address, ["amazonaws.com"], FAST, cache=cache):
        assert socket.gethostbyname(NAME) == first
        dns_env.topology.set(NAME, [second], ttl=60)
        now[0] = 59.0
        assert socket.gethostbyname(NAME) == first  # still cached
        assert dns_env.server.log.count(qtype="A") == 1
        now[0] = 60.5
        assert socket.gethostbyname(NAME) == second
    assert dns_env.server.log.count(qtype="A") == 2


def test_cached_negative_answer_outlives_the_record_coming_back(dns_env: DnsEnv) -> None:
    """The 2025 recovery: the record returns, clients keep failing until the negative TTL ends."""
    now = [0.0]
    cache = DnsCache(clock=lambda: now[0])
    node = dns_env.pool.take("node-1")
    dns_env.topology.set(NAME, [node])
    with use_harness_dns(dns_env.server.address, ["amazonaws.com"], FAST, cache=cache):
        with dns_env.chaos.inject("dns.empty_answer"):
            assert gai_code(socket.getaddrinfo, NAME, 443) == socket.EAI_NODATA
        # The fault is gone and the server answers again, but the client believes its cache ...
        now[0] = 29.0  # negative TTL = min(SOA TTL 30, SOA MINIMUM 60)
        assert gai_code(socket.getaddrinfo, NAME, 443) == socket.EAI_NODATA
        assert dns_env.server.log.count() == 2
        now[0] = 30.5  # ... until it expires
        assert addresses(socket.getaddrinfo(NAME, 443, socket.AF_INET, socket.SOCK_STREAM)) == [node]
    capped = DnsCache(negative_ttl=5, clock=lambda: now[0])
    with use_harness_dns(dns_env.server.address, ["amazonaws.com"], FAST, cache=capped):
        with dns_env.chaos.inject("dns.nxdomain"):
            assert gai_code(socket.gethostbyname, NAME) == socket.EAI_NONAME
        now[0] += 4.0
        assert gai_code(socket.gethostbyname, NAME) == socket.EAI_NONAME
        now[0] += 1.5
        assert socket.gethostbyname(NAME) == node


def test_server_failures_are_not_cached(dns_env: DnsEnv) -> None:
    cache = DnsCache()
    node = dns_env.pool.take("node-1")
    dns_env.topology.set(NAME, [node])
    with use_harness_dns(dns_env.server.address, ["amazonaws.com"], FAST, cache=cache):
        with dns_env.chaos.inject("dns.servfail"):
            assert gai_code(socket.gethostbyname, NAME) == socket.EAI_AGAIN
        assert len(cache) == 0
        assert socket.gethostbyname(NAME) == node


def test_resolver_options_from_resolv_conf() -> None:
    assert ResolverOptions.from_resolv_conf("nameserver 10.0.0.1\n") == ResolverOptions(5.0, 2)
    text = "# comment\nnameserver 127.0.0.53\noptions edns0 timeout:1 attempts:3\noptions attempts:4 # x\n"
    assert ResolverOptions.from_resolv_conf(text) == ResolverOptions(1.0, 4)
    assert ResolverOptions.from_resolv_conf("options timeout:99 attempts:0") == ResolverOptions(30.0, 1)
    assert ResolverOptions(0.2, 3).resolv_conf_options() == "options timeout:1 attempts:3"
    # glibc reads values with atoi: garbage is 0, and send_dg waits at least one second.
    assert ResolverOptions.from_resolv_conf("options timeout:x attempts:3x") == ResolverOptions(1.0, 3)
    # "options" must be followed by a blank; comment lines are skipped.
    assert ResolverOptions.from_resolv_conf("optionstimeout:1\n#options timeout:2\n") == ResolverOptions(5.0, 2)
    with pytest.raises(ConfigError, match="attempts"):
        ResolverOptions(attempts=0)


def test_resolver_options_from_host_read_resolv_conf_then_res_options(tmp_path) -> None:
    conf = tmp_path / "resolv.conf"
    conf.write_text("nameserver 10.0.0.1\noptions timeout:3 attempts:4\n")
    from_file = ResolverOptions.from_host(conf, environ={})
    assert (from_file.timeout, from_file.attempts) == (3.0, 4)
    assert str(conf) in from_file.source
    # RES_OPTIONS is applied after the file, option by option, as glibc does.
    both = ResolverOptions.from_host(conf, environ={"RES_OPTIONS": "attempts:1"})
    assert (both.timeout, both.attempts) == (3.0, 1)
    assert both.source.endswith("RES_OPTIONS")
    missing = ResolverOptions.from_host(tmp_path / "absent", environ={})
    assert (missing.timeout, missing.attempts, missing.source) == (5.0, 2, "host: glibc defaults")


def test_harness_config_follows_the_host_unless_told(monkeypatch) -> None:
    from harness.environment import HarnessConfig

    monkeypatch.setenv("RES_OPTIONS", "timeout:7 attempts:3")
    default = HarnessConfig().resolver_options()
    assert (default.timeout, default.attempts) == (7.0, 3)
    assert default.source.startswith("host:")
    fast = HarnessConfig(resolver_timeout=0.2).resolver_options()
    assert (fast.timeout, fast.attempts) == (0.2, 3)
    assert fast.source.startswith("explicit")
