"""Mocked DynamoDB regions reached by name: DNS -> endpoint nodes (proxies) -> keep-alive front -> moto."""

from __future__ import annotations

import http.client
import socket
import threading

import pytest
from botocore.exceptions import ClientError, EndpointConnectionError

from harness.dynamodb import DynamoRegions, TableSpec
from harness.errors import AddressInUseError, ConfigError
from harness.loopback import LoopbackPool
from regions_fixtures import ORDERS, fresh_chaos, networked
from harness.resolver import hook

ITEM = {"pk": {"S": "order-1"}, "total": {"N": "42"}}


@pytest.fixture(scope="module")
def harness():
    yield from networked()


@pytest.fixture
def chaos(harness):
    with fresh_chaos(harness) as chaos:
        yield chaos


def client(region, **config):
    config.setdefault("retries", {"mode": "standard"})
    return region.client(connect_timeout=0.5, read_timeout=2, **config)


def test_name_resolves_to_every_node_and_calls_go_through_them(chaos, harness, east):
    assert harness.dns.topology.get(east.hostname).addresses == tuple(east.nodes)
    assert east.endpoint_url == f"http://dynamodb.us-east-1.amazonaws.com:{east.port}"
    assert east.proxy_names == [f"dynamodb-us-east-1-n{i}" for i in (1, 2, 3)]
    ddb = client(east)
    ddb.put_item(TableName="orders", Item=ITEM)
    assert ddb.get_item(TableName="orders", Key={"pk": ITEM["pk"]})["Item"] == ITEM
    assert harness.dns.log.count(name=east.hostname) >= 1
    assert east.requests.count("PutItem", status=200) == 1


def test_pooled_connection_is_reused_without_new_lookups(chaos, harness, east):
    ddb = client(east, max_pool_connections=1)
    ddb.list_tables()  # warm-up: one lookup, one connection
    harness.dns.log.clear()
    for _ in range(20):
        response = ddb.list_tables()
    assert "connection" not in response["ResponseMetadata"]["HTTPHeaders"]
    assert harness.dns.log.count(name=east.hostname) == 0


def test_warm_pool_keeps_working_through_an_empty_dns_answer(chaos, east):
    ddb = client(east, max_pool_connections=1)
    ddb.put_item(TableName="orders", Item=ITEM)  # warm the pool before the outage
    with chaos.inject("dns.empty_answer", qname=east.hostname):
        for _ in range(5):
            assert ddb.get_item(TableName="orders", Key={"pk": ITEM["pk"]})["Item"] == ITEM


def test_empty_pool_fails_with_endpoint_connection_error(chaos, east):
    with chaos.inject("dns.empty_answer", qname=east.hostname):
        ddb = client(east, retries={"mode": "standard", "total_max_attempts": 3})  # nothing pooled yet
        with pytest.raises(EndpointConnectionError, match="dynamodb.us-east-1.amazonaws.com"):
            ddb.list_tables()
    assert east.requests.count() == 0  # no attempt reached the region
    assert client(east).list_tables()["TableNames"] == ["orders"]  # recovers once DNS answers again


def test_wrong_address_to_another_regions_nodes_gets_invalid_signature(chaos, harness, east):
    west = harness.dynamodb.region("us-west-2")
    with chaos.inject("dns.wrong_address", qname=east.hostname, addresses=west.nodes):
        with pytest.raises(ClientError) as info:
            client(east, retries={"mode": "standard", "total_max_attempts": 1}).list_tables()
    error = info.value.response["Error"]
    assert (error["Code"], error["Message"]) == ("InvalidSignatureException", "Credential should be scoped to a valid region.")
    assert info.value.response["ResponseMetadata"]["HTTPStatusCode"] == 400
    assert west.requests.count(error="InvalidSignatureException") == 1 and east.requests.count() == 0


def test_front_speaks_http11_keep_alive_with_content_length(east):
    conn = http.client.HTTPConnection(east.front.host, east.front.port, timeout=5)
    try:
        for _ in range(2):  # the second request rides the same connection
            conn.request("POST", "/", body=b"{}", headers={"X-Amz-Target": "DynamoDB_20120810.ListTables"})
            response = conn.getresponse()
            body = response.read()
            assert response.version == 11 and response.status == 400
            assert int(response.getheader("Content-Length")) == len(body)
            assert response.getheader("Connection") is None
            assert b"MissingAuthenticationTokenException" in body
    finally:
        conn.close()


def test_node_lookup(east):
    assert east.node(1) == ("dynamodb-us-east-1-n2", east.nodes[1])
    assert east.node("dynamodb-us-east-1-n3") == ("dynamodb-us-east-1-n3", east.nodes[2])
    with pytest.raises(ConfigError, match="has no node 3; nodes are 0..2"):
        east.node(3)


def test_client_refuses_a_name_the_harness_dns_does_not_resolve(east, monkeypatch):
    monkeypatch.setattr(hook, "_route", lambda *args, **kwargs: None)  # as if use_harness_dns were not active
    with pytest.raises(ConfigError, match="would be resolved by the system"):
        east.client()


def test_bad_configuration_gives_one_clear_error(harness):
    with pytest.raises(ConfigError, match="unknown DynamoDB region 'us-east-9'"):
        DynamoRegions(regions=["us-east-1", "us-east-9"])
    with pytest.raises(ConfigError, match="nodes per region"):
        DynamoRegions(nodes=0)
    with pytest.raises(ConfigError, match="'eu-west-1' is not running"):
        harness.dynamodb.region("eu-west-1")
    pool = LoopbackPool()
    busy = socket.create_server((pool.take("dynamodb-us-east-1-n1"), 0))
    proxies_before, threads_before = harness.proxies.proxies(), set(threading.enumerate())
    try:
        regions = DynamoRegions(None, harness.proxies, pool, regions=["us-east-1"], port=busy.getsockname()[1])
        with pytest.raises(AddressInUseError, match=f"{busy.getsockname()[0]}:{busy.getsockname()[1]}: address already in use"):
            regions.start()
        # Nothing half-started is left behind.
        assert harness.proxies.proxies() == proxies_before
        assert set(threading.enumerate()) - threads_before == set()
    finally:
        busy.close()


def test_stop_leaves_no_threads_or_connections():
    before = set(threading.enumerate())
    with DynamoRegions(regions=["us-east-1"]) as regions:
        regions.create_tables([{"name": "t"}])
        ddb = regions.primary.client(max_pool_connections=2)
        ddb.put_item(TableName="t", Item={"pk": {"S": "a"}})
        assert regions.primary.front.open_connections == 1
    assert set(threading.enumerate()) - before == set()
    with pytest.raises(Exception):
        ddb.list_tables()


# -- pooled connections: warm pool vs pool turned over -------------------------------------------------

def test_close_connections_makes_every_client_resolve_again(chaos, harness, east):
    ddb = client(east)
    ddb.list_tables()
    looked_up = harness.dns.log.count(east.hostname)
    ddb.list_tables()
    assert harness.dns.log.count(east.hostname) == looked_up  # warm pool: no lookup
    assert harness.dynamodb.close_connections() >= 1
    ddb.list_tables()
    assert harness.dns.log.count(east.hostname) > looked_up  # a new connection: the name was resolved again
    ddb.close()


def test_connection_max_age_can_change_per_test_and_is_reset(chaos, harness, east):
    assert harness.dynamodb.connection_max_age is None
    ddb = client(east)
    ddb.list_tables()
    harness.dynamodb.connection_max_age = 1e-6  # every response from now on closes its connection
    ddb.list_tables()
    looked_up = harness.dns.log.count(east.hostname)
    ddb.list_tables()
    assert harness.dns.log.count(east.hostname) > looked_up
    with pytest.raises(ConfigError, match="connection_max_age must be a positive number"):
        harness.dynamodb.connection_max_age = 0
    harness.dynamodb.reset()
    assert harness.dynamodb.connection_max_age is None
    assert all(front.max_connection_age is None for front in harness.dynamodb.fronts)
    ddb.close()


def test_a_request_in_flight_gets_its_response_before_its_connection_closes():
    from harness.dynamodb.front import KeepAliveWSGIServer

    entered, release = threading.Event(), threading.Event()

    def slow_app(environ, start_response):
        entered.set()
        release.wait(10)
        start_response("200 OK", [("Content-Type", "text/plain")])
        return [b"done"]

    with KeepAliveWSGIServer(slow_app, LoopbackPool().take("slow-front")) as front:
        conn = http.client.HTTPConnection(*front.address, timeout=10)
        replies = []
        caller = threading.Thread(target=lambda: (conn.request("GET", "/"), replies.append(conn.getresponse())))
        caller.start()
        assert entered.wait(10)
        assert len(front.close_connections()) == 1  # busy: marked, not cut
        release.set()
        caller.join(10)
        response = replies[0]
        assert (response.status, response.read(), response.getheader("Connection")) == (200, b"done", "close")
        conn.close()


def test_require_tables_names_a_table_a_test_dropped(chaos, harness):
    """What Harness.reset checks instead of restarting the app: every table still exists everywhere."""
    harness.dynamodb.require_tables(["orders"])
    west = harness.dynamodb.region("us-west-2").client(direct=True)
    try:
        west.delete_table(TableName="orders")
        with pytest.raises(ConfigError, match=r"^table 'orders' does not exist in us-west-2 \(tables there: none\)$"):
            harness.dynamodb.require_tables(["orders"])
    finally:
        harness.dynamodb.region("us-west-2").store.create_table(TableSpec.of(ORDERS))
        west.close()
    harness.dynamodb.require_tables(["orders"])
