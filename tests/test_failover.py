"""Circuit breakers, the regional router, failover and fail-back, static stability, naive mode.

Breaker cool-downs run on a fake clock; region outages are real (a moto server stopped, or an
endpoint pointing at a loopback address nothing listens on).
"""

from __future__ import annotations

import botocore.exceptions
import pytest

from harness.loopback import LoopbackPool
from sample_app import AppConfig, AppServer
from sample_app.config import BreakerSettings, RetrySettings, Timeouts
from sample_app.failover import (
    CLOSED,
    HALF_OPEN,
    OPEN,
    CircuitBreaker,
    ConsecutiveFailures,
    FailureRate,
    NoRegionAvailable,
    RegionalRouter,
    default_classifier,
)
from sample_app.tables import SESSIONS_TABLE
from clocks import ManualClock
from local_regions import AppClient, LocalRegions

PASSWORD = "correct horse"


def client_error(code: str, status: int) -> botocore.exceptions.ClientError:
    return botocore.exceptions.ClientError(
        {"Error": {"Code": code, "Message": code}, "ResponseMetadata": {"HTTPStatusCode": status}}, "GetItem"
    )


# ------------------------------------------------------------------------------------------ classification


@pytest.mark.parametrize(
    ("exc", "counts"),
    [
        (botocore.exceptions.EndpointConnectionError(endpoint_url="http://x"), True),
        (botocore.exceptions.ConnectTimeoutError(endpoint_url="http://x"), True),
        (botocore.exceptions.ReadTimeoutError(endpoint_url="http://x"), True),
        (botocore.exceptions.ConnectionClosedError(endpoint_url="http://x"), True),
        (client_error("InternalServerError", 500), True),
        (client_error("ServiceUnavailable", 503), True),
        (client_error("ProvisionedThroughputExceededException", 400), True),
        (client_error("ThrottlingException", 400), True),
        (client_error("ConditionalCheckFailedException", 400), False),
        (client_error("ValidationException", 400), False),
        (client_error("ResourceNotFoundException", 400), False),
        (ValueError("a bug of ours"), False),
    ],
)
def test_classifier_counts_outages_not_answers(exc, counts):
    assert default_classifier().counts(exc) is counts


# ------------------------------------------------------------------------------------------ breaker


def make_breaker(clock: ManualClock, log: list | None = None) -> CircuitBreaker:
    return CircuitBreaker(
        "us-east-1",
        trip=ConsecutiveFailures(3) | FailureRate(0.5, window=10, min_calls=6),
        cooldown=5.0,
        clock=clock,
        on_change=(lambda name, old, new: log.append((old, new, clock()))) if log is not None else None,
    )


def test_breaker_opens_after_consecutive_failures_and_recovers_through_a_probe():
    clock, log = ManualClock(), []
    breaker = make_breaker(clock, log)
    for _ in range(2):
        assert breaker.try_acquire()
        breaker.record_failure()
    assert breaker.state == CLOSED
    assert breaker.try_acquire()
    breaker.record_failure()
    assert breaker.state == OPEN and not breaker.try_acquire()

    clock.advance(4.9)
    assert breaker.state == OPEN and not breaker.try_acquire()
    clock.advance(0.1)
    assert breaker.state == HALF_OPEN
    assert breaker.try_acquire()  # the probe
    assert not breaker.try_acquire()  # only one probe at a time
    breaker.record_failure()  # probe failed: open again, for a whole new cooldown
    assert breaker.state == OPEN
    clock.advance(4.9)
    assert not breaker.try_acquire()
    clock.advance(0.1)
    assert breaker.try_acquire()
    breaker.record_success()
    assert breaker.state == CLOSED and breaker.try_acquire()

    start = 1_000_000.0
    assert log == [
        (CLOSED, OPEN, start),
        (OPEN, HALF_OPEN, start + 5.0),
        (HALF_OPEN, OPEN, start + 5.0),
        (OPEN, HALF_OPEN, start + 10.0),
        (HALF_OPEN, CLOSED, start + 10.0),
    ]


def test_success_resets_the_consecutive_run():
    breaker = make_breaker(ManualClock())
    for outcome in (False, False, True, False, False):
        breaker.try_acquire()
        breaker.record_success() if outcome else breaker.record_failure()
    assert breaker.state == CLOSED


def test_failure_rate_trips_a_flapping_region_that_never_fails_three_times_in_a_row():
    breaker = make_breaker(ManualClock())
    for outcome in (True, False, True, False, True):
        breaker.try_acquire()
        breaker.record_success() if outcome else breaker.record_failure()
    assert breaker.state == CLOSED  # 5 calls: below min_calls
    breaker.try_acquire()
    breaker.record_failure()  # 3 of 6 failed = 50 %
    assert breaker.state == OPEN


def test_closing_forgets_old_failures():
    clock = ManualClock()
    breaker = make_breaker(clock)
    for _ in range(3):
        breaker.record_failure()
    clock.advance(5)
    breaker.try_acquire()
    breaker.record_success()
    breaker.record_failure()
    breaker.record_failure()
    assert breaker.state == CLOSED  # the run restarted at the close


# ------------------------------------------------------------------------------------------ router


def test_router_moves_on_within_a_call_and_skips_open_breakers():
    clock = ManualClock()
    east, west = make_breaker(clock), CircuitBreaker("us-west-2", trip=ConsecutiveFailures(3), cooldown=5, clock=clock)
    failovers = []
    router = RegionalRouter([("east", east), ("west", west)], default_classifier(), on_failover=lambda a, b: failovers.append((a, b)))
    calls = []

    def operation(target: str) -> str:
        calls.append(target)
        if target == "east":
            raise botocore.exceptions.EndpointConnectionError(endpoint_url="http://east")
        return f"served by {target}"

    for _ in range(3):
        served = router.call(operation)
        assert (served.value, served.region, served.failed_over) == ("served by west", "us-west-2", True)
    assert calls == ["east", "west"] * 3 and east.state == OPEN
    calls.clear()
    assert router.call(operation).region == "us-west-2"
    assert calls == ["west"]  # open breaker: east not even tried
    assert failovers == [("us-east-1", "us-west-2")] * 4
    assert router.preferred() == "us-west-2"


def test_router_returns_answers_that_do_not_count_without_failing_over():
    east = make_breaker(ManualClock())
    router = RegionalRouter([("east", east), ("west", make_breaker(ManualClock()))], default_classifier())

    def operation(target: str) -> None:
        raise client_error("ConditionalCheckFailedException", 400)

    with pytest.raises(botocore.exceptions.ClientError):
        router.call(operation)
    assert east.state == CLOSED


def test_router_reports_every_region_when_none_can_serve():
    router = RegionalRouter([("east", make_breaker(ManualClock()))], default_classifier())

    def operation(target: str) -> None:
        raise botocore.exceptions.ReadTimeoutError(endpoint_url="http://east")

    with pytest.raises(NoRegionAvailable, match="us-east-1: ReadTimeoutError"):
        router.call(operation)


# ------------------------------------------------------------------------------------------ the app under outages


@pytest.fixture
def fresh(regions: LocalRegions):
    regions.reset()
    yield regions
    for region, server in regions.servers.items():  # a test that took a region down gives it back
        if not server.running:
            regions.bring_back(region)


@pytest.fixture
def launch(pool: LoopbackPool):
    servers: list[AppServer] = []
    clients: list[AppClient] = []
    host = pool.take("app")

    def start(config: AppConfig, **clocks) -> tuple[AppServer, AppClient]:
        server = AppServer(config, host=host, port=0, **clocks).start()
        servers.append(server)
        clients.append(AppClient(server.url))
        return server, clients[-1]

    yield start
    for client in clients:
        client.close()
    for server in servers:
        server.stop()


FAST = dict(
    pbkdf2_iterations=1000,
    retry=RetrySettings("standard", 1),
    timeouts=Timeouts(0.3, 2.0),
    breaker=BreakerSettings(consecutive_failures=3, cooldown=5.0),
)


def login(client: AppClient, key: str | None = None):
    return client.request(
        "POST", "/sessions", {"username": "ada", "password": PASSWORD}, {"Idempotency-Key": key} if key else {}
    )


def seed_user(regions: LocalRegions, client: AppClient) -> None:
    """Create the user through the app (us-east-1) and replicate it, as a global table would."""
    assert client.request("POST", "/users", {"username": "ada", "password": PASSWORD}).status == 201
    regions.replicate("us-east-1", "us-west-2")


def test_unreachable_primary_fails_over_to_us_west_2(fresh, launch):
    endpoints = {"us-east-1": fresh.unreachable_url(), "us-west-2": fresh.endpoints["us-west-2"]}
    app, client = launch(AppConfig.resilient(endpoints, **FAST), breaker_clock=ManualClock())
    created = client.request("POST", "/users", {"username": "ada", "password": PASSWORD})
    assert created.status == 201 and created.region == "us-west-2" and created.body["failed_over"] is True

    session = login(client)
    assert session.status == 201 and session.region == "us-west-2"
    valid = client.request("GET", f"/sessions/{session.body['session']['session_id']}")
    assert valid.status == 200 and valid.region == "us-west-2"

    metrics = app.metrics.snapshot()
    assert metrics["breakers"]["states"] == {"us-east-1": OPEN, "us-west-2": CLOSED}
    assert [(t["from"], t["to"]) for t in metrics["breakers"]["transitions"]] == [(CLOSED, OPEN)]
    assert metrics["failovers"]["by_path"] == {"us-east-1->us-west-2": 4}  # per DynamoDB call; login makes 2
    assert metrics["requests"]["by_region"] == {"us-west-2": 3}
    assert client.request("GET", "/healthz").body["region"] == "us-west-2"


def test_stopped_primary_fails_over_then_fails_back_after_a_half_open_probe(fresh, launch):
    clock = ManualClock()
    app, client = launch(AppConfig.resilient(fresh.endpoints, **FAST), breaker_clock=clock)
    seed_user(fresh, client)
    first = login(client)
    assert first.region == "us-east-1"
    fresh.replicate("us-east-1", "us-west-2")
    session_path = f"/sessions/{first.body['session']['session_id']}"

    fresh.take_down("us-east-1")
    for _ in range(4):
        during = client.request("GET", session_path)
        assert during.status == 200 and during.region == "us-west-2" and during.body["source"] == "dynamodb"
    assert app.service.router.breakers()["us-east-1"].state == OPEN

    fresh.bring_back("us-east-1")
    assert client.request("GET", session_path).region == "us-west-2"  # still cooling down
    clock.advance(5.0)
    back = client.request("GET", session_path)
    assert back.status == 200 and back.region == "us-east-1" and back.body["failed_over"] is False
    assert client.request("GET", session_path).region == "us-east-1"
    transitions = [(t["region"], t["from"], t["to"]) for t in app.metrics.snapshot()["breakers"]["transitions"]]
    assert transitions == [
        ("us-east-1", CLOSED, OPEN),
        ("us-east-1", OPEN, HALF_OPEN),
        ("us-east-1", HALF_OPEN, CLOSED),
    ]


def test_failed_probe_keeps_traffic_on_the_secondary(fresh, launch):
    clock = ManualClock()
    app, client = launch(AppConfig.resilient(fresh.endpoints, **FAST), breaker_clock=clock)
    seed_user(fresh, client)
    fresh.take_down("us-east-1")
    for _ in range(3):
        assert login(client).region == "us-west-2"
    clock.advance(5.0)
    assert login(client).region == "us-west-2"  # the probe to us-east-1 failed inside this request
    assert app.service.router.breakers()["us-east-1"].state == OPEN


def test_after_failing_back_a_session_written_in_us_west_2_is_read_there_until_it_replicates(fresh, launch):
    """Fail-back while replication lags: us-east-1 has not heard of the session the user got in
    us-west-2; the app looks there instead of telling the user the session does not exist."""
    clock = ManualClock()
    app, client = launch(AppConfig.resilient(fresh.endpoints, **FAST), breaker_clock=clock)
    seed_user(fresh, client)
    fresh.take_down("us-east-1")
    written = login(client)
    assert written.status == 201 and written.region == "us-west-2"
    fresh.bring_back("us-east-1")
    clock.advance(5.0)  # the breaker half-opens; nothing has replicated to us-east-1 yet
    path = f"/sessions/{written.body['session']['session_id']}"
    lagging = client.request("GET", path)
    assert lagging.status == 200 and lagging.region == "us-west-2" and lagging.body["replication_lag"] is True
    assert lagging.body["source"] == "dynamodb"
    assert app.service.router.breakers()["us-east-1"].state == CLOSED  # us-east-1 answered: it is back
    assert client.request("DELETE", path).status == 200
    assert client.request("GET", path).status == 404  # the tombstone is read wherever it is


def test_login_retried_after_failover_returns_the_same_session(fresh, launch):
    """The first attempt landed in us-east-1, the client retried after the region vanished; the
    retry lands in us-west-2 before replication and still yields the same session id."""
    _, client = launch(AppConfig.resilient(fresh.endpoints, **FAST), breaker_clock=ManualClock())
    seed_user(fresh, client)
    first = login(client, key="retry-me")
    assert first.region == "us-east-1"
    fresh.take_down("us-east-1")
    retried = login(client, key="retry-me")
    assert retried.status == 201 and retried.region == "us-west-2"
    assert retried.body["session"]["session_id"] == first.body["session"]["session_id"]
    fresh.bring_back("us-east-1")
    fresh.replicate("us-west-2", "us-east-1")  # replication converges on one item, not two
    assert len(fresh.client("us-east-1").scan(TableName=SESSIONS_TABLE)["Items"]) == 1


def test_static_stability_serves_recent_sessions_when_both_regions_are_down(fresh, launch):
    wall = ManualClock()
    config = AppConfig.resilient(fresh.endpoints, cache_ttl=30.0, **FAST)
    _, client = launch(config, clock=wall, breaker_clock=ManualClock())
    seed_user(fresh, client)
    session_id = login(client).body["session"]["session_id"]
    other_id = login(client).body["session"]["session_id"]
    assert client.request("GET", f"/sessions/{session_id}").status == 200

    fresh.take_down("us-east-1")
    fresh.take_down("us-west-2")
    stale = client.request("GET", f"/sessions/{session_id}")
    assert stale.status == 200
    assert stale.body["source"] == "cache" and stale.body["stale"] is True and stale.body["region"] is None
    assert stale.headers["x-served-from"] == "cache" and stale.body["session"]["username"] == "ada"

    unknown = client.request("GET", "/sessions/" + "f" * 32)
    assert unknown.status == 503 and unknown.body["error"] == "unavailable"
    assert login(client).status == 503  # logins never come from a cache
    assert client.request("DELETE", f"/sessions/{other_id}").status == 503
    assert client.request("GET", f"/sessions/{other_id}").status == 503  # logged out: not revived

    wall.advance(31)
    assert client.request("GET", f"/sessions/{session_id}").status == 503  # too old to trust


def test_naive_app_fails_when_the_primary_is_down(fresh, launch):
    config = AppConfig.naive(fresh.endpoints, pbkdf2_iterations=1000, retry=RetrySettings("legacy", 2))
    app, client = launch(config)
    seed_user(fresh, client)
    session_id = login(client).body["session"]["session_id"]
    assert client.request("GET", f"/sessions/{session_id}").status == 200

    fresh.take_down("us-east-1")
    for _ in range(4):
        assert login(client).status == 503
    down = client.request("GET", f"/sessions/{session_id}")
    assert down.status == 503 and down.headers["x-served-by-region"] == "none"

    metrics = app.metrics.snapshot()
    assert metrics["requests"]["by_region"] == {"us-east-1": 3}  # never us-west-2
    assert metrics["retries"]["by_region"]["us-east-1"] == 5  # one legacy retry per failed call
    assert metrics["breakers"]["transitions"] == [] and metrics["failovers"]["total"] == 0


def test_reset_in_place_forgets_breakers_cache_and_counts_on_the_same_listener(fresh, launch):
    """Between tests the harness resets a running app instead of restarting it: the next test must
    see closed breakers, an empty static-stability cache and zeroed metrics, on the same address."""
    config = AppConfig.resilient(fresh.endpoints, cache_ttl=30.0, **FAST)
    app, client = launch(config, clock=ManualClock(), breaker_clock=ManualClock())
    url = app.url
    seed_user(fresh, client)
    session_path = f"/sessions/{login(client).body['session']['session_id']}"
    fresh.replicate("us-east-1", "us-west-2")
    fresh.take_down("us-east-1")
    for _ in range(4):
        assert client.request("GET", session_path).region == "us-west-2"
    assert app.service.router.breakers()["us-east-1"].state == OPEN
    fresh.bring_back("us-east-1")

    app.drain()  # ends the client's keep-alive connection and waits for requests in flight
    app.metrics.reset()
    app.reset()
    client.close()

    assert app.url == url and app.running
    with AppClient(url) as after:
        health = after.request("GET", "/healthz")
        assert health.status == 200 and health.body["breakers"] == {"us-east-1": "closed", "us-west-2": "closed"}
        metrics = after.request("GET", "/metrics").body
        assert metrics["breakers"] == {"states": {"us-east-1": "closed", "us-west-2": "closed"}, "transitions": []}
        assert metrics["failovers"]["total"] == 0 and metrics["requests"]["total"] == 1  # the /healthz above
        fresh.take_down("us-east-1")
        fresh.take_down("us-west-2")
        assert after.request("GET", session_path).status == 503  # not answered from the emptied cache
        fresh.bring_back("us-east-1")
        assert after.request("GET", session_path).region == "us-east-1"  # no cool-down left to wait out
