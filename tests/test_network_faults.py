"""Network faults on the endpoint nodes, seen through boto3: the exception, and how many attempts botocore made."""

from __future__ import annotations

import time
import types

import pytest
from botocore.exceptions import (
    ChecksumError,
    ConnectionClosedError,
    EndpointConnectionError,
    ReadTimeoutError,
)

from faults import create_fault
from regions_fixtures import skip_retry_backoff
from harness.errors import ComponentMissingError, ConfigError, FaultOptionError
from regions_fixtures import fresh_chaos, networked

BIG = {"pk": {"S": "big"}, "blob": {"S": "x" * 40_000}}
BIG_KEY = {"pk": {"S": "big"}}


@pytest.fixture(scope="module")
def harness():
    yield from networked()


@pytest.fixture
def chaos(harness):
    with fresh_chaos(harness) as chaos, skip_retry_backoff():
        yield chaos


def counted_client(region, *, mode: str = "standard", attempts: int = 2, read_timeout: float = 3, **config):
    """A client whose ``attempts`` list grows by one per HTTP attempt botocore sends."""
    ddb = region.client(retries={"mode": mode, "total_max_attempts": attempts}, connect_timeout=0.5,
                        read_timeout=read_timeout, **config)
    ddb.attempts = []
    ddb.meta.events.register("before-send.dynamodb", lambda **kw: ddb.attempts.append(kw["request"].url))
    return ddb


def test_small_latency_is_absorbed(chaos, east):
    ddb = counted_client(east)
    ddb.put_item(TableName="orders", Item=BIG)
    with chaos.inject("network.latency", latency=100, jitter=20):
        start = time.monotonic()
        assert ddb.get_item(TableName="orders", Key=BIG_KEY)["Item"] == BIG
        assert time.monotonic() - start >= 0.07
    assert len(ddb.attempts) == 2  # put + get, no retries


def test_latency_beyond_read_timeout_is_a_read_timeout_after_every_attempt(chaos, east):
    ddb = counted_client(east, attempts=2, read_timeout=0.5)
    with chaos.inject("network.latency", latency=1500):
        with pytest.raises(ReadTimeoutError):
            ddb.list_tables()
    assert len(ddb.attempts) == 2
    assert east.requests.count("ListTables") == 2  # requests arrived; answers were too slow


def test_reset_closes_connections(chaos, east):
    ddb = counted_client(east, attempts=3)
    with chaos.inject("network.reset"):
        # RST while the request is still being sent surfaces as EndpointConnectionError,
        # after it was sent as ConnectionClosedError; both are retried.
        with pytest.raises((ConnectionClosedError, EndpointConnectionError)):
            ddb.list_tables()
    assert len(ddb.attempts) == 3
    assert ddb.list_tables()["TableNames"] == ["orders"]


def test_blackhole_times_out_although_the_write_was_applied(chaos, east):
    ddb = counted_client(east, attempts=2, read_timeout=0.5)
    with chaos.inject("network.blackhole"):  # downstream: requests arrive, answers vanish
        with pytest.raises(ReadTimeoutError):
            ddb.put_item(TableName="orders", Item={"pk": {"S": "ghost"}})
    assert len(ddb.attempts) == 2
    assert east.item("orders", {"pk": {"S": "ghost"}}) == {"pk": {"S": "ghost"}}


def test_bandwidth_limit_slows_large_responses(chaos, east):
    ddb = counted_client(east, read_timeout=5)
    ddb.put_item(TableName="orders", Item=BIG)
    with chaos.inject("network.bandwidth", rate=50):  # KB/s; the item is 40 KB
        start = time.monotonic()
        assert ddb.get_item(TableName="orders", Key=BIG_KEY)["Item"] == BIG
        assert time.monotonic() - start >= 0.5


def test_partition_of_every_node_refuses_connections(chaos, east):
    ddb = counted_client(east, attempts=3)
    ddb.list_tables()
    east.requests.clear()
    with chaos.inject("network.partition"):
        with pytest.raises(EndpointConnectionError, match="dynamodb.us-east-1.amazonaws.com"):
            ddb.list_tables()
    assert len(ddb.attempts) == 1 + 3 and east.requests.count() == 0
    assert ddb.list_tables()["TableNames"] == ["orders"]  # proxies back after the fault clears


def test_partition_of_one_node_is_routed_around(chaos, east):
    with chaos.inject("network.partition", node=0):
        for _ in range(5):  # fresh clients: every call opens a new connection, trying each address
            ddb = counted_client(east, attempts=1)
            assert ddb.list_tables()["TableNames"] == ["orders"]


def test_limit_data_truncates_responses_only_checksums_catch_it(chaos, east):
    """A 40 KB response cut after 1000 bytes. Both modes notice through DynamoDB's x-amz-crc32 and
    retry; when attempts run out, legacy raises ChecksumError but standard hands back the truncated
    body parsed as a success without the item."""
    counted_client(east).put_item(TableName="orders", Item=BIG)
    with chaos.inject("network.limit_data", bytes=1000):
        standard = counted_client(east, attempts=3)
        response = standard.get_item(TableName="orders", Key=BIG_KEY)
        assert "Item" not in response and response["ResponseMetadata"]["MaxAttemptsReached"]  # silently wrong
        assert len(standard.attempts) == 3
        legacy = counted_client(east, mode="legacy", attempts=3)
        with pytest.raises(ChecksumError, match="crc32"):
            legacy.get_item(TableName="orders", Key=BIG_KEY)
        assert len(legacy.attempts) == 3


def test_slow_close_does_not_disturb_keep_alive_traffic(chaos, east):
    ddb = counted_client(east)
    with chaos.inject("network.slow_close", delay=500):
        for _ in range(3):
            ddb.list_tables()
    assert len(ddb.attempts) == 3


@pytest.mark.parametrize(
    ("fault", "options", "toxic", "attributes"),
    [
        ("network.latency", {"latency": 250, "jitter": 5}, "latency", {"latency": 250, "jitter": 5}),
        ("network.reset", {"timeout": 10}, "reset_peer", {"timeout": 10}),
        ("network.blackhole", {}, "timeout", {"timeout": 0}),
        ("network.bandwidth", {"rate": 7}, "bandwidth", {"rate": 7}),
        ("network.slow_close", {"delay": 30}, "slow_close", {"delay": 30}),
        ("network.limit_data", {"bytes": 64}, "limit_data", {"bytes": 64}),
    ],
)
def test_toxics_land_on_the_chosen_nodes_and_are_removed(chaos, harness, east, fault, options, toxic, attributes):
    with chaos.inject(fault, node=[1, "dynamodb-us-east-1-n3"], stream="upstream", toxicity=0.5, **options):
        toxics = {p: harness.proxies.toxics(p) for p in east.proxy_names}
        assert toxics["dynamodb-us-east-1-n1"] == []
        for proxy in ("dynamodb-us-east-1-n2", "dynamodb-us-east-1-n3"):
            [found] = toxics[proxy]
            assert (found["type"], found["attributes"], found["stream"], found["toxicity"]) == (toxic, attributes, "upstream", 0.5)
    assert all(harness.proxies.toxics(p) == [] for p in east.proxy_names)


def test_region_option_targets_every_node_of_each_region(chaos, harness):
    with chaos.inject("network.latency", region=["us-east-1", "us-west-2"], latency=1):
        for region in harness.dynamodb.regions:
            assert all(len(harness.proxies.toxics(p)) == 1 for p in region.proxy_names)


def test_probability_picks_the_same_nodes_for_a_seed(chaos, harness, east):
    def disabled(seed: int) -> list[str]:
        with chaos.inject("network.partition", probability=0.5, seed=seed):
            return [p for p in east.proxy_names if not harness.proxies.get(p).enabled]

    runs = {seed: disabled(seed) for seed in range(6)}
    assert runs == {seed: disabled(seed) for seed in range(6)}
    assert len({tuple(v) for v in runs.values()}) > 1


def test_bad_targets_and_options(chaos, harness):
    with pytest.raises(ConfigError, match="has no node 5"):
        chaos.inject("network.latency", node=5)
    with pytest.raises(ConfigError, match="us-east-1 has no node 'dynamodb-us-west-2-n1'"):
        chaos.inject("network.latency", node="dynamodb-us-west-2-n1")
    with pytest.raises(FaultOptionError, match="toxicity must be between 0 and 1"):
        create_fault("network.latency", toxicity=2)
    with pytest.raises(FaultOptionError, match="latency must be >= 0"):
        create_fault("network.latency", latency=-1)
    no_proxies = types.SimpleNamespace(dns=None, proxies=None, dynamodb=harness.dynamodb, health=None)
    with pytest.raises(ComponentMissingError, match="Toxiproxy"):
        create_fault("network.reset").start(no_proxies)
    assert chaos.active == [] and all(harness.proxies.toxics(p) == [] for p in harness.dynamodb.primary.proxy_names)


def test_close_connections_makes_a_warm_client_look_the_name_up_again(chaos, harness, east):
    """The explicit "pool turned over" control: when it returns, no pooled connection survives, so
    the client's very next call needs a lookup (no waiting on ages or on the proxies' timing)."""
    ddb = counted_client(east)
    ddb.list_tables()
    lookups = harness.dns.log.count(name=east.hostname)
    ddb.list_tables()
    assert harness.dns.log.count(name=east.hostname) == lookups  # warm: the pooled connection is reused
    assert harness.dynamodb.close_connections() >= 1
    with chaos.inject("dns.servfail", qname=east.hostname):
        with pytest.raises(EndpointConnectionError):
            ddb.list_tables()  # the next call needed a new connection, and so a lookup
    assert harness.dns.log.count(name=east.hostname) > lookups
