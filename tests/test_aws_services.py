"""Every AWS service an app calls, in any region, by its real hostname through the harness.

``<service>.<region>.amazonaws.com`` resolves through the harness DNS to that endpoint's nodes
(Toxiproxy proxies) in front of the region's moto, so DNS, network and health faults reach the
service by name, as on 20 Oct 2025 when STS, SQS and others in us-east-1 failed with DynamoDB.
"""

from __future__ import annotations

import socket
from collections.abc import Iterator

import pytest
from botocore.exceptions import EndpointConnectionError

from harness.chaos import Chaos
from harness.dynamodb.clients import botocore_session
from harness.dynamodb.regions import DEFAULT_SERVICES, known_regions
from harness.environment import Harness, HarnessConfig
from harness.errors import ConfigError

REGIONS = ("us-east-1", "eu-west-1")


@pytest.fixture(scope="module")
def harness() -> Iterator[Harness]:
    config = HarnessConfig(app_profile=None, regions=REGIONS, resolver_timeout=0.5, resolver_attempts=1,
                           service_health_checks=True)
    with Harness(config) as harness:
        yield harness


@pytest.fixture
def chaos(harness: Harness) -> Iterator[Chaos]:
    harness.reset()
    yield harness.chaos
    harness.reset()


def client(harness: Harness, service: str, region: str):
    return harness.dynamodb.region(region).endpoint(service).client(retries={"mode": "standard", "max_attempts": 1},
                                                                    connect_timeout=1, read_timeout=5)


@pytest.mark.parametrize("region", REGIONS)
def test_every_service_name_resolves_to_its_own_nodes(harness: Harness, chaos: Chaos, region: str) -> None:
    for service in DEFAULT_SERVICES:
        endpoint = harness.dynamodb.region(region).endpoint(service)
        infos = socket.getaddrinfo(f"{service}.{region}.amazonaws.com", endpoint.port, type=socket.SOCK_STREAM)
        assert sorted({info[4][0] for info in infos}) == sorted(endpoint.nodes)
        assert set(harness.health.published(endpoint.hostname)) == set(endpoint.nodes)  # checked, all healthy


@pytest.mark.parametrize("region", REGIONS)
def test_sts_sqs_and_s3_work_by_their_real_hostnames(harness: Harness, chaos: Chaos, region: str) -> None:
    sts, sqs, s3 = (client(harness, service, region) for service in ("sts", "sqs", "s3"))
    assert sts.meta.endpoint_url.startswith(f"http://sts.{region}.amazonaws.com:")
    assert sts.get_caller_identity()["Account"] == harness.dynamodb.account_id

    queue = sqs.create_queue(QueueName=f"orders-{region}")["QueueUrl"]
    sqs.send_message(QueueUrl=queue, MessageBody="order 1 placed")
    assert [m["Body"] for m in sqs.receive_message(QueueUrl=queue)["Messages"]] == ["order 1 placed"]

    location = {} if region == "us-east-1" else {"CreateBucketConfiguration": {"LocationConstraint": region}}
    s3.create_bucket(Bucket=f"receipts-{region}", **location)
    s3.put_object(Bucket=f"receipts-{region}", Key="o1", Body=b"receipt")
    assert s3.get_object(Bucket=f"receipts-{region}", Key="o1")["Body"].read() == b"receipt"
    for service in ("sts", "sqs", "s3"):
        assert harness.dns.log.count(f"{service}.{region}.amazonaws.com") >= 1  # asked the harness DNS
    for c in (sts, sqs, s3):
        c.close()


def test_an_empty_answer_for_sqs_is_what_botocore_raises_for_an_unresolvable_endpoint(harness: Harness,
                                                                                      chaos: Chaos) -> None:
    east_sqs, west_sqs, east_sts = (client(harness, "sqs", "us-east-1"), client(harness, "sqs", "eu-west-1"),
                                    client(harness, "sts", "us-east-1"))
    with chaos.inject("dns.empty_answer", {"qname": "sqs.us-east-1.amazonaws.com"}):
        with pytest.raises(EndpointConnectionError, match="sqs.us-east-1.amazonaws.com"):
            east_sqs.list_queues()
        west_sqs.list_queues()  # other regions and other services are untouched
        east_sts.get_caller_identity()
    east_sqs.list_queues()
    for c in (east_sqs, west_sqs, east_sts):
        c.close()


def test_network_faults_pick_a_service_by_name(harness: Harness, chaos: Chaos) -> None:
    sqs = client(harness, "sqs", "us-east-1")
    dynamodb = harness.dynamodb.region("us-east-1").client(retries={"mode": "standard", "max_attempts": 1})
    with chaos.inject("network.partition", {"region": "us-east-1", "service": "sqs"}):
        with pytest.raises(EndpointConnectionError):
            sqs.list_queues()
        dynamodb.list_tables()
    sqs.list_queues()
    with pytest.raises(ConfigError, match="service 'kafka' is not served in us-east-1"):
        chaos.inject("network.partition", {"region": "us-east-1", "service": "kafka"})
    sqs.close()
    dynamodb.close()


def test_health_faults_reach_a_service_by_its_hostname(harness: Harness, chaos: Chaos) -> None:
    sqs = harness.dynamodb.region("us-east-1").endpoint("sqs")
    with chaos.inject("health.kill_target", {"group": sqs.hostname, "target": 0}):
        harness.health.wait_for_state(0, False, group=sqs.hostname, timeout=5)
        with pytest.raises(EndpointConnectionError):
            client(harness, "sqs", "us-east-1").list_queues()  # the node is down (fail-open keeps it in DNS)


def test_unknown_service_names_are_refused() -> None:
    with pytest.raises(ConfigError, match="unknown AWS service 'sqss'"):
        Harness(HarnessConfig(app_profile=None, services=("sqss",))).start()


def test_the_default_services_are_botocore_service_names() -> None:
    # validate_services trusts the defaults without listing botocore's data; this keeps that honest.
    assert set(DEFAULT_SERVICES) <= set(botocore_session().get_available_services())


def test_known_regions_are_the_regions_botocore_lists_for_dynamodb() -> None:
    session = botocore_session()
    expected = {region for partition in session.get_available_partitions()
                for region in session.get_available_regions("dynamodb", partition)}
    assert set(known_regions()) == expected and "us-east-1" in expected and "cn-north-1" in expected


def test_moto_lists_the_regions_its_own_boto3_session_would(harness: Harness) -> None:
    # The harness answers moto's region lookups from the shared botocore session
    # (share_region_lists_with_moto); the answers must be what moto's own boto3.Session() gives.
    import boto3
    from moto.core.base_backend import AccountSpecificBackend

    shared, own = AccountSpecificBackend.get_session(), boto3.session.Session()
    assert not isinstance(shared, boto3.session.Session)  # the harness's lists are in use
    partitions = own.get_available_partitions()
    assert shared.get_available_partitions() == partitions and "aws-cn" in partitions
    for service in ("dynamodb", *DEFAULT_SERVICES):
        for partition in partitions:
            assert shared.get_available_regions(service, partition) == \
                own.get_available_regions(service, partition_name=partition), (service, partition)
