"""Global-table emulation: asynchronous replication with lag, pause/resume and last-writer-wins."""

from __future__ import annotations

import types

import pytest

from harness.chaos import Chaos
from harness.dynamodb import DynamoRegions
from harness.errors import ConfigError, TimeoutExpired


@pytest.fixture(scope="module")
def regions():
    with DynamoRegions() as regions:
        regions.create_tables([
            {"name": "orders", "partition_key": "pk:S"},
            {  # the same spec shape as a CreateTable request
                "TableName": "events",
                "KeySchema": [{"AttributeName": "pk", "KeyType": "HASH"}, {"AttributeName": "at", "KeyType": "RANGE"}],
                "AttributeDefinitions": [{"AttributeName": n, "AttributeType": t} for n, t in (("pk", "S"), ("at", "N"), ("kind", "S"))],
                "GlobalSecondaryIndexes": [{"IndexName": "by_kind", "KeySchema": [{"AttributeName": "kind", "KeyType": "HASH"}],
                                            "Projection": {"ProjectionType": "ALL"}}],
            },
        ])
        yield regions


@pytest.fixture
def ddb(regions):
    regions.reset()
    regions.replication.lag = 0.05
    east, west = regions.region("us-east-1"), regions.region("us-west-2")
    config = dict(retries={"mode": "standard", "total_max_attempts": 1}, connect_timeout=1, read_timeout=2)
    yield types.SimpleNamespace(east=east, west=west, e=east.client(**config), w=west.client(**config))
    regions.reset()


def item(pk: str, **attrs: str) -> dict:
    return {"pk": {"S": pk}, **{k: {"S": v} for k, v in attrs.items()}}


def test_put_replicates_after_the_lag(regions, ddb):
    regions.replication.lag = 0.3
    ddb.e.put_item(TableName="orders", Item=item("a", status="new"))
    assert ddb.west.item("orders", {"pk": {"S": "a"}}) is None  # not yet: replication is asynchronous
    assert regions.replication.pending == 1
    regions.replication.wait_caught_up(5)
    assert ddb.w.get_item(TableName="orders", Key={"pk": {"S": "a"}}, ConsistentRead=True)["Item"] == item("a", status="new")
    assert ddb.west.requests.count("PutItem") == 0  # replication never goes through the endpoint


def test_every_write_operation_replicates(regions, ddb):
    ddb.e.put_item(TableName="orders", Item=item("gone"))
    ddb.e.update_item(TableName="orders", Key={"pk": {"S": "u"}}, UpdateExpression="SET n = :n",
                      ExpressionAttributeValues={":n": {"N": "3"}})
    ddb.e.delete_item(TableName="orders", Key={"pk": {"S": "gone"}})
    ddb.e.batch_write_item(RequestItems={"events": [
        {"PutRequest": {"Item": {"pk": {"S": "b"}, "at": {"N": "1"}, "kind": {"S": "click"}}}},
        {"PutRequest": {"Item": {"pk": {"S": "b"}, "at": {"N": "2"}, "kind": {"S": "view"}}}},
    ]})
    ddb.e.transact_write_items(TransactItems=[
        {"Put": {"TableName": "orders", "Item": item("t", status="paid")}},
        {"Delete": {"TableName": "events", "Key": {"pk": {"S": "b"}, "at": {"N": "1"}}}},
    ])
    regions.replication.wait_caught_up(5)
    for region in (ddb.east, ddb.west):
        assert sorted(i["pk"]["S"] for i in region.items("orders")) == ["t", "u"]
        assert region.item("orders", {"pk": {"S": "u"}})["n"] == {"N": "3"}
        assert region.items("events") == [{"pk": {"S": "b"}, "at": {"N": "2"}, "kind": {"S": "view"}}]
    found = ddb.w.query(TableName="events", IndexName="by_kind", KeyConditionExpression="kind = :k",
                        ExpressionAttributeValues={":k": {"S": "view"}})
    assert found["Count"] == 1  # the replica's GSI sees replicated items


def test_failed_writes_do_not_replicate(regions, ddb):
    ddb.e.put_item(TableName="orders", Item=item("c", v="1"))
    with pytest.raises(ddb.e.exceptions.ConditionalCheckFailedException):
        ddb.e.put_item(TableName="orders", Item=item("c", v="2"), ConditionExpression="attribute_not_exists(pk)")
    regions.replication.wait_caught_up(5)
    assert regions.replication.applied == 1
    assert ddb.west.item("orders", {"pk": {"S": "c"}}) == item("c", v="1")


def test_a_write_that_changes_nothing_does_not_replicate(regions, ddb):
    """A delete of a missing item in the failover region must not erase the original elsewhere."""
    regions.replication.pause()
    ddb.e.put_item(TableName="orders", Item=item("s", owner="ann"))
    ddb.w.delete_item(TableName="orders", Key={"pk": {"S": "s"}})  # not there yet: a no-op
    ddb.e.put_item(TableName="orders", Item=item("s", owner="ann"))  # identical data: no record
    assert regions.replication.pending == 1
    regions.replication.resume()
    regions.replication.wait_caught_up(5)
    for region in (ddb.east, ddb.west):
        assert region.item("orders", {"pk": {"S": "s"}}) == item("s", owner="ann")


def test_pause_holds_writes_and_resume_catches_up(regions, ddb):
    regions.replication.pause()
    for n in range(5):
        ddb.e.put_item(TableName="orders", Item=item(f"p{n}"))
    assert regions.replication.pending == 5
    with pytest.raises(TimeoutExpired, match="5 pending, paused=True"):
        regions.replication.wait_caught_up(0.2)
    assert ddb.west.items("orders") == []
    regions.replication.resume()
    regions.replication.wait_caught_up(5)
    assert len(ddb.west.items("orders")) == 5


def test_pause_replication_fault(regions, ddb):
    env = types.SimpleNamespace(dns=None, proxies=None, dynamodb=regions, health=None)
    with Chaos(env) as chaos:
        with chaos.inject("dynamodb.pause_replication"):
            ddb.w.put_item(TableName="orders", Item=item("from-west"))
            assert regions.replication.paused and regions.replication.pending == 1
        regions.replication.wait_caught_up(5)
    assert ddb.east.item("orders", {"pk": {"S": "from-west"}}) == item("from-west")


@pytest.mark.parametrize("last_writer", ["east", "west"])
def test_concurrent_writes_converge_last_writer_wins(regions, ddb, last_writer):
    first, last = (ddb.w, ddb.e) if last_writer == "east" else (ddb.e, ddb.w)
    regions.replication.pause()  # both writes happen before either replicates: a real conflict
    first.put_item(TableName="orders", Item=item("x", writer="first"))
    last.put_item(TableName="orders", Item=item("x", writer="last"))
    regions.replication.resume()
    regions.replication.wait_caught_up(5)
    for region in (ddb.east, ddb.west):
        assert region.item("orders", {"pk": {"S": "x"}})["writer"] == {"S": "last"}
    assert regions.replication.superseded == 1  # the older write lost in the region that wrote last


def test_reset_drops_pending_replication(regions, ddb):
    regions.replication.pause()
    ddb.e.put_item(TableName="orders", Item=item("r"))
    regions.reset()
    assert regions.replication.pending == 0 and not regions.replication.paused
    assert ddb.east.items("orders") == [] and ddb.west.items("orders") == []


def test_table_errors_are_clear(regions, ddb):
    with pytest.raises(ConfigError, match="table 'nope' does not exist in us-east-1"):
        ddb.east.items("nope")
    with pytest.raises(ConfigError, match="table 'orders' already exists"):
        regions.create_tables([{"name": "orders"}])
    with pytest.raises(ConfigError, match="partition_key must be a name with a type"):
        regions.create_tables([{"name": "bad", "partition_key": "pk:X"}])
    with pytest.raises(ConfigError, match="unknown field 'hash'"):
        regions.create_tables([{"name": "bad", "hash": "pk"}])
    with pytest.raises(ConfigError, match="key attribute 'pk' is missing from AttributeDefinitions"):
        regions.create_tables([{"TableName": "bad", "KeySchema": [{"AttributeName": "pk", "KeyType": "HASH"}]}])
