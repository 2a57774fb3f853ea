"""The sample app's API, idempotent logins, configuration errors and process mode.

Runs against moto servers on this worker's own loopback addresses (no full harness needed).
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from harness.errors import AddressInUseError, ConfigError
from harness.loopback import LoopbackPool, bind_socket
from sample_app import AppConfig, AppServer
from sample_app.config import BreakerSettings, RetrySettings, Timeouts
from sample_app.passwords import decoy_hash, hash_password, verify_password
from sample_app.tables import IDEMPOTENCY_TABLE, SESSIONS_TABLE, TABLE_SPECS, USERS_TABLE
from clocks import ManualClock
from local_regions import AppClient, LocalRegions

ROOT = Path(__file__).resolve().parent.parent
PASSWORD = "correct horse"


@pytest.fixture
def fresh(regions: LocalRegions) -> LocalRegions:
    regions.reset()
    return regions


def fast_config(endpoints: dict[str, str], **overrides) -> AppConfig:
    settings = dict(
        pbkdf2_iterations=1000,
        host="127.0.0.1",
        port=0,
        retry=RetrySettings("standard", 1),
        timeouts=Timeouts(0.3, 2.0),
        breaker=BreakerSettings(consecutive_failures=3, cooldown=5.0),
    )
    settings.update(overrides)
    return AppConfig.resilient(endpoints, **settings)


@pytest.fixture
def app_factory(pool: LoopbackPool):
    started: list[AppServer] = []
    host = pool.take("app")

    def make(config: AppConfig, **kwargs) -> tuple[AppServer, AppClient]:
        server = AppServer(config, host=host, port=0, **kwargs).start()
        started.append(server)
        client = AppClient(server.url)
        clients.append(client)
        return server, client

    clients: list[AppClient] = []
    yield make
    for client in clients:
        client.close()
    for server in started:
        server.stop()


def items(regions: LocalRegions, region: str, table: str) -> list[dict]:
    return regions.client(region).scan(TableName=table)["Items"]


def signup_and_login(client: AppClient, username: str = "ada", key: str | None = None):
    assert client.request("POST", "/users", {"username": username, "password": PASSWORD}).status == 201
    headers = {"Idempotency-Key": key} if key else {}
    return client.request("POST", "/sessions", {"username": username, "password": PASSWORD}, headers)


# ------------------------------------------------------------------------------------------ API flow


def test_full_flow_create_login_validate_logout(fresh, app_factory):
    app, client = app_factory(fast_config(fresh.endpoints))

    created = client.request("POST", "/users", {"username": "ada", "password": PASSWORD})
    assert created.status == 201
    assert created.region == "us-east-1" and created.body["region"] == "us-east-1"
    assert created.headers["x-served-from"] == "dynamodb" and created.body["stale"] is False

    login = client.request("POST", "/sessions", {"username": "ada", "password": PASSWORD})
    assert login.status == 201 and login.body["replayed"] is False
    session = login.body["session"]
    assert session["username"] == "ada"
    assert session["expires_at"] - session["created_at"] == pytest.approx(3600.0)

    valid = client.request("GET", f"/sessions/{session['session_id']}")
    assert valid.status == 200
    assert valid.body["session"] == session and valid.body["source"] == "dynamodb"

    gone = client.request("DELETE", f"/sessions/{session['session_id']}")
    assert gone.status == 200 and gone.body["deleted"] == session["session_id"]
    after = client.request("GET", f"/sessions/{session['session_id']}")
    assert after.status == 404 and after.body["error"] == "not_found" and after.region == "us-east-1"
    assert client.request("DELETE", f"/sessions/{session['session_id']}").status == 404

    # the keep-alive connection carried every request above
    metrics = client.request("GET", "/metrics").body
    assert metrics["requests"]["by_status"] == {"201": 2, "200": 2, "404": 2}
    assert metrics["requests"]["by_route"]["GET /sessions/{id}"] == 2
    assert metrics["requests"]["by_region"] == {"us-east-1": 6}
    assert app.metrics.snapshot()["requests"]["total"] == 7  # the /metrics request itself counted after


def test_password_is_stored_as_salted_pbkdf2(fresh, app_factory):
    _, client = app_factory(fast_config(fresh.endpoints))
    for name in ("ada", "bob"):
        assert client.request("POST", "/users", {"username": name, "password": PASSWORD}).status == 201
    hashes = [item["password_hash"]["S"] for item in items(fresh, "us-east-1", USERS_TABLE)]
    assert len(hashes) == 2 and hashes[0] != hashes[1]  # same password, different salts
    for stored in hashes:
        algorithm, iterations, salt, digest = stored.split("$")
        assert (algorithm, iterations, len(salt), len(digest)) == ("pbkdf2_sha256", "1000", 32, 64)
        assert PASSWORD not in stored


def test_the_unknown_user_decoy_costs_a_real_check_and_matches_no_password():
    # Logins for names that do not exist are checked against the decoy, so they take as long as a
    # wrong password for a real user: same algorithm, same iteration count, same sizes.
    real, decoy = hash_password(PASSWORD, 1000), decoy_hash(1000)
    assert [len(part) for part in decoy.split("$")] == [len(part) for part in real.split("$")]
    assert decoy.split("$")[:2] == real.split("$")[:2] and decoy != decoy_hash(1000)
    assert verify_password(PASSWORD, real) and not verify_password(PASSWORD, decoy)
    assert not verify_password("", decoy)


@pytest.mark.parametrize(
    ("method", "path", "body", "status", "code"),
    [
        ("POST", "/users", {"username": "ada"}, 400, "bad_request"),
        ("POST", "/users", {"username": "ada", "password": "short"}, 400, "bad_request"),
        ("POST", "/users", {"username": "no spaces", "password": PASSWORD}, 400, "bad_request"),
        ("POST", "/users", b"{not json", 400, "bad_request"),
        ("POST", "/users", ["ada", PASSWORD], 400, "bad_request"),
        ("POST", "/sessions", {"username": "ada", "password": "wrong password"}, 401, "invalid_credentials"),
        ("POST", "/sessions", {"username": "nobody", "password": PASSWORD}, 401, "invalid_credentials"),
        ("GET", "/sessions/not-a-session-id", None, 400, "bad_request"),
        ("GET", "/sessions/" + "0" * 32, None, 404, "not_found"),
        ("GET", "/nowhere", None, 404, "not_found"),
        ("PUT", "/users", {}, 405, "method_not_allowed"),
        ("POST", "/users", b"x" * (65 * 1024), 413, "payload_too_large"),
    ],
)
def test_bad_requests_get_clear_json_errors(fresh, app_factory, method, path, body, status, code):
    _, client = app_factory(fast_config(fresh.endpoints))
    assert client.request("POST", "/users", {"username": "ada", "password": PASSWORD}).status == 201
    reply = client.request(method, path, body)
    assert (reply.status, reply.body["error"]) == (status, code)
    assert reply.body["message"] and "\n" not in reply.body["message"]
    assert reply.headers["x-served-by-region"] in ("none", "us-east-1")


def test_duplicate_user_is_409(fresh, app_factory):
    _, client = app_factory(fast_config(fresh.endpoints))
    assert client.request("POST", "/users", {"username": "ada", "password": PASSWORD}).status == 201
    again = client.request("POST", "/users", {"username": "ada", "password": "another password"})
    assert again.status == 409 and again.body["error"] == "user_exists" and again.region == "us-east-1"


def test_expired_session_is_401(fresh, app_factory):
    clock = ManualClock()
    _, client = app_factory(fast_config(fresh.endpoints, session_ttl=60.0), clock=clock)
    session_id = signup_and_login(client).body["session"]["session_id"]
    clock.advance(59)
    assert client.request("GET", f"/sessions/{session_id}").status == 200
    clock.advance(2)
    expired = client.request("GET", f"/sessions/{session_id}")
    assert expired.status == 401 and expired.body["error"] == "session_expired"


def test_healthz_reports_breakers(fresh, app_factory):
    _, client = app_factory(fast_config(fresh.endpoints))
    health = client.request("GET", "/healthz")
    assert health.status == 200
    assert health.body["breakers"] == {"us-east-1": "closed", "us-west-2": "closed"}
    assert health.body["region"] == "us-east-1" and health.body["mode"] == "resilient"


# ------------------------------------------------------------------------------------------ idempotency


def test_same_idempotency_key_twice_gives_one_session(fresh, app_factory):
    _, client = app_factory(fast_config(fresh.endpoints))
    first = signup_and_login(client, key="login-1")
    again = client.request("POST", "/sessions", {"username": "ada", "password": PASSWORD}, {"Idempotency-Key": "login-1"})
    assert first.status == again.status == 201
    assert again.body["session"] == first.body["session"]
    assert again.body["replayed"] is True and again.headers["idempotent-replayed"] == "true"
    assert len(items(fresh, "us-east-1", SESSIONS_TABLE)) == 1
    assert len(items(fresh, "us-east-1", IDEMPOTENCY_TABLE)) == 1

    other = client.request("POST", "/sessions", {"username": "ada", "password": PASSWORD}, {"Idempotency-Key": "login-2"})
    assert other.body["session"]["session_id"] != first.body["session"]["session_id"]
    assert len(items(fresh, "us-east-1", SESSIONS_TABLE)) == 2


def test_client_token_in_body_works_like_the_header(fresh, app_factory):
    _, client = app_factory(fast_config(fresh.endpoints))
    body = {"username": "ada", "password": PASSWORD, "client_token": "tok-1"}
    first = signup_and_login(client) and client.request("POST", "/sessions", body)
    again = client.request("POST", "/sessions", body)
    assert again.body["replayed"] is True and again.body["session"] == first.body["session"]


def test_replay_with_wrong_password_is_still_rejected(fresh, app_factory):
    _, client = app_factory(fast_config(fresh.endpoints))
    signup_and_login(client, key="k")
    stolen = client.request("POST", "/sessions", {"username": "ada", "password": "not the password"}, {"Idempotency-Key": "k"})
    assert stolen.status == 401


def test_replay_after_logout_does_not_revive_the_session(fresh, app_factory):
    _, client = app_factory(fast_config(fresh.endpoints))
    session_id = signup_and_login(client, key="k").body["session"]["session_id"]
    assert client.request("DELETE", f"/sessions/{session_id}").status == 200
    replay = client.request("POST", "/sessions", {"username": "ada", "password": PASSWORD}, {"Idempotency-Key": "k"})
    assert replay.body["replayed"] is True and replay.body["session"]["session_id"] == session_id
    # Only the logout's tombstone is stored (it replicates, unlike a delete), and it stays revoked.
    assert [set(i) for i in items(fresh, "us-east-1", SESSIONS_TABLE)] == [{"session_id", "revoked_at", "expires_at"}]
    assert client.request("GET", f"/sessions/{session_id}").status == 404


def test_concurrent_duplicate_logins_create_one_session(fresh, app_factory):
    app, client = app_factory(fast_config(fresh.endpoints))
    assert client.request("POST", "/users", {"username": "ada", "password": PASSWORD}).status == 201

    def login(_: int):
        with AppClient(app.url) as own:
            return own.request("POST", "/sessions", {"username": "ada", "password": PASSWORD}, {"Idempotency-Key": "dup"})

    with ThreadPoolExecutor(8) as executor:
        replies = list(executor.map(login, range(8)))
    assert {reply.status for reply in replies} == {201}, [r.body for r in replies]
    assert len({reply.body["session"]["session_id"] for reply in replies}) == 1
    assert len(items(fresh, "us-east-1", SESSIONS_TABLE)) == 1
    assert len(items(fresh, "us-east-1", IDEMPOTENCY_TABLE)) == 1


def test_botocore_retry_after_a_lost_response_does_not_write_twice(fresh, app_factory):
    """The transaction lands, the answer is lost (500); botocore retries; the retry finds the
    idempotency record and the user gets the original session."""
    app, client = app_factory(fast_config(fresh.endpoints, retry=RetrySettings("standard", 3)))
    assert client.request("POST", "/users", {"username": "ada", "password": PASSWORD}).status == 201
    fresh.servers["us-east-1"].faults.arm("TransactWriteItems", times=1)

    login = client.request("POST", "/sessions", {"username": "ada", "password": PASSWORD})
    assert login.status == 201 and login.body["replayed"] is True
    assert fresh.servers["us-east-1"].faults.lost == ["TransactWriteItems"]
    assert [item["session_id"]["S"] for item in items(fresh, "us-east-1", SESSIONS_TABLE)] == [
        login.body["session"]["session_id"]
    ]
    assert app.metrics.snapshot()["retries"] == {"total": 1, "by_region": {"us-east-1": 1}}


# ------------------------------------------------------------------------------------------ server lifecycle


def test_stop_ends_keep_alive_connections_and_leaves_no_threads(fresh, pool):
    before = set(threading.enumerate())
    app = AppServer(fast_config(fresh.endpoints), host=pool.take("app"), port=0).start()
    idle = AppClient(app.url)
    assert idle.request("GET", "/healthz").status == 200  # connection now idle in keep-alive
    app.stop()
    idle.close()
    assert set(threading.enumerate()) - before == set()


# ------------------------------------------------------------------------------------------ configuration errors


def test_unknown_region_is_one_clear_error():
    with pytest.raises(ConfigError, match="unknown region 'us-east-9'"):
        AppConfig.resilient({"us-east-9": "http://127.0.0.1:1"}, regions=("us-east-9",))


def test_missing_endpoint_names_the_variable():
    with pytest.raises(ConfigError, match="CHAOS_APP_ENDPOINT_US_WEST_2"):
        AppConfig.resilient({"us-east-1": "http://127.0.0.1:1"})


def test_missing_table_is_one_clear_error(regions, pool):
    regions.reset(tables_in=["us-east-1"])  # us-west-2 has no tables
    with pytest.raises(ConfigError, match=r"table 'sample-users' does not exist in us-west-2"):
        AppServer(fast_config(regions.endpoints), host=pool.take("app"), port=0).start()


def test_port_in_use_is_one_clear_error(fresh, pool):
    host = pool.take("app")
    taken = bind_socket(host, 0)
    taken.listen()
    app = AppServer(fast_config(fresh.endpoints), host=host, port=taken.getsockname()[1])
    try:
        with pytest.raises(AddressInUseError, match=f"{host}:{taken.getsockname()[1]}: address already in use"):
            app.start()
    finally:
        app.stop()
        taken.close()


def test_non_loopback_host_is_refused(fresh):
    with pytest.raises(ConfigError, match="non-loopback"):
        AppServer(fast_config(fresh.endpoints), host="0.0.0.0")


def test_from_env_reads_every_setting():
    env = {
        "CHAOS_APP_HOST": "127.0.0.9",
        "CHAOS_APP_PORT": "0",
        "CHAOS_APP_REGIONS": "us-east-1,us-west-2",
        "CHAOS_APP_ENDPOINT_US_EAST_1": "http://dynamodb.us-east-1.amazonaws.com:4566",
        "CHAOS_APP_ENDPOINT_US_WEST_2": "http://dynamodb.us-west-2.amazonaws.com:4566",
        "CHAOS_APP_RETRY_MODE": "adaptive",
        "CHAOS_APP_MAX_ATTEMPTS": "4",
        "CHAOS_APP_CONNECT_TIMEOUT": "0.25",
        "CHAOS_APP_READ_TIMEOUT": "0.75",
        "CHAOS_APP_BREAKER_FAILURES": "5",
        "CHAOS_APP_BREAKER_COOLDOWN": "2.5",
        "CHAOS_APP_CACHE_TTL": "12",
        "CHAOS_DNS_SERVER": "127.0.0.53:5353",
        "CHAOS_DNS_ZONES": "amazonaws.com,example.test",
    }
    config = AppConfig.from_env(env)
    assert (config.host, config.port, config.regions) == ("127.0.0.9", 0, ("us-east-1", "us-west-2"))
    assert config.endpoints["us-west-2"] == "http://dynamodb.us-west-2.amazonaws.com:4566"
    assert config.retry == RetrySettings("adaptive", 4)
    assert config.timeouts == Timeouts(0.25, 0.75)
    assert (config.breaker.consecutive_failures, config.breaker.cooldown) == (5, 2.5)
    assert config.cache_ttl == 12
    assert config.dns_server == ("127.0.0.53", 5353)
    assert config.dns_zones == ("amazonaws.com", "example.test")


def test_from_env_naive_mode_keeps_naive_defaults():
    config = AppConfig.from_env({"CHAOS_APP_MODE": "naive", "CHAOS_APP_ENDPOINT_US_EAST_1": "http://127.0.0.1:1"})
    assert config.mode == "naive" and config.regions == ("us-east-1",)
    assert config.retry == RetrySettings("legacy", 10)
    assert config.timeouts == Timeouts(60.0, 60.0) and config.cache_ttl == 0


@pytest.mark.parametrize(
    ("env", "message"),
    [
        ({"CHAOS_APP_RETRY_MODE": "eager"}, "CHAOS_APP_RETRY_MODE='eager' is not one of standard, legacy, adaptive"),
        ({"CHAOS_APP_PORT": "http"}, "CHAOS_APP_PORT='http' is not an integer"),
        ({"CHAOS_APP_READ_TIMEOUT": "soon"}, "CHAOS_APP_READ_TIMEOUT='soon' is not a number"),
        ({"CHAOS_DNS_SERVER": "127.0.0.1"}, "CHAOS_DNS_SERVER='127.0.0.1' is not host:port"),
        ({"CHAOS_APP_MODE": "heroic"}, "CHAOS_APP_MODE='heroic' is not one of resilient, naive"),
        ({"CHAOS_APP_ENDPOINT_US_EAST_1": "dynamodb:80"}, "must start with http:// or https://"),
    ],
)
def test_from_env_bad_values_name_the_variable(env, message):
    base = {"CHAOS_APP_ENDPOINT_US_EAST_1": "http://127.0.0.1:1", "CHAOS_APP_ENDPOINT_US_WEST_2": "http://127.0.0.1:2"}
    with pytest.raises(ConfigError) as caught:
        AppConfig.from_env({**base, **env})
    assert message in str(caught.value) and "\n" not in str(caught.value)


def test_table_specs_are_plain_create_table_requests():
    assert {spec["TableName"] for spec in TABLE_SPECS} == {USERS_TABLE, SESSIONS_TABLE, IDEMPOTENCY_TABLE}
    for spec in TABLE_SPECS:
        assert set(spec) == {"TableName", "KeySchema", "AttributeDefinitions", "BillingMode"}


# ------------------------------------------------------------------------------------------ own process


def test_runs_as_its_own_process_configured_by_environment(fresh, pool):
    env = {
        **os.environ,
        "PYTHONPATH": str(ROOT),
        "CHAOS_APP_HOST": pool.take("app-process"),
        "CHAOS_APP_PORT": "0",
        "CHAOS_APP_ENDPOINT_US_EAST_1": fresh.endpoints["us-east-1"],
        "CHAOS_APP_ENDPOINT_US_WEST_2": fresh.endpoints["us-west-2"],
        "CHAOS_APP_PBKDF2_ITERATIONS": "1000",
    }
    process = subprocess.Popen(
        [sys.executable, "-m", "sample_app"], env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )
    try:
        banner = process.stdout.readline()
        assert banner.startswith("sample_app listening on http://"), process.stderr.read()
        url = banner.split()[3]
        with AppClient(url) as client:
            reply = signup_and_login(client)
            assert reply.status == 201 and reply.region == "us-east-1"
        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=10) == 0
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
        process.stdout.close()
        process.stderr.close()


def test_process_bad_config_exits_with_one_line(tmp_path):
    env = {k: v for k, v in os.environ.items() if not k.startswith("CHAOS_")}
    env.update({"PYTHONPATH": str(ROOT), "CHAOS_APP_REGIONS": "us-east-1,mars-north-1"})
    done = subprocess.run([sys.executable, "-m", "sample_app"], env=env, capture_output=True, text=True, timeout=30)
    assert done.returncode == 2
    assert done.stderr == "sample_app: unknown region 'mars-north-1' (not a DynamoDB region botocore knows)\n"
