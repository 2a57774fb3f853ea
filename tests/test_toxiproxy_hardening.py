"""The embedded Toxiproxy under hostile and concurrent use (issue 12).

Concurrent creates of one name, idle-proxy memory, browser-looking requests, malformed HTTP and
out-of-range toxic attributes: every request gets a status and a JSON error, nothing is left
listening, and the toxiproxy-python client (no browser user agent) keeps working.
"""

from __future__ import annotations

import errno
import socket
import threading
import tracemalloc
from collections.abc import Iterator
from types import SimpleNamespace

import pytest

from harness.toxiproxy.link import Side
from harness.toxiproxy.server import EmbeddedToxiproxy, ToxiproxyApi
from echo_server import EchoServer
from hostile import exchange, json_call

MAX_IDLE_PROXY = 64 << 10


@pytest.fixture
def api() -> Iterator[EmbeddedToxiproxy]:
    with EmbeddedToxiproxy(seed=7) as server:
        yield server


@pytest.fixture(scope="module")
def echo() -> Iterator[EchoServer]:
    with EchoServer() as server:
        yield server


def call(server: EmbeddedToxiproxy, method: str, path: str, body: object = None, **kw) -> tuple[int, object]:
    return json_call(server.host, server.port, method, path, body, **kw)


def raw_exchange(server: EmbeddedToxiproxy, request: bytes) -> tuple[int, dict]:
    return exchange(server.host, server.port, request)


def refused(port: int) -> bool:
    try:
        socket.create_connection(("127.0.0.1", port), timeout=2).close()
    except ConnectionRefusedError:
        return True
    return False


# -- concurrency ----------------------------------------------------------------------------------
def test_concurrent_creates_of_one_name_give_one_201_and_leave_no_orphan_listener(api, echo) -> None:
    ports: list[int] = []
    for attempt in range(20):
        name = f"race{attempt}"
        barrier = threading.Barrier(2)
        statuses: list[int] = []

        def create() -> None:
            barrier.wait()
            status, body = call(api, "POST", "/proxies", {"name": name, "upstream": echo.address})
            statuses.append(status)
            if status == 201:
                ports.append(int(body["listen"].rsplit(":", 1)[1]))

        threads = [threading.Thread(target=create) for _ in range(2)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        assert sorted(statuses) == [201, 409], attempt
    status, listed = call(api, "GET", "/proxies")
    assert status == 200 and len(listed) == 20
    for name in listed:
        assert call(api, "DELETE", f"/proxies/{name}")[0] == 204
    assert all(refused(port) for port in ports)


def test_threads_creating_and_deleting_leave_only_what_get_proxies_shows(api, echo) -> None:
    ports: list[int] = []
    lock = threading.Lock()

    def churn(worker: int) -> None:
        for i in range(10):
            name = f"churn{i % 3}"
            status, body = call(api, "POST", "/proxies", {"name": name, "upstream": echo.address})
            if status == 201:
                with lock:
                    ports.append(int(body["listen"].rsplit(":", 1)[1]))
            call(api, "DELETE", f"/proxies/{name}")

    threads = [threading.Thread(target=churn, args=(n,)) for n in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    _, listed = call(api, "GET", "/proxies")
    for name in listed:
        call(api, "DELETE", f"/proxies/{name}")
    assert ports and all(refused(port) for port in ports)


# -- memory ---------------------------------------------------------------------------------------
def test_idle_proxies_cost_at_most_64_kib_each_and_give_it_back(api, echo) -> None:
    count = 40
    tracemalloc.start()
    try:
        before = tracemalloc.get_traced_memory()[0]
        for i in range(count):
            assert call(api, "POST", "/proxies", {"name": f"idle{i}", "upstream": echo.address})[0] == 201
        with socket.create_connection(("127.0.0.1", int(call(api, "GET", "/proxies/idle0")[1]["listen"].rsplit(":")[1]))) as sock:
            sock.sendall(b"x")  # one connection moves data: the loop's read buffer exists now
            assert sock.recv(1) == b"x"
        grown = tracemalloc.get_traced_memory()[0] - before
        for i in range(count):
            assert call(api, "DELETE", f"/proxies/idle{i}")[0] == 204
        left = tracemalloc.get_traced_memory()[0] - before
    finally:
        tracemalloc.stop()
    read_buffer = 1 << 20  # one per event loop, shared by every proxy on it
    assert (grown - read_buffer) / count <= MAX_IDLE_PROXY, f"{grown / count:.0f} bytes per idle proxy"
    assert left - read_buffer <= count * 4096, f"{left} bytes still held after every proxy was deleted"


# -- browsers -------------------------------------------------------------------------------------
@pytest.mark.parametrize("headers", [
    {"User-Agent": "Mozilla/5.0 (X11; Linux x86_64) Firefox/140.0"},
    {"Origin": "http://evil.example"},
    {"Content-Type": "text/plain"},
    {"Host": "attacker.example"},
    {"Host": "localhost:1"},
])
def test_requests_that_look_like_a_browser_get_403_and_change_nothing(api, echo, headers) -> None:
    status, body = call(api, "POST", "/proxies", {"name": "web", "upstream": echo.address}, headers=headers)
    assert status == 403 and body["status"] == 403 and body["error"]
    assert call(api, "GET", "/proxies")[1] == {}


def test_localhost_host_and_plain_clients_are_served(api, echo) -> None:
    assert call(api, "GET", "/version", headers={"Host": f"localhost:{api.port}"})[0] == 200
    assert call(api, "GET", "/version", headers={"User-Agent": "curl/8.5.0"})[0] == 200


# -- malformed requests and values ---------------------------------------------------------------
@pytest.mark.parametrize("value", ["NaN", "Infinity", "-Infinity", "1e400", str(10**400), "2.5", '"5"', "[1]"])
def test_out_of_range_or_non_integer_toxic_attributes_are_400_naming_the_attribute(api, echo, value) -> None:
    assert call(api, "POST", "/proxies", {"name": "p", "upstream": echo.address})[0] == 201
    body = ('{"type": "latency", "attributes": {"latency": %s}}' % value).encode()
    status, error = call(api, "POST", "/proxies/p/toxics", raw=body)
    assert status == 400 and "latency" in error["error"], error
    assert call(api, "GET", "/proxies/p/toxics")[1] == []
    status, toxic = call(api, "POST", "/proxies/p/toxics", {"type": "latency", "attributes": {"latency": 2**63 - 1}})
    assert status == 200 and toxic["attributes"]["latency"] == 2**63 - 1


def test_hostile_bodies_get_400(api, echo) -> None:
    assert call(api, "POST", "/proxies", raw=b"[" * 1_000_000)[0] == 400
    status, error = call(api, "POST", "/populate", [{"name": ["a"], "upstream": echo.address}])
    assert status == 400 and "name" in error["error"]
    assert call(api, "POST", "/proxies", {"name": "p", "upstream": echo.address})[0] == 201
    assert call(api, "POST", "/proxies/p/toxics", {"name": "lat", "type": "latency", "attributes": {"latency": 5}})[0] == 200
    status, error = call(api, "POST", "/proxies/p/toxics/lat", {"attributes": [1, 2]})
    assert status == 400 and "attributes" in error["error"]
    assert call(api, "GET", "/proxies/p/toxics/lat")[1]["attributes"]["latency"] == 5


@pytest.mark.parametrize("request_bytes, status", [
    (b"GET /" + b"a" * 70_000 + b" HTTP/1.1\r\n\r\n", 431),
    (b"GET /version HTTP/1.1\r\nX-Big: " + b"b" * 70_000 + b"\r\n\r\n", 431),
    (b"GET /version HTTP/1.1\r\n" + b"X: y\r\n" * 200 + b"\r\n", 431),
    (b"POST /proxies HTTP/1.1\r\nContent-Length: abc\r\n\r\n", 400),
    (b"POST /proxies HTTP/1.1\r\nContent-Length: \xb2\r\n\r\n", 400),
    # HTTP/1.1 without Host is a 400 before any length is looked at (RFC 9112 3.2, as Toxiproxy's Go server)
    (b"POST /proxies HTTP/1.1\r\nHost: HOST\r\nContent-Length: 99999999999\r\n\r\n", 413),
    (b"POST /proxies HTTP/1.1\r\nContent-Length: 2\r\n\r\n{}", 400),
    (b"NONSENSE\r\n\r\n", 400),
])
def test_malformed_http_is_answered_with_a_json_error(api, request_bytes, status) -> None:
    got, body = raw_exchange(api, request_bytes.replace(b"HOST", f"{api.host}:{api.port}".encode()))
    assert got == status and body["status"] == status
    assert call(api, "GET", "/version")[0] == 200


def test_an_unexpected_handler_error_is_a_json_500_and_one_log_line(api, monkeypatch, caplog) -> None:
    def broken(self: ToxiproxyApi) -> None:
        raise ZeroDivisionError("simulated bug\nsecond line")

    monkeypatch.setattr(ToxiproxyApi, "version", broken)
    status, body = call(api, "GET", "/version")
    assert status == 500 and body["error"] == "ZeroDivisionError: simulated bug second line"
    lines = [r.getMessage() for r in caplog.records]
    assert len(lines) == 1 and "\n" not in lines[0] and not any(r.exc_info for r in caplog.records)


# -- the finish path of a link --------------------------------------------------------------------
def test_write_eof_on_a_socket_whose_peer_is_gone_closes_the_connection_quietly() -> None:
    class GoneTransport:
        def is_closing(self) -> bool:
            return False

        def can_write_eof(self) -> bool:
            return True

        def write_eof(self) -> None:
            raise OSError(errno.ENOTCONN, "Transport endpoint is not connected")

    closed: list[bool] = []
    side = Side(SimpleNamespace(close=lambda: closed.append(True)), None)  # type: ignore[arg-type]
    side.transport = GoneTransport()  # type: ignore[assignment]
    side.write_eof()
    assert closed == [True]
