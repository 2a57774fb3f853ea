"""The profile store under DNS, service and replication faults, using only the plugin's fixtures."""

from __future__ import annotations

import pytest

from profile_store import Profile, StoreUnavailable

US_EAST_1 = "dynamodb.us-east-1.amazonaws.com"
US_WEST_2 = "dynamodb.us-west-2.amazonaws.com"
ADA = Profile("u1", "Ada", "ada@example.com")


def test_reads_and_writes_go_to_the_home_region(store, chaos_dynamodb) -> None:
    assert store.save(ADA) == "us-east-1"
    assert store.load("u1") == ADA
    assert store.last_region == "us-east-1"
    assert [item["name"]["S"] for item in chaos_dynamodb.items("profiles", "us-east-1")] == ["Ada"]


@pytest.mark.chaos("dns.empty_answer", qname=US_EAST_1)
def test_empty_dns_answer_for_the_home_region_fails_over(store, chaos_dns) -> None:
    # 20 Oct 2025: the regional endpoint's name resolved to nothing.
    assert store.save(ADA) == "us-west-2"
    assert store.load("u1") == ADA
    assert store.last_region == "us-west-2"
    assert chaos_dns.log.count(US_EAST_1) >= 1  # the store did ask, and got an empty answer


def test_open_connections_outlive_a_dns_outage(store, chaos) -> None:
    store.save(ADA)  # opens a keep-alive connection to a us-east-1 node
    with chaos.inject("dns.nxdomain", qname=US_EAST_1):
        assert store.load("u1") == ADA  # no lookup needed: the pooled connection still works
        assert store.last_region == "us-east-1"


# Warm pool vs pool turned over. In the first minutes of 20 Oct 2025 clients with warm pools kept
# reaching us-east-1; over the 2 h 37 min of empty answers (and the hours after) the endpoints and
# load balancers recycled connections, so every client's pool turned over and each reconnect needed
# the name. A test that only ever runs with a warm pool never exercises failover.

def test_warm_pool_keeps_using_us_east_1_under_an_empty_answer(store, chaos, chaos_dns) -> None:
    store.save(ADA)  # the pool is warm
    looked_up = chaos_dns.log.count(US_EAST_1)
    with chaos.inject("dns.empty_answer", qname=US_EAST_1):
        for _ in range(3):
            assert store.load("u1") == ADA
            assert store.last_region == "us-east-1"  # the outage goes unnoticed
    assert chaos_dns.log.count(US_EAST_1) == looked_up  # not one lookup was needed


def test_recycled_pool_fails_over_under_an_empty_answer(store, chaos, chaos_dynamodb) -> None:
    store.save(ADA)
    chaos_dynamodb.wait_replicated(timeout=5)  # so us-west-2 has the profile to serve
    with chaos.inject("dns.empty_answer", qname=US_EAST_1):
        chaos_dynamodb.close_connections()  # the endpoints turn every pooled connection over
        assert store.load("u1") == ADA
        assert store.last_region == "us-west-2"  # the reconnect needed DNS, got nothing, failed over


def test_connections_past_their_age_fail_over_too(store, chaos, chaos_dynamodb) -> None:
    chaos_dynamodb.connection_max_age = 1e-6  # every response closes its connection (this test only)
    store.save(ADA)
    chaos_dynamodb.wait_replicated(timeout=5)
    with chaos.inject("dns.empty_answer", qname=US_EAST_1):
        assert store.load("u1") == ADA
        assert store.last_region == "us-west-2"


def test_failover_reads_can_be_stale_while_replication_lags(store, chaos, chaos_dynamodb) -> None:
    chaos_dynamodb.pause_replication()
    store.save(ADA)  # acknowledged by us-east-1, not yet in us-west-2
    with chaos.inject("dynamodb.unavailable", region="us-east-1"):
        assert store.load("u1") is None  # served by us-west-2, which has not seen the write
        assert store.last_region == "us-west-2"
    chaos_dynamodb.resume_replication()
    chaos_dynamodb.wait_replicated(timeout=5)
    with chaos.inject("dynamodb.unavailable", region="us-east-1"):
        assert store.load("u1") == ADA


def test_throttled_home_region_fails_over_after_the_retries(store, chaos) -> None:
    store.save(ADA)
    chaos.inject("dynamodb.throttle", region="us-east-1")  # active for the rest of the test
    assert store.load("u1") == ADA
    assert store.last_region == "us-west-2"


@pytest.mark.chaos("dns.empty_answer", qname=US_EAST_1)
@pytest.mark.chaos("dns.empty_answer", qname=US_WEST_2)
def test_both_regions_unresolvable_is_an_outage(store) -> None:
    with pytest.raises(StoreUnavailable) as caught:
        store.save(ADA)
    assert set(caught.value.errors) == {"us-east-1", "us-west-2"}


def test_each_test_starts_clean(store, chaos, chaos_dns) -> None:
    # Whatever ran before: no faults, an empty table, the default records.
    assert chaos.active == []
    assert store.load("u1") is None and store.last_region == "us-east-1"
    assert len(chaos_dns.get(US_EAST_1).addresses) == 3


# Other services of the region: on 20 Oct 2025 STS, SQS and others in us-east-1 failed with DynamoDB.
US_EAST_1_SQS = "sqs.us-east-1.amazonaws.com"


def test_events_go_to_the_region_that_took_the_write(store, events) -> None:
    region = store.save(ADA)
    assert events.publish(ADA, region) == "us-east-1"
    assert events.received("us-east-1") == [{"event": "profile-saved", "user_id": "u1", "region": "us-east-1"}]


@pytest.mark.chaos("dns.empty_answer", qname=[US_EAST_1, US_EAST_1_SQS])
def test_the_whole_region_unresolvable_moves_data_and_events_to_us_west_2(store, events) -> None:
    region = store.save(ADA)
    assert region == "us-west-2"
    assert events.publish(ADA, region) == "us-west-2"
    assert events.received("us-west-2")[0]["user_id"] == "u1"


@pytest.mark.chaos("dns.empty_answer", qname=US_EAST_1_SQS)
def test_sqs_down_alone_still_gets_the_event_out(store, events, chaos_dns, chaos_dynamodb) -> None:
    assert store.save(ADA) == "us-east-1"  # DynamoDB is fine
    assert events.publish(ADA, "us-east-1") == "us-east-1"  # the queue's warm connection rides it out
    chaos_dynamodb.close_connections()  # every endpoint (SQS too) turns its pooled connections over
    assert events.publish(ADA, "us-east-1") == "us-west-2"  # now SQS in us-east-1 is unreachable
    assert chaos_dns.log.count(US_EAST_1_SQS) >= 1
