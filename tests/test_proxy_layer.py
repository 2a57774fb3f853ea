"""ProxyLayer: picks a real or embedded Toxiproxy, drives several servers in one process, and turns
API failures into one-line HarnessErrors."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator

import pytest

from harness.errors import AddressInUseError, HarnessError
from harness.loopback import LoopbackPool
from harness.proxies import (
    ProxyExistsError,
    ProxyLayer,
    ProxyNotFoundError,
    ToxicError,
    ToxiproxyUnavailableError,
    answers,
)
from harness.toxiproxy.server import EmbeddedToxiproxy
from echo_server import EchoServer


def _dead_url() -> str:
    with socket.socket() as probe:  # a port nothing listens on
        probe.bind(("127.0.0.1", 0))
        return f"http://127.0.0.1:{probe.getsockname()[1]}"


@pytest.fixture
def layer(monkeypatch: pytest.MonkeyPatch) -> Iterator[ProxyLayer]:
    monkeypatch.setenv("TOXIPROXY_URL", _dead_url())
    with ProxyLayer.connect(seed=42) as created:
        yield created


@pytest.fixture(scope="module")
def echo() -> Iterator[EchoServer]:
    with EchoServer() as server:
        yield server


def round_trip(host: str, port: int, payload: bytes = b"ping") -> float:
    start = time.monotonic()
    with socket.create_connection((host, port), timeout=5) as sock:
        sock.sendall(payload)
        got = b""
        while len(got) < len(payload):
            piece = sock.recv(4096)
            assert piece
            got += piece
    assert got == payload
    return time.monotonic() - start


def test_falls_back_to_embedded_server_with_its_seed(layer: ProxyLayer) -> None:
    assert layer.embedded and layer.seed == 42
    assert answers(layer.url)
    layer.close()
    assert not answers(layer.url)


def test_uses_a_running_server_and_close_removes_only_its_proxies(echo: EchoServer) -> None:
    with EmbeddedToxiproxy() as server:
        owner = ProxyLayer.connect(server.url)
        owner.create("theirs", "127.0.0.1:0", echo.address)
        mine = ProxyLayer.connect(server.url)
        assert not mine.embedded
        mine.create("mine", "127.0.0.1:0", echo.address)
        assert set(mine.proxies()) == {"theirs", "mine"}
        mine.close()
        assert set(owner.proxies()) == {"theirs"}
        assert answers(server.url)


def test_explicit_url_that_does_not_answer_is_an_error() -> None:
    with pytest.raises(ToxiproxyUnavailableError, match="no Toxiproxy server answers"):
        ProxyLayer.connect(_dead_url())


def test_proxy_lifecycle_and_toxics(layer: ProxyLayer, echo: EchoServer) -> None:
    info = layer.create("node", "127.0.0.1:0", echo.address)
    assert info.enabled and info.port > 0 and layer.get("node") == info
    assert round_trip(info.host, info.port) < 0.2
    name = layer.add_toxic("node", "latency", {"latency": 100})
    assert name == "latency_downstream"
    assert round_trip(info.host, info.port) >= 0.1
    updated = layer.update_toxic("node", name, {"latency": 150}, toxicity=1.0)
    assert updated["attributes"]["latency"] == 150
    assert round_trip(info.host, info.port) >= 0.15
    layer.remove_toxic("node", name)
    assert layer.toxics("node") == []
    layer.disable("node")
    with pytest.raises(ConnectionRefusedError):
        round_trip(info.host, info.port)
    layer.enable("node")
    assert round_trip(info.host, info.port) < 0.2
    layer.add_toxic("node", "timeout", {"timeout": 0}, stream="upstream", name="stall")
    layer.disable("node")
    layer.reset()
    assert layer.get("node").enabled and layer.toxics("node") == []
    layer.destroy_all()
    assert layer.proxies() == {}


def test_errors_are_one_line_harness_errors(layer: ProxyLayer, echo: EchoServer) -> None:
    info = layer.create("dup", "127.0.0.1:0", echo.address)
    with pytest.raises(ProxyExistsError, match="create proxy dup: proxy already exists"):
        layer.create("dup", "127.0.0.1:0", echo.address)
    with pytest.raises(ProxyNotFoundError, match="get proxy ghost"):
        layer.get("ghost")
    with pytest.raises(ToxicError, match="invalid toxic type"):
        layer.add_toxic("dup", "meteor", {})
    with pytest.raises(ToxicError, match="must be >= 0"):
        layer.add_toxic("dup", "latency", {"latency": -5})
    with pytest.raises(AddressInUseError, match="address already in use") as caught:
        layer.create("clash", info.listen, echo.address)
    assert "\n" not in str(caught.value) and isinstance(caught.value, HarnessError)


def test_nodes_on_distinct_loopback_addresses_share_one_port(layer: ProxyLayer, echo: EchoServer) -> None:
    pool = LoopbackPool()
    hosts = [pool.take(f"node{i}") for i in range(3)]
    first = layer.create("node0", f"{hosts[0]}:0", echo.address)
    for i, host in enumerate(hosts[1:], start=1):
        layer.create(f"node{i}", f"{host}:{first.port}", echo.address)
    assert {layer.get(f"node{i}").listen for i in range(3)} == {f"{h}:{first.port}" for h in hosts}
    layer.disable("node1")
    with pytest.raises(ConnectionRefusedError):
        round_trip(hosts[1], first.port)
    assert round_trip(hosts[0], first.port) < 1 and round_trip(hosts[2], first.port) < 1


def test_several_servers_in_one_process_from_several_threads(echo: EchoServer) -> None:
    with EmbeddedToxiproxy(seed=1) as one, EmbeddedToxiproxy(seed=2) as two:
        layers = [ProxyLayer.connect(one.url), ProxyLayer.connect(two.url)]
        failures: list[BaseException] = []

        def work(index: int) -> None:
            try:
                for n in range(15):
                    layers[index].create(f"s{index}_{n}", "127.0.0.1:0", echo.address)
            except BaseException as exc:  # reported below
                failures.append(exc)

        threads = [threading.Thread(target=work, args=(i,)) for i in range(2)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(30)
        assert not failures
        assert set(layers[0].proxies()) == {f"s0_{n}" for n in range(15)}
        assert set(layers[1].proxies()) == {f"s1_{n}" for n in range(15)}
