"""Issue 3 acceptance: the sample app under DNS faults, through the real, fully wired harness.

Everything here goes over real sockets by name: the test calls ``app.chaos.test`` (resolved by the
harness DNS), the app calls ``dynamodb.<region>.amazonaws.com`` (resolved by the same DNS) through
the Toxiproxy nodes to moto, and global-table replication copies writes between the regions.

Before each fault the test closes every pooled connection to the endpoints
(``harness.dynamodb.close_connections()``), as a load balancer turning its nodes over would, so the
app's next calls need new connections and therefore lookups; with a warm pool the same faults go
unnoticed (``test_warm_connections_keep_working_through_the_fault``), which is what happened to
many clients on 20 Oct 2025 until their connections turned over. The fronts also recycle
connections with age (``connection_max_age``), so connections opened during a test turn over too;
no assertion depends on an age being reached in time.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator

import botocore.session
import pytest

from harness.environment import Harness, HarnessConfig
from harness.errors import AddressInUseError, ConfigError, HarnessError
from harness.loopback import LoopbackPool, bind_socket
from sample_app.failover import CLOSED, HALF_OPEN, OPEN
from sample_app.tables import IDEMPOTENCY_TABLE, SESSIONS_TABLE, TABLE_SPECS
from local_regions import Reply
from harness_env import EAST, WEST, HarnessSlot, User, session_id

EAST_HOST = f"dynamodb.{EAST}.amazonaws.com"
COOLDOWN = 0.3  # breaker open time: short, so fail-back is quick
CLIENT_TIMEOUT = 5.0  # the test's own HTTP timeout; every answer here comes well within it
# A lookup gives up after 0.2 s (one try), so even dropped or late DNS answers fail fast.
RESOLVER = dict(resolver_timeout=0.2, resolver_attempts=1)
# Connections live 50 ms, so during a fault the app keeps needing new connections (and lookups);
# ``retire_connections`` empties the pool explicitly before each fault starts.
RECYCLED = dict(connection_max_age=0.05, replication_lag=0.05)
WARM = dict(connection_max_age=None, replication_lag=0.05)
FAST_APP = {"pbkdf2_iterations": 1000}
RESILIENT_APP = {**FAST_APP, "breaker": {"consecutive_failures": 3, "cooldown": COOLDOWN}}
# The naive profile as shipped (legacy retries, one region, no breaker, no cache) with 3 attempts
# instead of 10: its 10 legacy attempts back off for ~25 s per call (``legacy_attempt_starts``), which
# ``test_naive_defaults_hang_past_the_client_timeout`` shows once; the built-in drills run them.
NAIVE_APP = {**FAST_APP, "retry": {"mode": "legacy", "max_attempts": 3}}

SHAPES = {
    "resilient": HarnessConfig(app_profile="resilient", app_overrides=RESILIENT_APP, **RECYCLED, **RESOLVER),
    "naive": HarnessConfig(app_profile="naive", app_overrides=NAIVE_APP, **RECYCLED, **RESOLVER),
    "resilient-warm": HarnessConfig(app_profile="resilient", app_overrides=RESILIENT_APP, **WARM, **RESOLVER),
    "naive-warm": HarnessConfig(app_profile="naive", app_overrides=NAIVE_APP, **WARM, **RESOLVER),
    "naive-defaults": HarnessConfig(app_profile="naive", app_overrides=FAST_APP, **RECYCLED, **RESOLVER),
}
DNS_FAULTS = ["dns.empty_answer", "dns.nxdomain", "dns.servfail", "dns.refused", "dns.timeout",
              "dns.wrong_address", "dns.delay"]
DYNAMODB_CALLS = {"POST /sessions": 2, "GET /sessions": 1}  # a login is get_user + create_session


@pytest.fixture
def harness(request: pytest.FixtureRequest, harness_slot: HarnessSlot) -> Iterator[Harness]:
    """A clean harness of the shape named by the test's ``harness`` parameter."""
    running = harness_slot.harness(SHAPES[request.param])
    try:
        yield running
    finally:
        running.chaos.clear_all()
        running.dynamodb.replication.resume()


@pytest.fixture
def user(harness: Harness) -> Iterator[User]:
    client = User(harness, timeout=CLIENT_TIMEOUT)
    yield client
    client.close()


def shape(*names: str):
    return pytest.mark.parametrize("harness", names, indirect=True)


def fault_options(harness: Harness, fault: str) -> dict:
    """Options that make each fault break lookups of the us-east-1 endpoint in this harness."""
    options: dict = {"qname": EAST_HOST}
    if fault == "dns.wrong_address":
        options["addresses"] = [harness.pool.take("nothing-listens-here")]  # refused at once
    if fault == "dns.delay":
        cfg = harness.config
        options["latency"] = 2 * cfg.resolver_timeout * cfg.resolver_attempts  # the answer comes too late
    return options


def retire_connections(harness: Harness, user: User, sid: str) -> None:
    """Leave the app without a reusable connection to us-east-1, so its next call must look it up.

    Waiting on the age alone raced the login's own timing (a connection recycled during the login
    left a fresh one behind), so the endpoints close every pooled connection explicitly.
    """
    harness.dynamodb.replication.wait_caught_up(5)
    assert user.validate(sid).region == EAST
    harness.dynamodb.close_connections()


def signed_in(harness: Harness, user: User) -> str:
    """A user with a session, both replicated to every region, and a cold connection pool."""
    assert user.sign_up().status == 201
    sid = session_id(user.login())
    retire_connections(harness, user, sid)
    return sid


def until(call: Callable[[], Reply], done: Callable[[Reply], bool], timeout: float, what: str) -> list[Reply]:
    """Ask the app until ``done``; the replies in order. Fail-back and fail-over are only visible
    in the app's answers, so each check is a real request (bounded by ``timeout``)."""
    deadline = time.monotonic() + timeout
    replies = [call()]
    while not done(replies[-1]):
        assert time.monotonic() < deadline, f"{what} not seen within {timeout} s; last reply {replies[-1]}"
        replies.append(call())
    return replies


def served_by(region: str) -> Callable[[Reply], bool]:
    return lambda reply: reply.region == region


def fail_back(user: User, sid: str) -> list[Reply]:
    """Validate until us-east-1 answers again (the breaker's half-open probe succeeded)."""
    return until(lambda: user.validate(sid), served_by(EAST), COOLDOWN + 5, "fail-back to us-east-1")


def east_transitions(metrics: dict) -> list[tuple[str, str]]:
    transitions = metrics["breakers"]["transitions"]
    assert {t["region"] for t in transitions} <= {EAST}, transitions
    return [(t["from"], t["to"]) for t in transitions]


# ---------------------------------------------------------------------------------------- every DNS fault


@shape("resilient")
@pytest.mark.parametrize("fault", DNS_FAULTS)
def test_resilient_app_fails_over_during_the_fault_and_back_after(harness, user, fault):
    sid = signed_in(harness, user)
    lookups = harness.dns.log.count(name=EAST_HOST)
    with harness.chaos.inject(fault, **fault_options(harness, fault)):
        during = [("GET /sessions", user.validate(sid)) for _ in range(4)]
        during.append(("POST /sessions", user.login()))
        during.append(("GET /sessions", user.validate(sid)))
        assert harness.dns.log.count(name=EAST_HOST) > lookups  # new connections asked DNS, and failed
    for _, reply in during:
        assert reply.status in (200, 201), reply
        assert reply.region == WEST and reply.body["region"] == WEST and reply.body["failed_over"] is True
    last = during[-1][1]
    assert last.body["session"]["session_id"] == sid and last.body["source"] == "dynamodb"  # replicated, not cached

    back = fail_back(user, sid)
    assert back[-1].status == 200 and back[-1].body["failed_over"] is False
    assert user.login().region == EAST

    metrics = user.metrics()
    app = harness.app.config
    transitions = east_transitions(metrics)
    assert transitions[0] == (CLOSED, OPEN) and transitions[-2:] == [(OPEN, HALF_OPEN), (HALF_OPEN, CLOSED)]
    assert metrics["breakers"]["states"] == {EAST: CLOSED, WEST: CLOSED}
    # Every failed us-east-1 call used all its attempts: the calls that opened the breaker, plus
    # any half-open probe that still met the fault. us-west-2 never needed a retry.
    failed_probes = transitions.count((HALF_OPEN, OPEN))
    failed_calls = app.breaker.consecutive_failures + failed_probes
    assert metrics["retries"]["by_region"] == {EAST: failed_calls * (app.retry.max_attempts - 1)}
    served_by_west = during + [("GET /sessions", r) for r in back[:-1]]
    assert metrics["failovers"]["by_path"] == {f"{EAST}->{WEST}": sum(DYNAMODB_CALLS[op] for op, _ in served_by_west)}


@shape("naive")
@pytest.mark.parametrize("fault", DNS_FAULTS)
def test_naive_app_fails_during_the_fault(harness, user, fault):
    sid = signed_in(harness, user)
    with harness.chaos.inject(fault, **fault_options(harness, fault)):
        validation, login = user.validate(sid), user.login()
    for reply in (validation, login):
        assert reply.status == 503 and reply.body["error"] == "unavailable", reply
        assert reply.region == "none" and "us-east-1" in reply.body["message"]
    assert user.validate(sid).region == EAST  # no breaker: back as soon as DNS answers again

    metrics = user.metrics()
    attempts = harness.app.config.retry.max_attempts
    assert metrics["retries"]["by_region"] == {EAST: 2 * (attempts - 1)}  # both failed calls retried to the end
    assert metrics["failovers"]["total"] == 0 and WEST not in metrics["requests"]["by_region"]
    assert metrics["breakers"]["transitions"] == []


def legacy_attempt_starts() -> list[float]:
    """When botocore's legacy policy makes each DynamoDB attempt (read from botocore's retry data)."""
    loader = botocore.session.get_session().get_component("data_loader")
    policy = loader.load_data("_retry")["retry"]["dynamodb"]["__default__"]
    delay = policy["delay"]
    starts = [0.0]
    for attempt in range(1, policy["max_attempts"]):
        starts.append(starts[-1] + delay["base"] * delay["growth_factor"] ** (attempt - 1))
    return starts


@shape("naive-defaults")
def test_naive_defaults_hang_past_the_client_timeout(harness, user):
    """The naive profile's real retry policy: the user gives up long before botocore does, and the
    call lands only after the record is back."""
    sid = signed_in(harness, user)
    starts = legacy_attempt_starts()
    assert harness.app.config.retry.mode == "legacy" and harness.app.config.retry.max_attempts == len(starts)
    patience = 1.0
    assert starts[-1] > 10 * patience  # what makes the naive app hang rather than answer 503
    impatient = User(harness, timeout=patience)
    east = harness.dynamodb.region(EAST).requests
    reads = east.count("GetItem")
    lookups = harness.dns.log.count(name=EAST_HOST, qtype="A")
    try:
        with harness.chaos.inject("dns.empty_answer", qname=EAST_HOST):
            with pytest.raises(TimeoutError):
                impatient.validate(sid)
            # One lookup per attempt: botocore kept retrying all the while.
            retried = harness.dns.log.count(name=EAST_HOST, qtype="A") - lookups
            assert retried >= sum(start < patience - 0.2 for start in starts)
            assert east.count("GetItem") == reads  # nothing reached us-east-1
        # At the latest its last attempt, some 25 s in; in practice the next one, well under a second.
        east.wait_for(lambda log: log.count("GetItem") > reads, timeout=starts[-1],
                      what="the naive app's pending retry to land after the fault")
    finally:
        impatient.close()
    assert harness.dynamodb.region(WEST).requests.count() == 0  # one region: nowhere else to go


@shape("resilient-warm", "naive-warm")
@pytest.mark.parametrize("fault", ["dns.empty_answer", "dns.timeout", "dns.wrong_address"])
def test_warm_connections_keep_working_through_the_fault(harness, user, fault):
    """Without recycling, pooled connections never ask DNS again: both apps carry on in us-east-1."""
    assert user.sign_up().status == 201
    sid = session_id(user.login())
    lookups = harness.dns.log.count(name=EAST_HOST)
    with harness.chaos.inject(fault, **fault_options(harness, fault)):
        replies = [user.validate(sid), user.login(), user.logout(sid), user.validate(sid)]
    assert [r.status for r in replies] == [200, 201, 200, 404]
    assert all(r.region == EAST for r in replies)
    assert harness.dns.log.count(name=EAST_HOST) == lookups
    metrics = user.metrics()
    assert metrics["failovers"]["total"] == 0 and metrics["retries"]["total"] == 0


# ---------------------------------------------------------------------------------------- data kept


@shape("resilient")
@pytest.mark.parametrize("fault", ["dns.empty_answer", "dns.timeout"])
def test_no_acknowledged_login_is_lost_or_applied_twice(harness, user, fault):
    replication = harness.dynamodb.replication
    assert user.sign_up().status == 201
    acknowledged: dict[str, str] = {}  # idempotency key -> the session the app answered 201 for

    def login(key: str) -> Reply:
        reply = user.login(key)
        assert acknowledged.setdefault(key, session_id(reply)) == session_id(reply), "a replay changed the session"
        return reply

    assert all(login(f"before-{i}").region == EAST for i in range(3))
    retire_connections(harness, user, acknowledged["before-0"])
    with harness.chaos.inject(fault, **fault_options(harness, fault)):
        assert all(login(f"during-{i}").region == WEST for i in range(4))
        replay = login("before-0")  # e.g. a client retrying a login it sent before the outage
        assert replay.region == WEST and replay.body["replayed"] is True
        assert replay.headers["idempotent-replayed"] == "true"
    fail_back(user, acknowledged["during-0"])
    assert all(login(f"after-{i}").region == EAST for i in range(2))
    replication.wait_caught_up(5)
    replay = login("during-1")  # written in us-west-2 during the fault, replayed in us-east-1
    assert replay.region == EAST and replay.body["replayed"] is True

    replication.wait_caught_up(5)
    sessions = set(acknowledged.values())
    assert len(sessions) == len(acknowledged) == 9
    for name in (EAST, WEST):
        region = harness.dynamodb.region(name)
        items = region.items(SESSIONS_TABLE)
        assert len(items) == len(sessions) and {i["session_id"]["S"] for i in items} == sessions, name
        assert all(i["username"]["S"] == "ada" and "revoked_at" not in i for i in items)
        assert len(region.items(IDEMPOTENCY_TABLE)) == len(acknowledged)
        for key, sid in acknowledged.items():
            record = region.item(IDEMPOTENCY_TABLE, {"idempotency_key": {"S": f"ada#{key}"}})
            assert record is not None and record["session_id"]["S"] == sid
    assert all(user.validate(sid).status == 200 for sid in sessions)


@shape("resilient")
def test_logout_during_failover_with_replication_lag_stays_logged_out(harness, user):
    replication = harness.dynamodb.replication
    east, west = harness.dynamodb.region(EAST), harness.dynamodb.region(WEST)
    assert user.sign_up().status == 201
    replication.wait_caught_up(5)
    replication.pause()
    sid = session_id(user.login())
    key = {"session_id": {"S": sid}}
    assert east.item(SESSIONS_TABLE, key) is not None and west.item(SESSIONS_TABLE, key) is None

    with harness.chaos.inject("dns.empty_answer", qname=EAST_HOST):
        # A pooled connection may carry a call or two before it is recycled; then the app fails over.
        lagging = until(lambda: user.validate(sid), served_by(WEST), 5, "fail-over to us-west-2")[-1]
        assert lagging.status == 200 and lagging.headers["x-served-from"] == "cache"
        assert lagging.body["replication_lag"] is True and lagging.body["source"] == "cache"
        assert lagging.body["stale"] is True and lagging.body["session"]["session_id"] == sid
        assert west.item(SESSIONS_TABLE, key) is None  # us-west-2 still has not heard of it

        out = user.logout(sid)
        assert out.status == 200 and out.region == WEST and out.body["deleted"] == sid
        assert "revoked_at" in west.item(SESSIONS_TABLE, key)  # a tombstone, which replicates
        gone = user.validate(sid)
        assert gone.status == 404 and gone.region == WEST

    replication.resume()
    replication.wait_caught_up(5)
    back = fail_back(user, sid)[-1]
    assert back.status == 404 and back.body["error"] == "not_found"
    for region in (east, west):
        item = region.item(SESSIONS_TABLE, key)
        assert item is not None and "revoked_at" in item, region.name  # the later tombstone won
    assert user.validate(sid).status == 404


@shape("naive")
def test_naive_app_cannot_validate_or_log_out_during_the_fault(harness, user):
    """One region, no cache: the lagging replica never comes into play; the user gets 503s, and the
    logout that failed leaves the session valid afterwards."""
    replication = harness.dynamodb.replication
    assert user.sign_up().status == 201
    replication.wait_caught_up(5)
    replication.pause()
    sid = session_id(user.login())
    with harness.chaos.inject("dns.empty_answer", qname=EAST_HOST):
        failed = until(lambda: user.validate(sid), lambda r: r.status != 200, 5, "the naive app to fail")[-1]
        assert failed.status == 503 and failed.region == "none" and failed.headers["x-served-from"] == "app"
        assert user.logout(sid).status == 503
    replication.resume()
    still = user.validate(sid)
    assert still.status == 200 and still.region == EAST


# ---------------------------------------------------------------------------------------- bad configuration


@pytest.fixture
def no_leaks(harness_slot: HarnessSlot) -> Iterator[None]:
    """The failed start must leave no thread behind (every component it started was stopped).
    The module's own harness is stopped first, so every new thread would be the failed one's."""
    harness_slot.close()
    before = set(threading.enumerate())
    yield
    assert {t for t in set(threading.enumerate()) - before if t.is_alive()} == set()


def one_line(exc: pytest.ExceptionInfo) -> str:
    message = str(exc.value)
    assert isinstance(exc.value, HarnessError) and "\n" not in message
    return message


@pytest.mark.parametrize("config, kind, message", [
    (dict(regions=("us-east-1", "us-east-9")), ConfigError, "unknown DynamoDB region 'us-east-9'"),
    (dict(app_overrides={"regions": ("us-east-1", "mars-north-1")}), ConfigError, "unknown region 'mars-north-1'"),
    (dict(app_overrides={"retries": 3}), ConfigError, "unknown app setting 'retries'"),
], ids=["harness-region", "app-region", "app-setting"])
def test_bad_configuration_is_one_clear_error(no_leaks, config, kind, message):
    harness = Harness(HarnessConfig(**config))
    with pytest.raises(kind) as error:
        harness.start()
    assert message in one_line(error)
    harness.stop()


def test_port_in_use_is_one_clear_error(no_leaks):
    host = LoopbackPool().take("dns")
    taken = bind_socket(host, 0)
    taken.listen()
    port = taken.getsockname()[1]
    try:
        with pytest.raises(AddressInUseError) as error:
            Harness(HarnessConfig(dns_host=host, dns_port=port)).start()
        message = one_line(error)
        assert message.startswith("DNS server") and message.endswith(f"cannot bind {host}:{port}: address already in use")
    finally:
        taken.close()


@shape("resilient")
def test_missing_table_is_one_clear_error_on_reset(harness):
    """A test that drops a table gets told which one at the next reset, when the app restarts."""
    spec = next(s for s in TABLE_SPECS if s["TableName"] == SESSIONS_TABLE)
    west = harness.dynamodb.region(WEST).client()
    try:
        west.delete_table(TableName=SESSIONS_TABLE)
        with pytest.raises(ConfigError) as error:
            harness.reset()
        assert one_line(error).startswith(f"table '{SESSIONS_TABLE}' does not exist in {WEST}")
    finally:
        west.create_table(**spec)
        west.close()
        harness.reset()
    assert harness.app.replica_urls  # the app is serving again
