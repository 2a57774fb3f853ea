"""Real glibc and the in-process hook give the same result for every DNS outcome.

glibc runs in a child ``python3`` inside the sandbox, where /etc/resolv.conf names the harness
server on 127.0.0.53:53; the hook runs here against the same server, with the same
``options timeout:1 attempts:1``. Both the outcome (error code, or addresses in order) and the
queries the server saw must match. The two sides ask for twin names with the same records, so a
delayed reply logged late is still counted for the right side.
"""

from __future__ import annotations

import json
import socket
import sys
import time
from collections import Counter

import pytest

from harness.errors import TimeoutExpired
from harness.resolver import ResolverOptions, use_harness_dns
from harness.sandbox import Sandbox
from harness_dns_env import NAME, DnsEnv, require_namespaces

OPTIONS = ResolverOptions(timeout=1, attempts=1)
FAMILIES = {"unspec": socket.AF_UNSPEC, "inet": socket.AF_INET, "inet6": socket.AF_INET6}
PROGRAM = r"""
import json, socket, sys
try:
    infos = socket.getaddrinfo(sys.argv[1], 443, int(sys.argv[2]), socket.SOCK_STREAM)
    print(json.dumps(["ok", [info[4][0] for info in infos]]))
except socket.gaierror as exc:
    print(json.dumps(["error", exc.errno, exc.strerror]))
"""


def outcome(name: str, family: int) -> list:
    try:
        return ["ok", [info[4][0] for info in socket.getaddrinfo(name, 443, family, socket.SOCK_STREAM)]]
    except socket.gaierror as exc:
        return ["error", exc.errno, exc.strerror]


CASES = [
    ("no fault", None, {}, "unspec"),
    ("no fault, IPv4 only", None, {}, "inet"),
    ("NODATA for IPv6 only", None, {}, "inet6"),
    ("non-existent name", None, {}, "unspec"),
    ("dns.empty_answer", "dns.empty_answer", {}, "unspec"),
    ("dns.empty_answer A", "dns.empty_answer", {}, "inet"),
    ("dns.nxdomain", "dns.nxdomain", {}, "unspec"),
    ("dns.nxdomain on A", "dns.nxdomain", {"qtype": "A"}, "unspec"),
    ("dns.nxdomain on AAAA", "dns.nxdomain", {"qtype": "AAAA"}, "unspec"),
    ("dns.servfail", "dns.servfail", {}, "unspec"),
    ("dns.servfail A", "dns.servfail", {}, "inet"),
    ("dns.servfail on A", "dns.servfail", {"qtype": "A"}, "unspec"),
    ("dns.refused", "dns.refused", {}, "unspec"),
    ("dns.refused on AAAA", "dns.refused", {"qtype": "AAAA"}, "unspec"),
    ("dns.timeout", "dns.timeout", {}, "unspec"),
    ("dns.timeout on A", "dns.timeout", {"qtype": "A"}, "unspec"),
    ("dns.delay shorter than timeout", "dns.delay", {"latency": 0.2}, "unspec"),
    ("dns.delay longer than timeout", "dns.delay", {"latency": 1.3}, "unspec"),
    ("dns.wrong_address", "dns.wrong_address", {"addresses": ["127.0.0.99", "127.0.0.98"]}, "unspec"),
    ("dns.truncate", "dns.truncate", {}, "unspec"),
    ("dns.truncate AAAA", "dns.truncate", {}, "inet6"),
    ("dns.empty_answer + dns.truncate", "dns.empty_answer+dns.truncate", {}, "unspec"),
]


@pytest.mark.parametrize(("case", "fault", "options", "family"), CASES, ids=[c[0] for c in CASES])
def test_hook_matches_glibc(dns_env: DnsEnv, case: str, fault: str | None, options: dict, family: str) -> None:
    require_namespaces()
    nodes = [dns_env.pool.take("node-1"), dns_env.pool.take("node-2")]
    glibc_name, hook_name = NAME, "dynamodb.us-west-2.amazonaws.com"
    if case == "non-existent name":
        glibc_name, hook_name = "missing-1.amazonaws.com", "missing-2.amazonaws.com"
    else:
        dns_env.topology.set(glibc_name, nodes)
        dns_env.topology.set(hook_name, nodes)
    for fault_name in (fault.split("+") if fault else []):
        dns_env.chaos.inject(fault_name, **options)

    sandbox = Sandbox(dns_env.server, options=OPTIONS)
    child = sandbox.run([sys.executable, "-I", "-S", "-c", PROGRAM, glibc_name, str(FAMILIES[family])], timeout=30)
    assert child.returncode == 0, child.stderr
    glibc = json.loads(child.stdout)
    with use_harness_dns(dns_env.server.address, ["amazonaws.com"], OPTIONS):
        hook = outcome(hook_name, FAMILIES[family])
    assert hook == glibc

    def queries(name: str) -> Counter:
        return Counter((e.transport, e.qtype) for e in dns_env.server.log.entries(name))

    # Delayed replies are logged when sent: wait until both sides' queries are all in.
    try:
        dns_env.server.log.wait_for(lambda: queries(hook_name) == queries(glibc_name) != Counter(), timeout=5)
    except TimeoutExpired:
        assert queries(hook_name) == queries(glibc_name)


TIMED_PROGRAM = r"""
import json, socket, sys, time
started = time.monotonic()
try:
    socket.getaddrinfo(sys.argv[1], 443, socket.AF_UNSPEC, socket.SOCK_STREAM)
    print(json.dumps(["ok", time.monotonic() - started]))
except socket.gaierror as exc:
    print(json.dumps([exc.errno, time.monotonic() - started]))
"""


def _timed_lookup(name: str) -> list:
    started = time.monotonic()
    try:
        socket.getaddrinfo(name, 443, socket.AF_UNSPEC, socket.SOCK_STREAM)
        return ["ok", time.monotonic() - started]
    except socket.gaierror as exc:
        return [exc.errno, time.monotonic() - started]


@pytest.mark.parametrize(("resolv_conf", "res_options"), [
    ("options timeout:1 attempts:2", None),
    ("options timeout:1 attempts:1", "attempts:2"),
], ids=["resolv.conf", "RES_OPTIONS over resolv.conf"])
def test_dns_timeout_takes_as_long_in_process_as_under_glibc(dns_env: DnsEnv, tmp_path, resolv_conf: str,
                                                             res_options: str | None) -> None:
    """The default resolver is the host's glibc: same options, same wait (within 10%), same error."""
    require_namespaces()
    conf = tmp_path / "resolv.conf"
    conf.write_text(f"nameserver 127.0.0.53\n{resolv_conf}\n")
    environ = {"RES_OPTIONS": res_options} if res_options else {}
    options = ResolverOptions.from_host(conf, environ=environ)  # what the harness reads on such a host
    node = dns_env.pool.take("node-1")
    glibc_name, hook_name = NAME, "dynamodb.us-west-2.amazonaws.com"
    for name in (glibc_name, hook_name):
        dns_env.topology.set(name, [node])
    dns_env.chaos.inject("dns.timeout")

    # The sandbox's glibc reads the same file line; RES_OPTIONS reaches it through the environment.
    sandbox = Sandbox(dns_env.server, options=ResolverOptions.from_resolv_conf(conf.read_text()))
    child_env = {"PATH": "/usr/bin:/bin", **environ}
    child = sandbox.run([sys.executable, "-I", "-S", "-c", TIMED_PROGRAM, glibc_name], timeout=60, env=child_env)
    assert child.returncode == 0, child.stderr
    glibc_code, glibc_seconds = json.loads(child.stdout)
    with use_harness_dns(dns_env.server.address, ["amazonaws.com"], options):
        hook_code, hook_seconds = _timed_lookup(hook_name)

    assert hook_code == glibc_code == socket.EAI_AGAIN
    assert glibc_seconds >= 1.9  # two 1 s attempts: glibc really did wait (the options took effect)
    assert abs(hook_seconds - glibc_seconds) <= 0.1 * glibc_seconds, (hook_seconds, glibc_seconds)
