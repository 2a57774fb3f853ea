"""The harness against a moto *server* (``moto_server``, what the ``motoserver/moto`` image runs).

One real ``moto_server`` process per module, on this worker's own loopback address; the regions
forward to it over HTTP and the harness reads and writes it with boto3. Everything a user sees must
be the same as with moto in process: calls by name through DNS and the endpoint-node proxies, AWS
errors from service faults and wrong-region signatures, keep-alive and connection recycling at the
fronts, request logs, last-writer-wins replication, and ``reset()``.
"""

from __future__ import annotations

import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from botocore.exceptions import ClientError

from harness import cli
from harness.chaos import Chaos
from harness.dynamodb import DynamoRegions
from harness.dynamodb.clients import session
from harness.dynamodb.front import KeepAliveWSGIServer
from harness.dynamodb.http_store import MotoUnreachableError
from regions_fixtures import NetworkedRegions
from harness.environment import Harness, HarnessConfig
from harness.errors import ConfigError
from harness.loopback import LoopbackPool, bind_socket
from regions_fixtures import fresh_chaos, networked
from sample_app.tables import TABLE_SPECS

MOTO_SERVER = Path(sys.executable).parent / "moto_server"
ITEM = {"pk": {"S": "order-1"}, "total": {"N": "42"}}
KEY = {"pk": ITEM["pk"]}
NO_RETRIES = {"mode": "standard", "total_max_attempts": 1}


def _wait_listening(process: subprocess.Popen, host: str, port: int, timeout: float, log: Path) -> None:
    """Until the server accepts connections; fail at once (with its log) if it exits first."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            socket.create_connection((host, port), timeout=1).close()
            return
        except OSError:
            try:  # the wait between attempts is on the process itself: an exit ends it at once
                process.wait(timeout=0.05)
            except subprocess.TimeoutExpired:
                continue
            pytest.fail(f"moto_server exited with {process.returncode}: {log.read_text()[-2000:]}")
    pytest.fail(f"moto_server did not listen on {host}:{port} within {timeout} s: {log.read_text()[-2000:]}")


@pytest.fixture(scope="module")
def moto_url(tmp_path_factory) -> Iterator[str]:
    """A real moto server subprocess, killed at the end even if a test fails."""
    host = LoopbackPool().take("moto-server")
    probe = bind_socket(host, 0, what="moto server")
    port = probe.getsockname()[1]
    probe.close()  # the address is this module's own, so the port stays free for moto
    log = tmp_path_factory.mktemp("moto") / "moto_server.log"
    with log.open("wb") as out:
        process = subprocess.Popen([str(MOTO_SERVER), "-H", host, "-p", str(port)],
                                   stdout=out, stderr=subprocess.STDOUT)
    try:
        _wait_listening(process, host, port, 30, log)
        yield f"http://{host}:{port}"
    finally:
        process.terminate()
        try:
            process.wait(timeout=5)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


@pytest.fixture(scope="module")
def harness(moto_url) -> Iterator[NetworkedRegions]:
    yield from networked(moto_url=moto_url, nodes=2)


@pytest.fixture
def chaos(harness):
    with fresh_chaos(harness) as chaos:
        yield chaos


@pytest.fixture
def west(harness):
    return harness.dynamodb.region("us-west-2")


def client(region, **config):
    config.setdefault("retries", NO_RETRIES)
    return region.client(connect_timeout=1, read_timeout=5, **config)


def straight_to_moto(moto_url: str, account_id: str, region: str):
    """A client talking to the moto server itself as ``account_id``: what is really stored there."""
    ddb = session().client("dynamodb", region_name=region, endpoint_url=moto_url)
    ddb.meta.events.register("before-sign.dynamodb",
                             lambda request, **_: request.headers.__setitem__("x-moto-account-id", account_id))
    return ddb


def test_boto3_by_name_through_dns_and_proxies_reaches_the_moto_server(chaos, harness, east, moto_url):
    from moto.dynamodb.models import dynamodb_backends

    assert east.endpoint_url == f"http://dynamodb.us-east-1.amazonaws.com:{east.port}"
    ddb = client(east, max_pool_connections=1)
    ddb.put_item(TableName="orders", Item=ITEM)
    assert ddb.get_item(TableName="orders", Key=KEY)["Item"] == ITEM
    assert harness.dns.log.count(name=east.hostname) >= 1
    assert east.requests.count("PutItem", status=200) == 1 and east.requests.count("GetItem", status=200) == 1
    assert east.front.open_connections == 1  # both calls rode one keep-alive connection
    stored = straight_to_moto(moto_url, harness.dynamodb.account_id, "us-east-1")
    assert stored.get_item(TableName="orders", Key=KEY)["Item"] == ITEM  # in the server ...
    assert harness.dynamodb.account_id not in dynamodb_backends  # ... not in this process's moto


def test_service_fault_returns_the_aws_error_and_moto_never_sees_the_write(chaos, east):
    with chaos.inject("dynamodb.throttle", operation="PutItem"):
        with pytest.raises(ClientError) as info:
            client(east).put_item(TableName="orders", Item=ITEM)
    assert info.value.response["Error"]["Code"] == "ProvisionedThroughputExceededException"
    assert info.value.response["ResponseMetadata"]["HTTPStatusCode"] == 400
    assert east.requests.count("PutItem", error="ProvisionedThroughputExceededException") == 1
    assert east.item("orders", KEY) is None
    client(east).put_item(TableName="orders", Item=ITEM)  # cleared: writes go through again
    assert east.item("orders", KEY) == ITEM


def test_wrong_region_signature_gets_invalid_signature(chaos, east, west):
    with chaos.inject("dns.wrong_address", qname=east.hostname, addresses=west.nodes):
        with pytest.raises(ClientError) as info:
            client(east).list_tables()
    assert info.value.response["Error"]["Code"] == "InvalidSignatureException"
    assert west.requests.count(error="InvalidSignatureException") == 1 and east.requests.count() == 0


def test_replication_between_regions_last_writer_wins(chaos, harness, east, west):
    replication = harness.dynamodb.replication
    e, w = client(east), client(west)
    e.put_item(TableName="orders", Item=ITEM)
    replication.wait_caught_up(5)
    assert west.item("orders", KEY) == ITEM
    assert w.get_item(TableName="orders", Key=KEY, ConsistentRead=True)["Item"] == ITEM

    replication.pause()
    e.put_item(TableName="orders", Item={**ITEM, "by": {"S": "east"}})
    w.put_item(TableName="orders", Item={**ITEM, "by": {"S": "west"}})  # the later write
    replication.resume()
    replication.wait_caught_up(5)
    assert east.item("orders", KEY)["by"] == west.item("orders", KEY)["by"] == {"S": "west"}
    assert replication.superseded == 1 and replication.failed == 0

    w.delete_item(TableName="orders", Key=KEY)
    replication.wait_caught_up(5)
    assert east.items("orders") == [] and west.items("orders") == []


def test_tables_recreated_through_the_endpoint_replicate_by_their_new_key(chaos, harness, east, west):
    """The harness caches key schemas; CreateTable/DeleteTable through a front must refresh them."""
    clients = [client(east), client(west)]

    def create(key: str) -> None:
        for ddb in clients:
            ddb.create_table(TableName="scratch", KeySchema=[{"AttributeName": key, "KeyType": "HASH"}],
                             AttributeDefinitions=[{"AttributeName": key, "AttributeType": "S"}],
                             BillingMode="PAY_PER_REQUEST")

    def drop() -> None:
        for ddb in clients:
            if "scratch" in ddb.list_tables()["TableNames"]:
                ddb.delete_table(TableName="scratch")

    try:
        create("id")
        clients[0].put_item(TableName="scratch", Item={"id": {"S": "1"}})
        harness.dynamodb.replication.wait_caught_up(5)
        assert west.items("scratch") == [{"id": {"S": "1"}}]
        drop()
        create("sku")
        clients[0].put_item(TableName="scratch", Item={"sku": {"S": "2"}, "n": {"N": "1"}})
        harness.dynamodb.replication.wait_caught_up(5)
        assert west.items("scratch") == [{"sku": {"S": "2"}, "n": {"N": "1"}}]
    finally:
        drop()


def test_reset_empties_tables_and_clears_faults(harness, east, west):
    harness.reset()
    e = client(east)
    for i in range(30):  # more than one BatchWriteItem of deletes
        e.put_item(TableName="orders", Item={"pk": {"S": f"k{i}"}})
    harness.dynamodb.replication.wait_caught_up(5)
    assert len(west.items("orders")) == 30
    with Chaos(harness.env) as chaos:
        chaos.inject("dynamodb.unavailable")
        harness.reset()
    assert east.items("orders") == [] and west.items("orders") == []
    assert e.list_tables()["TableNames"] == ["orders"]  # tables kept, fault gone


def test_connection_recycling_and_account_isolation_on_a_shared_server(harness, moto_url):
    """A second harness on the same server: its own tables only, and fronts that recycle connections."""
    with NetworkedRegions(moto_url=moto_url, regions=["us-east-1"], nodes=1, max_connection_age=1e-6) as other:
        other.dynamodb.create_tables([{"name": "carts"}])
        region = other.dynamodb.region("us-east-1")
        ddb = client(region)
        assert ddb.list_tables()["TableNames"] == ["carts"]  # not the first harness's "orders"
        reply = ddb.list_tables()
        assert reply["ResponseMetadata"]["HTTPHeaders"]["connection"] == "close"
        assert other.dns.log.count(name=region.hostname) >= 2  # each call needed a new connection and lookup
        account = other.dynamodb.account_id
    # stop() deleted that harness's tables from the server; the first harness is untouched
    assert straight_to_moto(moto_url, account, "us-east-1").list_tables()["TableNames"] == []
    assert client(harness.dynamodb.region("us-east-1")).list_tables()["TableNames"] == ["orders"]


def test_full_harness_config_uses_the_server(moto_url):
    with Harness(HarnessConfig(moto_url=moto_url + "/", app_profile=None, nodes=1, tables=TABLE_SPECS[:1])) as env:
        assert env.describe()["moto"].startswith(f"{moto_url} (external")
        stored = straight_to_moto(moto_url, env.dynamodb.account_id, "us-west-2")
        # only the table asked for: without an app the harness creates no app's tables
        assert stored.list_tables()["TableNames"] == [TABLE_SPECS[0]["TableName"]]


def test_bad_url_is_refused_before_anything_starts():
    for url in ("moto:5000", "ftp://127.0.0.1:5000", "http://127.0.0.1:5000/api", "http://127.0.0.1:99999"):
        with pytest.raises(ConfigError, match="moto URL must be http://HOST:PORT"):
            DynamoRegions(moto_url=url)
        with pytest.raises(ConfigError, match="moto URL must be"):
            HarnessConfig(moto_url=url)


def test_unreachable_or_wrong_server_gives_one_clear_error_at_start():
    host = LoopbackPool().take("not-moto")
    closed = bind_socket(host, 0, what="closed port")  # bound, never listening: connections are refused
    not_moto = KeepAliveWSGIServer(lambda environ, start: (start("404 Not Found", []), [b"nope"])[1], host).start()
    try:
        with pytest.raises(MotoUnreachableError) as refused:
            DynamoRegions(moto_url=f"http://{host}:{closed.getsockname()[1]}").start()
        assert str(refused.value) == (f"no moto server answers at http://{host}:{closed.getsockname()[1]}: "
                                      "[Errno 111] Connection refused")
        with pytest.raises(MotoUnreachableError, match=r"answers, but not like a moto server .*HTTP 404"):
            DynamoRegions(moto_url=not_moto.url).start()
    finally:
        not_moto.stop()
        closed.close()


def test_cli_up_with_an_unreachable_moto_url_exits_2_with_one_line(capsys):
    host = LoopbackPool().take("cli-moto")
    closed = bind_socket(host, 0, what="closed port")
    try:
        code = cli.main(["up", "--no-app", "--moto-url", f"http://{host}:{closed.getsockname()[1]}"])
    finally:
        closed.close()
    err = capsys.readouterr().err
    assert code == cli.EXIT_ERROR
    assert err.count("\n") == 1 and err.startswith(f"chaos-harness: error: no moto server answers at http://{host}:")
