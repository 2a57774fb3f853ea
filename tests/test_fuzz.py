"""Property tests with generated input (issue 12): the servers and the scenario loader never break.

* DNS: batches of fuzzed packets (random bytes, and valid queries with bytes flipped, compression
  pointers spliced in, counts changed); after every batch a probe query must still be answered.
* The embedded Toxiproxy and the control API: random methods, paths, headers and bodies (random
  bytes, random JSON, plausible proxy/toxic/fault bodies with hostile numbers); every request gets
  a status line and a JSON body, never a 500, and the server keeps answering.
* Scenario files: random YAML built from the real field names, and valid files with text spliced
  in; the loader returns a scenario or raises one one-line ``ScenarioError`` that names file:line.

Bounded (``max_examples``, fixed seed through ``derandomize``) so the module runs in well under a
minute; run with ``--hypothesis-show-statistics`` to see how many cases each property ran.
"""

from __future__ import annotations

import json
import logging
import socket
import struct
from collections.abc import Iterator

import pytest
import yaml
from dnslib import QTYPE, DNSHeader, DNSQuestion, DNSRecord
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from harness.control import ControlServer
from harness.dns import DnsServer, Topology
from harness.dns.precheck import BadQuery, check_query
from harness.loopback import LoopbackPool
from harness.scenario import Scenario, ScenarioError, parse_scenario
from harness.toxiproxy.server import EmbeddedToxiproxy
from harness.toxiproxy.toxics import create_toxic, toxic_types
from echo_server import EchoServer
from hostile import StubHarness, exchange, http_request
from test_scenario_loader import VALID

DDB = "dynamodb.us-east-1.amazonaws.com"
FUZZ = settings(max_examples=150, deadline=None, derandomize=True, database=None,
                suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])


# -- DNS ------------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def dns() -> Iterator[DnsServer]:
    topology = Topology()
    topology.set(DDB, ["127.0.0.10", "127.0.0.11"], ttl=5)
    with DnsServer(topology, host=LoopbackPool().take("fuzz-dns")) as server:
        yield server


def _mutated_query(draw: st.DrawFn) -> bytes:
    question = DNSQuestion(draw(st.sampled_from([DDB, "x.amazonaws.com", "a.b"])),
                           getattr(QTYPE, draw(st.sampled_from(["A", "AAAA", "TXT", "ANY"]))))
    packet = bytearray(DNSRecord(DNSHeader(id=draw(st.integers(0, 0xFEEC)), rd=1), q=question).pack())
    for _ in range(draw(st.integers(0, 4))):
        kind = draw(st.sampled_from(["flip", "pointer", "count", "append", "truncate"]))
        if len(packet) < 14 and kind != "append":
            continue
        if kind == "flip":
            packet[draw(st.integers(2, len(packet) - 1))] = draw(st.integers(0, 255))
        elif kind == "pointer":
            at = draw(st.integers(12, len(packet) - 1))
            packet[at:at + 2] = struct.pack("!H", 0xC000 | draw(st.integers(0, 0x3FFF)))
        elif kind == "count":
            at = draw(st.sampled_from([4, 6, 8, 10]))
            packet[at:at + 2] = struct.pack("!H", draw(st.integers(0, 0xFFFF)))
        elif kind == "append":
            packet += draw(st.binary(max_size=300))
        else:
            del packet[draw(st.integers(0, len(packet))):]
    if len(packet) > 2:
        packet[2] &= 0x7F  # a query: responses are ignored by design
    return bytes(packet)


packets = st.one_of(st.binary(max_size=600), st.composite(lambda draw: _mutated_query(draw))())


@FUZZ
@given(batch=st.lists(packets, min_size=1, max_size=8))
def test_fuzzed_packets_never_stop_the_dns_server(dns: DnsServer, batch: list[bytes]) -> None:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        for packet in batch:
            sock.sendto(packet, dns.address)
        probe = DNSRecord(DNSHeader(id=0xFEED, rd=1), q=DNSQuestion(DDB))
        sock.sendto(probe.pack(), dns.address)
        sock.settimeout(5)
        while True:  # replies to the fuzz come first (same socket, in order); the probe's last
            reply = sock.recv(65535)
            if reply[:2] == b"\xfe\xed":
                break
            assert reply[2] & 0x80, "the server answered with something that is not a response"
    assert len(DNSRecord.parse(reply).rr) == 2


@FUZZ
@given(packet=packets)
def test_the_precheck_only_ever_raises_bad_query(packet: bytes) -> None:
    if len(packet) < 12:
        return
    try:
        check_query(packet)
    except BadQuery as exc:
        assert str(exc) and "\n" not in str(exc)


# -- HTTP --------------------------------------------------------------------------------------------
hostile_numbers = st.one_of(
    st.sampled_from([float("nan"), float("inf"), float("-inf"), 2**63 - 1, 2**63, 10**400, -1, 0.5, 1e300]),
    st.integers(-10, 10**6), st.integers(min_value=-(10**30), max_value=10**30),
    st.floats(allow_nan=True, allow_infinity=True))
json_values = st.recursive(
    st.one_of(st.none(), st.booleans(), hostile_numbers, st.text(max_size=20)),
    lambda inner: st.one_of(st.lists(inner, max_size=4), st.dictionaries(st.text(max_size=10), inner, max_size=4)),
    max_leaves=12)
safe_text = st.text(st.characters(min_codepoint=33, max_codepoint=126, exclude_characters="/?#%"), min_size=1, max_size=12)


def dumped(value: object) -> bytes:
    return json.dumps(value).encode()  # NaN and Infinity as Python's json writes them: hostile on purpose


def random_body(fields: dict[str, st.SearchStrategy]) -> st.SearchStrategy[bytes]:
    """Plausible bodies (known fields, random values), random JSON, or random bytes."""
    plausible = st.fixed_dictionaries({}, optional={k: st.one_of(v, v, json_values) for k, v in fields.items()})
    return st.one_of(plausible.map(dumped), plausible.map(dumped), json_values.map(dumped), st.binary(max_size=200))


# -- the embedded Toxiproxy -----------------------------------------------------------------------
def send(api: EmbeddedToxiproxy, method: str, path: str, body: bytes = b"", headers: dict[str, str] | None = None):
    """One raw request to the API with the Host header HTTP/1.1 requires; its status and body."""
    return exchange(api.host, api.port, http_request(method, path, body, {"Host": f"{api.host}:{api.port}", **(headers or {})}))


@pytest.fixture(scope="module")
def toxiproxy() -> Iterator[tuple[EmbeddedToxiproxy, EchoServer]]:
    with EmbeddedToxiproxy(seed=1) as api, EchoServer() as echo:
        yield api, echo


toxic_attributes = st.dictionaries(st.sampled_from(["latency", "jitter", "rate", "delay", "bytes", "timeout",
                                                    "average_size", "size_variation"]), hostile_numbers,
                                   min_size=1, max_size=3)


@FUZZ
@given(method=st.sampled_from(["GET", "POST", "PATCH", "DELETE", "PUT", "HEAD"]),
       path=st.one_of(
           st.sampled_from(["/version", "/reset", "/populate", "/proxies", "/proxies/p1", "/proxies/p1/toxics",
                            "/proxies/p1/toxics/t1", "/proxies/p2/toxics/latency_downstream"]),
           st.lists(safe_text, max_size=5).map(lambda parts: "/" + "/".join(parts))),
       body=random_body({"name": st.sampled_from(["p1", "p2", "t1"]), "upstream": st.just("ECHO"),
                         "listen": st.sampled_from(["127.0.0.1:0", "localhost:0", "0.0.0.0:0", "nope"]),
                         "enabled": st.booleans(), "type": st.sampled_from(["latency", "bandwidth", "slicer", "x"]),
                         "stream": st.sampled_from(["upstream", "downstream", "x"]), "toxicity": hostile_numbers,
                         "attributes": toxic_attributes}),
       extra=st.dictionaries(st.sampled_from(["User-Agent", "Origin", "Content-Type", "X-Any"]),
                             st.sampled_from(["curl/8", "Mozilla/5.0", "http://x", "text/plain", "application/json"]),
                             max_size=2))
def test_random_toxiproxy_requests_always_get_a_status_and_never_a_500(toxiproxy, caplog, method, path, body, extra) -> None:
    api, echo = toxiproxy
    existing = json.dumps([{"name": name, "upstream": echo.address} for name in ("p1", "p2")]).encode()
    assert send(api, "POST", "/populate", existing)[0] == 201
    body = body.replace(b'"ECHO"', json.dumps(echo.address).encode())
    headers = {"Host": f"{api.host}:{api.port}", **extra}
    status, payload = exchange(api.host, api.port, http_request(method, path, body, headers))
    assert 200 <= status < 500, (status, payload)
    if status >= 400 and isinstance(payload, dict):
        assert "\n" not in payload["error"]
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR]
    assert send(api, "GET", "/version")[0] == 200


def _toxic_body(kind: str) -> st.SearchStrategy[dict]:
    """A body for a toxic of ``kind`` whose attributes are that toxic's own, with hostile values."""
    names = sorted(create_toxic(kind, {}).attributes()) or ["x"]
    attributes = st.dictionaries(st.sampled_from(names), hostile_numbers, min_size=1, max_size=len(names))
    return st.fixed_dictionaries(
        {"type": st.just(kind), "attributes": st.one_of(attributes, attributes, attributes, json_values)},
        optional={"name": st.sampled_from(["t1", "t2"]), "stream": st.sampled_from(["upstream", "downstream", "x"]),
                  "toxicity": hostile_numbers})


toxic_bodies = st.sampled_from(toxic_types() + ["nope"]).flatmap(
    lambda kind: _toxic_body(kind) if kind != "nope" else st.just({"type": kind}))


@FUZZ
@given(steps=st.lists(st.tuples(st.sampled_from(["POST /proxies/p1/toxics", "POST /proxies/p1/toxics/t1",
                                                 "DELETE /proxies/p1/toxics/t1"]), toxic_bodies), min_size=1, max_size=4))
def test_random_toxics_on_a_live_proxy_are_accepted_or_400_and_traffic_flows(toxiproxy, caplog, steps) -> None:
    api, echo = toxiproxy
    send(api, "DELETE", "/proxies/p1")
    status, proxy = send(
        api, "POST", "/proxies", dumped({"name": "p1", "upstream": echo.address}), {"Content-Type": "application/json"})
    assert status == 201
    for step, body in steps:
        method, path = step.split()
        status, payload = send(api, method, path, dumped(body))
        assert status in (200, 204, 400, 404, 409), (status, payload)
    send(api, "POST", "/reset")  # toxics off: traffic must flow again
    host, port = proxy["listen"].rsplit(":", 1)
    with socket.create_connection((host, int(port)), timeout=10) as sock:
        sock.sendall(b"ping")
        assert sock.recv(4) == b"ping"
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR]


# -- the control API ------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def control(tmp_path_factory) -> Iterator[ControlServer]:
    path = tmp_path_factory.mktemp("token") / "control.token"
    with ControlServer(StubHarness(), LoopbackPool().take("fuzz-control"), 0, token_file=path) as server:
        yield server


fault_names = st.sampled_from(["dns.servfail", "dns.delay", "network.latency", "health.flap", "dynamodb.throttle",
                               "nope", "dns."])
fault_options = st.dictionaries(st.sampled_from(["seed", "latency", "jitter", "probability", "duration", "qname",
                                                 "region", "period", "bogus"]),
                                st.one_of(hostile_numbers, json_values), max_size=3)


@FUZZ
@given(method=st.sampled_from(["GET", "POST", "DELETE", "PUT", "PATCH"]),
       path=st.one_of(st.sampled_from(["/v1/state", "/v1/faults", "/v1/faults/1", "/v1/faults/history",
                                       "/v1/reset", "/v1/dns/log?limit=abc", "/v1/replication/wait?timeout=nan",
                                       "/v1/app/metrics", "/v1/faults/99999999999999999999"]),
                      st.lists(safe_text, max_size=4).map(lambda parts: "/v1/" + "/".join(parts))),
       body=random_body({"fault": fault_names, "options": fault_options}),
       token=st.sampled_from(["right", "right", "right", "wrong", None]),
       extra=st.dictionaries(st.sampled_from(["User-Agent", "Origin", "Content-Type", "Host"]),
                             st.sampled_from(["curl/8", "Mozilla/5.0", "http://x", "text/plain", "evil.example"]),
                             max_size=2))
def test_random_control_requests_always_get_a_status_and_never_a_500(control, caplog, method, path, body, token, extra) -> None:
    headers = {"Host": f"{control.host}:{control.port}"}
    if token is not None:
        headers["Authorization"] = f"Bearer {control.token if token == 'right' else 'wrong'}"
    headers.update(extra)
    status, payload = exchange(control.host, control.port, http_request(method, path, body, headers))
    assert 200 <= status < 500, (status, payload)
    if status >= 400:
        assert isinstance(payload, dict) and "\n" not in payload["error"]
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR]
    control.harness.chaos.clear_all()


# -- scenario files -------------------------------------------------------------------------------
yaml_scalars = st.one_of(st.none(), st.booleans(), hostile_numbers, st.text(max_size=15),
                         st.sampled_from(["2s", "1e999", "99%", "23:48-02:25", "dns.servfail", "-1s", "9" * 500]))
field = st.sampled_from(["title", "load", "duration", "rps", "users", "workers", "mix", "steady_state", "method",
                         "fault", "action", "at", "for", "window", "options", "rollbacks", "clock", "time_scale",
                         "setup", "regions", "seed", "app", "profile", "success_rate", "min", "lost_writes", "x"])
yaml_values = st.recursive(yaml_scalars, lambda inner: st.one_of(
    st.lists(inner, max_size=4), st.dictionaries(field, inner, max_size=5)), max_leaves=20)
documents = st.one_of(
    st.dictionaries(field, yaml_values, max_size=8).map(lambda d: yaml.safe_dump(d, allow_unicode=True)),
    st.tuples(st.integers(0, len(VALID)), st.text(max_size=40)).map(lambda t: VALID[:t[0]] + t[1] + VALID[t[0]:]),
    st.text(max_size=200))


@FUZZ
@given(text=documents)
def test_generated_scenario_files_load_or_fail_with_one_line(text: str) -> None:
    try:
        scenario = parse_scenario(text, "fuzz.yaml")
    except ScenarioError as exc:
        message = str(exc)
        assert message.startswith("fuzz.yaml") and "\n" not in message and len(message) < 600, message
    else:
        assert isinstance(scenario, Scenario)

