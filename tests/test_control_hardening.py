"""The control API against hostile local callers (issue 12): tokens, browsers, bad input, idle clients.

The server runs in process over a harness whose only part is ``Chaos`` with no components: every
request here is refused or rejected before a fault would need one, which is what is checked.
"""

from __future__ import annotations

import json
import socket
import stat
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from harness.control import ControlApi, ControlServer, RemoteHarness
from harness.control import server as control_server
from harness.control.token import TOKEN_FILE_VARIABLE, TOKEN_VARIABLE, default_token_path, find_token
from harness.errors import FaultOptionError, HarnessError
from harness.loopback import LoopbackPool
from hostile import StubHarness, exchange, json_call


@pytest.fixture(autouse=True)
def private_token_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("XDG_RUNTIME_DIR", str(tmp_path / "run"))
    monkeypatch.delenv(TOKEN_VARIABLE, raising=False)
    monkeypatch.delenv(TOKEN_FILE_VARIABLE, raising=False)


@pytest.fixture
def control() -> Iterator[ControlServer]:
    with ControlServer(StubHarness(), LoopbackPool().take("control"), 0) as server:
        yield server


def request(server: ControlServer, method: str, path: str, body: bytes | None = None, *,
            headers: dict[str, str] | None = None, token: str | None = "server") -> tuple[int, dict | None]:
    """``token``: "server" sends the server's own token, None none, anything else that text."""
    sent = {} if token is None else {"Authorization": f"Bearer {server.token if token == 'server' else token}"}
    return json_call(server.host, server.port, method, path, raw=body, headers={**sent, **(headers or {})})


def raw_exchange(server: ControlServer, data: bytes) -> tuple[int, dict]:
    return exchange(server.host, server.port, data)


# -- token ----------------------------------------------------------------------------------------
def test_the_token_file_is_0600_per_port_and_removed_on_stop(tmp_path) -> None:
    with ControlServer(StubHarness(), LoopbackPool().take("control"), 0) as server:
        path = server.token_file
        assert path == default_token_path(server.port) and str(tmp_path / "run") in str(path)
        assert stat.S_IMODE(path.stat().st_mode) == 0o600 and stat.S_IMODE(path.parent.stat().st_mode) == 0o700
        assert path.read_text().strip() == server.token and len(server.token) >= 32
        assert find_token(server.port) == server.token
        assert RemoteHarness(server.url).state()["describe"] == {"harness": "stub"}  # found the file itself
    assert not path.exists()


@pytest.mark.parametrize("token", [None, "", "wrong", "Bearer"])
def test_missing_or_wrong_token_is_401_json_and_changes_nothing(control, token) -> None:
    body = json.dumps({"fault": "dns.servfail", "options": {}}).encode()
    status, payload = request(control, "POST", "/v1/faults", body, token=token)
    assert status == 401 and "token" in payload["error"]
    assert control.harness.chaos.history == []


def test_clients_take_the_token_from_env_then_env_file_then_the_port_file(control, tmp_path, monkeypatch) -> None:
    other = tmp_path / "other.token"
    other.write_text("not-it\n")
    monkeypatch.setenv(TOKEN_FILE_VARIABLE, str(other))
    with pytest.raises(HarnessError, match="refused the token"):
        RemoteHarness(control.url)
    monkeypatch.setenv(TOKEN_VARIABLE, control.token)  # the variable wins over the file
    assert RemoteHarness(control.url).state()["faults"] == []
    monkeypatch.delenv(TOKEN_VARIABLE)
    other.write_text(control.token + "\n")
    assert RemoteHarness(control.url).state()["faults"] == []


def test_a_given_token_and_token_file_are_used(tmp_path) -> None:
    path = tmp_path / "sub" / "t.token"
    with ControlServer(StubHarness(), LoopbackPool().take("control"), 0, token="given-token", token_file=path) as server:
        assert path.read_text().strip() == "given-token"
        assert RemoteHarness(server.url, token="given-token").state()["faults"] == []


# -- browsers -------------------------------------------------------------------------------------
@pytest.mark.parametrize("headers", [
    {"Origin": "http://evil.example"},
    {"User-Agent": "Mozilla/5.0 (Windows NT 10.0; Win64; x64) Chrome/130.0"},
    {"Content-Type": "text/plain"},
    {"Content-Type": "application/x-www-form-urlencoded"},
    {"Host": "attacker.example"},
])
def test_browser_looking_requests_are_403_even_with_the_token(control, headers) -> None:
    body = json.dumps({"fault": "dns.servfail", "options": {}}).encode()
    status, payload = request(control, "POST", "/v1/faults", body, headers=headers)
    assert status == 403 and payload["error"]
    assert request(control, "GET", "/v1/state", headers={"Host": "attacker.example"})[0] == 403
    assert control.harness.chaos.history == []


# -- bad input ------------------------------------------------------------------------------------
@pytest.mark.parametrize("option, value", [
    ("seed", "1e999"), ("seed", "NaN"), ("probability", "NaN"), ("seed", str(10**30)), ("seed", '"9" ')])
def test_non_finite_and_out_of_range_fault_options_are_400_naming_the_option(control, option, value) -> None:
    body = ('{"fault": "dns.servfail", "options": {"%s": %s}}' % (option, value)).encode()
    status, payload = request(control, "POST", "/v1/faults", body)
    if value == '"9" ':  # a number as text is coerced, then the fault needs the DNS server: 409
        assert status == 409
        return
    assert status == 400 and option in payload["error"] and payload["type"] == "FaultOptionError", payload


@pytest.mark.parametrize("fault, option", [("dns.delay", "latency"), ("health.flap", "jitter"),
                                           ("network.latency", "latency"), ("network.latency", "jitter")])
def test_infinite_latency_and_jitter_are_option_errors(fault, option) -> None:
    from faults import create_fault

    for value in (float("inf"), float("nan"), 10**400, "1e999"):
        with pytest.raises(FaultOptionError, match=rf"option '{option}' must be"):
            create_fault(fault, {option: value})


def test_hostile_bodies_and_headers_get_4xx_json(control) -> None:
    assert request(control, "POST", "/v1/faults", b"[" * 1_000_000)[0] == 400
    assert request(control, "POST", "/v1/faults", b"\xff\xfe")[0] == 400
    # HTTP/1.1 needs a Host header (RFC 9112 3.2): without one it is a 400 before the length counts
    auth = f"Host: {control.host}:{control.port}\r\nAuthorization: Bearer {control.token}\r\n".encode()
    status, payload = raw_exchange(control, b"POST /v1/faults HTTP/1.1\r\n" + auth + b"Content-Length: abc\r\n\r\n")
    assert status == 400 and "Content-Length" in payload["error"]
    assert raw_exchange(control, b"POST /v1/faults HTTP/1.1\r\n" + auth + b"Content-Length: 99999999\r\n\r\n")[0] == 413
    assert raw_exchange(control, b"GET /v1/state HTTP/1.1\r\nX: " + b"x" * 70_000 + b"\r\n\r\n")[0] == 431
    assert raw_exchange(control, b"GET /" + b"x" * 70_000 + b" HTTP/1.1\r\n\r\n")[0] in (414, 431)
    assert raw_exchange(control, b"NONSENSE\r\n\r\n")[0] == 400
    assert request(control, "GET", "/v1/state")[0] == 200


def test_an_unexpected_error_is_a_json_500_and_one_log_line(control, monkeypatch, caplog) -> None:
    def broken(self, **kw):
        raise KeyError("simulated\nbug")

    monkeypatch.setattr(ControlApi, "state", broken)
    monkeypatch.setattr(control.api, "routes", ControlApi(control.harness).routes)
    status, payload = request(control, "GET", "/v1/state")
    assert status == 500 and payload["error"] == "KeyError: 'simulated\\nbug'"
    assert [r.levelname for r in caplog.records] == ["ERROR"] and not caplog.records[0].exc_info


# -- idle and excess connections ------------------------------------------------------------------
def test_idle_connections_neither_pin_threads_nor_block_stop(monkeypatch) -> None:
    monkeypatch.setattr(control_server, "REQUEST_TIMEOUT", 3600.0)  # stop() must not rely on the timeout
    server = ControlServer(StubHarness(), LoopbackPool().take("control"), 0).start()
    before = threading.active_count()
    idle = [socket.create_connection((server.host, server.port), timeout=10)
            for _ in range(control_server.MAX_CONNECTIONS + 8)]
    try:
        extra = raw_exchange(server, b"GET /v1/state HTTP/1.1\r\n\r\n")
        assert extra[0] == 503  # over the limit: answered without a thread
        assert threading.active_count() - before <= control_server.MAX_CONNECTIONS
        stopper = threading.Thread(target=server.stop)
        stopper.start()
        stopper.join(timeout=30)
        assert not stopper.is_alive(), "stop() waited on idle clients"
        assert idle[0].recv(1) == b""  # its connection was shut down, not left waiting
    finally:
        for sock in idle:
            sock.close()
        server.stop()
    assert threading.active_count() <= before
