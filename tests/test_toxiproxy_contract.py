"""Contract tests for the Toxiproxy HTTP API, driven through the toxiproxy-python client.

They run against the embedded server by default and, unchanged, against a real Toxiproxy when
TOXIPROXY_URL is set, so the embedded server is held to the real one's behaviour: status codes,
JSON shapes, and what each toxic does to real TCP connections (through an echo server).
"""

from __future__ import annotations

import os
import socket
import time
import uuid
from collections.abc import Iterator

import pytest
from toxiproxy import Toxiproxy
from toxiproxy.api import APIConsumer
from toxiproxy.exceptions import InvalidToxic, NotFound, ProxyExists
from toxiproxy.proxy import Proxy

from harness.proxies import answers
from harness.toxiproxy.server import EmbeddedToxiproxy
from echo_server import EchoServer

SEED = 20251020
REAL_URL = os.environ.get("TOXIPROXY_URL")


def _point_client(url: str) -> None:
    host, _, port = url.split("//")[-1].rstrip("/").rpartition(":")
    APIConsumer.host, APIConsumer.port = host, int(port)


@pytest.fixture(scope="module")
def server_url() -> Iterator[str]:
    if REAL_URL:
        if not answers(REAL_URL):
            pytest.fail(f"TOXIPROXY_URL={REAL_URL} is set but no Toxiproxy answers there")
        yield REAL_URL
        return
    with EmbeddedToxiproxy(seed=SEED) as server:
        yield server.url


@pytest.fixture
def client(server_url: str) -> Toxiproxy:
    _point_client(server_url)
    return Toxiproxy()


@pytest.fixture(scope="module")
def echo() -> Iterator[EchoServer]:
    with EchoServer() as server:
        yield server


def _unique(prefix: str) -> str:
    return f"{prefix}_{os.environ.get('PYTEST_XDIST_WORKER', 'main')}_{uuid.uuid4().hex[:8]}"


@pytest.fixture
def proxy(client: Toxiproxy, echo: EchoServer) -> Iterator[Proxy]:
    created = client.create(upstream=echo.address, name=_unique("contract"), listen="127.0.0.1:0")
    yield created
    try:
        created.destroy()
    except NotFound:
        pass


@pytest.fixture
def sockets() -> Iterator[list[socket.socket]]:
    opened: list[socket.socket] = []
    yield opened
    for sock in opened:
        sock.close()


@pytest.fixture
def dial(proxy: Proxy, sockets: list[socket.socket]):
    """Open a client connection through ``proxy`` (closed after the test)."""

    def _dial(target: Proxy = proxy, timeout: float = 5.0) -> socket.socket:
        host, _, port = target.listen.rpartition(":")
        sock = socket.create_connection((host, int(port)), timeout=timeout)
        sockets.append(sock)
        return sock

    return _dial


def recv_exactly(sock: socket.socket, size: int) -> bytes:
    data = b""
    while len(data) < size:
        piece = sock.recv(size - len(data))
        if not piece:
            break
        data += piece
    return data


def recv_until_eof(sock: socket.socket) -> bytes:
    data = b""
    while piece := sock.recv(65536):
        data += piece
    return data


def round_trip(sock: socket.socket, payload: bytes = b"ping") -> float:
    start = time.monotonic()
    sock.sendall(payload)
    assert recv_exactly(sock, len(payload)) == payload
    return time.monotonic() - start


# -- API shapes and status codes ------------------------------------------------------------------


def test_version_answers(client: Toxiproxy) -> None:
    assert client.version()


def test_create_returns_201_with_proxy_json_and_real_port(client: Toxiproxy, echo: EchoServer) -> None:
    name = _unique("shape")
    response = APIConsumer.post("/proxies", json={"name": name, "listen": "127.0.0.1:0", "upstream": echo.address})
    try:
        assert response.status_code == 201
        body = response.json()
        assert {k: body[k] for k in ("name", "upstream", "enabled", "toxics")} == {
            "name": name, "upstream": echo.address, "enabled": True, "toxics": []}
        assert body["listen"].startswith("127.0.0.1:") and not body["listen"].endswith(":0")
        assert name in client.proxies()
    finally:
        assert APIConsumer.delete(f"/proxies/{name}").status_code == 204


def test_existing_proxy_is_409(client: Toxiproxy, proxy: Proxy, echo: EchoServer) -> None:
    with pytest.raises(ProxyExists):
        APIConsumer.post("/proxies", json={"name": proxy.name, "listen": "127.0.0.1:0", "upstream": echo.address})


def test_missing_proxy_and_toxic_are_404(client: Toxiproxy, proxy: Proxy) -> None:
    with pytest.raises(NotFound):
        APIConsumer.get("/proxies/no_such_proxy_here")
    with pytest.raises(NotFound):
        proxy.destroy_toxic("no_such_toxic")
    with pytest.raises(NotFound):
        APIConsumer.post("/proxies/no_such_proxy_here/toxics", json={"type": "latency"})


def test_bad_toxic_and_bad_body_are_400(client: Toxiproxy, proxy: Proxy) -> None:
    with pytest.raises(InvalidToxic):
        proxy.add_toxic(type="no_such_toxic_type")
    with pytest.raises(InvalidToxic):
        proxy.add_toxic(type="latency", stream="sideways")
    with pytest.raises(InvalidToxic):
        APIConsumer.post("/proxies", data="{not json", headers={"Content-Type": "application/json"})
    assert proxy.toxics() == {}


def test_toxic_json_default_name_update_and_duplicate(client: Toxiproxy, proxy: Proxy) -> None:
    proxy.add_toxic(type="latency", attributes={"latency": 50, "jitter": 5})
    toxic = proxy.get_toxic("latency_downstream")
    assert (toxic.type, toxic.stream, toxic.toxicity) == ("latency", "downstream", 1.0)
    assert toxic.attributes == {"latency": 50, "jitter": 5}
    with pytest.raises(ProxyExists):  # 409: toxic already exists
        proxy.add_toxic(type="latency", attributes={"latency": 10})
    response = APIConsumer.post(f"/proxies/{proxy.name}/toxics/latency_downstream", json={"attributes": {"latency": 70}})
    assert response.status_code == 200
    assert response.json()["attributes"] == {"latency": 70, "jitter": 5}
    assert proxy.destroy_toxic("latency_downstream")
    assert proxy.toxics() == {}


def test_populate_creates_then_leaves_matching_proxies(client: Toxiproxy, echo: EchoServer) -> None:
    name = _unique("populate")
    with socket.socket() as probe:  # a free port for a fixed listen address
        probe.bind(("127.0.0.1", 0))
        listen = f"127.0.0.1:{probe.getsockname()[1]}"
    spec = [{"name": name, "listen": listen, "upstream": echo.address}]
    try:
        first = APIConsumer.post("/populate", json=spec)
        assert first.status_code == 201
        assert [p["name"] for p in first.json()["proxies"]] == [name]
        again = APIConsumer.post("/populate", json=spec)
        assert again.status_code == 201 and again.json()["proxies"][0]["listen"] == listen
    finally:
        APIConsumer.delete(f"/proxies/{name}")


def test_delete_closes_the_port(client: Toxiproxy, proxy: Proxy, dial) -> None:
    round_trip(dial())
    assert proxy.destroy()
    with pytest.raises(ConnectionRefusedError):
        dial()


# -- toxics on real connections -------------------------------------------------------------------


def test_plain_proxy_relays_both_ways(proxy: Proxy, dial) -> None:
    sock = dial()
    payload = os.urandom(200_000)
    sock.sendall(payload)
    assert recv_exactly(sock, len(payload)) == payload


@pytest.mark.parametrize("stream", ["downstream", "upstream"])
def test_latency_delays_each_round_trip(proxy: Proxy, dial, stream: str) -> None:
    proxy.add_toxic(type="latency", stream=stream, attributes={"latency": 100})
    elapsed = round_trip(dial())
    assert 0.1 <= elapsed < 2.0


def test_toxics_change_open_connections(proxy: Proxy, dial) -> None:
    sock = dial()
    assert round_trip(sock) < 0.15
    proxy.add_toxic(type="latency", attributes={"latency": 200})
    assert round_trip(sock) >= 0.2
    proxy.destroy_toxic("latency_downstream")
    assert round_trip(sock) < 0.15


def test_bandwidth_slows_a_transfer(proxy: Proxy, dial) -> None:
    proxy.add_toxic(type="bandwidth", attributes={"rate": 100})  # 100 KB/s
    payload = os.urandom(30_000)
    elapsed = round_trip(dial(), payload)
    assert elapsed >= 0.25


def test_slicer_splits_data(proxy: Proxy, dial) -> None:
    proxy.add_toxic(type="slicer", attributes={"average_size": 10, "size_variation": 0, "delay": 10_000})
    sock = dial()
    payload = os.urandom(100)
    sock.sendall(payload)
    pieces = []
    while sum(map(len, pieces)) < len(payload):
        pieces.append(sock.recv(4096))
        assert pieces[-1], "connection closed early"
    assert b"".join(pieces) == payload
    assert sum(len(piece) <= 10 for piece in pieces) >= 5


def test_limit_data_cuts_the_stream(proxy: Proxy, dial) -> None:
    proxy.add_toxic(type="limit_data", attributes={"bytes": 10})
    sock = dial()
    payload = os.urandom(100)
    sock.sendall(payload)
    assert recv_until_eof(sock) == payload[:10]


def test_timeout_stalls_then_closes(proxy: Proxy, dial) -> None:
    proxy.add_toxic(type="timeout", attributes={"timeout": 200})
    sock = dial()
    start = time.monotonic()
    sock.sendall(b"ping")
    assert recv_until_eof(sock) == b""
    assert time.monotonic() - start >= 0.15


def test_timeout_zero_stalls_until_removed(proxy: Proxy, dial) -> None:
    proxy.add_toxic(type="timeout", attributes={"timeout": 0})
    sock = dial(timeout=0.3)
    sock.sendall(b"lost")
    with pytest.raises(socket.timeout):
        sock.recv(10)
    proxy.destroy_toxic("timeout_downstream")
    sock.settimeout(5)
    assert round_trip(sock, b"back") < 2.0


def test_reset_peer_resets_the_connection(proxy: Proxy, dial) -> None:
    proxy.add_toxic(type="reset_peer", attributes={"timeout": 0})
    with pytest.raises(ConnectionResetError):  # may already hit connect() on loopback
        sock = dial()
        sock.sendall(b"ping")
        recv_until_eof(sock)


def test_reset_peer_after_timeout(proxy: Proxy, dial) -> None:
    proxy.add_toxic(type="reset_peer", attributes={"timeout": 150})
    sock = dial()
    round_trip(sock)  # data still flows before the timer fires
    with pytest.raises(ConnectionResetError):
        recv_until_eof(sock)


def test_slow_close_delays_the_close(proxy: Proxy, dial) -> None:
    proxy.add_toxic(type="slow_close", attributes={"delay": 300})
    sock = dial()
    round_trip(sock)
    start = time.monotonic()
    sock.shutdown(socket.SHUT_WR)  # echo server closes; the proxy holds the close back
    assert recv_until_eof(sock) == b""
    assert time.monotonic() - start >= 0.25


def test_disabled_proxy_refuses_and_drops_connections(proxy: Proxy, dial) -> None:
    open_conn = dial()
    round_trip(open_conn)
    proxy.disable()
    with pytest.raises(ConnectionRefusedError):
        dial()
    try:
        assert recv_until_eof(open_conn) == b""
    except ConnectionResetError:
        pass  # dropped either way
    proxy.enable()
    assert round_trip(dial()) < 2.0


def test_reset_clears_toxics_and_reenables(client: Toxiproxy, proxy: Proxy, dial) -> None:
    proxy.add_toxic(type="latency", attributes={"latency": 500})
    proxy.disable()
    assert client.reset()
    assert proxy.toxics() == {}
    assert client.get_proxy(proxy.name).enabled is True
    assert round_trip(dial()) < 0.4


def test_toxicity_zero_never_and_one_always(proxy: Proxy, dial) -> None:
    proxy.add_toxic(type="latency", name="never", attributes={"latency": 300}, toxicity=0.0)
    assert round_trip(dial()) < 0.25
    proxy.add_toxic(type="latency", name="always", attributes={"latency": 100}, toxicity=1.0)
    assert 0.1 <= round_trip(dial()) < 0.35


def _reset_pattern(url: str, echo: EchoServer, sockets: list[socket.socket], connections: int = 16) -> list[bool]:
    """Which of ``connections`` consecutive connections a 50%-toxicity reset_peer hits."""
    _point_client(url)
    target = Toxiproxy().create(upstream=echo.address, name="seeded", listen="127.0.0.1:0")
    target.add_toxic(type="reset_peer", attributes={"timeout": 0}, toxicity=0.5)
    host, _, port = target.listen.rpartition(":")
    pattern = []
    for _ in range(connections):
        try:
            sock = socket.create_connection((host, int(port)), timeout=5)
            sockets.append(sock)
            round_trip(sock)
            pattern.append(False)
        except ConnectionResetError:
            pattern.append(True)
    return pattern


@pytest.mark.skipif(bool(REAL_URL), reason="a real Toxiproxy ignores -seed since v2.9; only the embedded one is seeded")
def test_seeded_toxicity_pattern_repeats(echo: EchoServer, sockets: list[socket.socket]) -> None:
    patterns = []
    for seed in (7, 7, 8):
        with EmbeddedToxiproxy(seed=seed) as server:
            patterns.append(_reset_pattern(server.url, echo, sockets))
    assert patterns[0] == patterns[1]
    assert any(patterns[0]) and not all(patterns[0])
    assert patterns[2] != patterns[0]
