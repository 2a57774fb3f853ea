"""Every DNS fault as boto3 sees it: the botocore exception, and the lookups its retries make.

boto3 reaches a moto DynamoDB server by name (dynamodb.us-east-1.amazonaws.com) through the
in-process resolver hook; botocore uses standard retries with ``max_attempts=2``, which in a
``Config(retries=...)`` dict counts *retries* (``total_max_attempts`` counts the first try too): a
failed call makes three connection attempts, each with its own getaddrinfo (A + AAAA).
"""

from __future__ import annotations

import threading
from collections import Counter
from collections.abc import Iterator

import boto3
import pytest
from botocore.config import Config
from botocore.exceptions import ConnectTimeoutError, EndpointConnectionError
from moto.server import DomainDispatcherApplication, create_backend_app
from werkzeug.serving import WSGIRequestHandler, make_server

from harness.resolver import ResolverOptions, use_harness_dns
from harness_dns_env import NAME, DnsEnv

RESOLVER = ResolverOptions(timeout=0.2, attempts=1)
ONE_LOOKUP_PER_ATTEMPT = Counter({("udp", "A"): 3, ("udp", "AAAA"): 3})


class _QuietHandler(WSGIRequestHandler):
    def log_request(self, *args: object) -> None:  # moto server must not log every request
        pass


@pytest.fixture
def moto_address(dns_env: DnsEnv) -> Iterator[tuple[str, int]]:
    """moto's DynamoDB in server mode on this worker's own loopback address."""
    host = dns_env.pool.take("moto")
    server = make_server(host, 0, DomainDispatcherApplication(create_backend_app),
                         threaded=True, request_handler=_QuietHandler)
    thread = threading.Thread(target=server.serve_forever, name="moto-server")
    thread.start()
    try:
        yield host, server.server_port
    finally:
        server.shutdown()
        server.server_close()
        thread.join()


@pytest.fixture
def dynamodb(dns_env: DnsEnv, moto_address: tuple[str, int]):
    host, port = moto_address
    dns_env.topology.set(NAME, [host])
    client = boto3.client(
        "dynamodb", region_name="us-east-1", endpoint_url=f"http://{NAME}:{port}",
        aws_access_key_id="testing", aws_secret_access_key="testing",
        config=Config(connect_timeout=0.5, read_timeout=2, retries={"mode": "standard", "max_attempts": 2}),
    )
    with use_harness_dns(dns_env.server.address, ["amazonaws.com"], RESOLVER):
        yield client
    client.close()


def lookups(dns_env: DnsEnv) -> Counter:
    return Counter(dns_env.queries())


def test_no_fault_reaches_moto_by_name(dns_env: DnsEnv, dynamodb) -> None:
    dynamodb.create_table(TableName="orders", KeySchema=[{"AttributeName": "id", "KeyType": "HASH"}],
                          AttributeDefinitions=[{"AttributeName": "id", "AttributeType": "S"}],
                          BillingMode="PAY_PER_REQUEST")
    dynamodb.put_item(TableName="orders", Item={"id": {"S": "1"}})
    assert dynamodb.get_item(TableName="orders", Key={"id": {"S": "1"}})["Item"] == {"id": {"S": "1"}}
    assert lookups(dns_env)[("udp", "A")] >= 1
    dynamodb.delete_table(TableName="orders")


@pytest.mark.parametrize(("fault", "options", "expected"), [
    ("dns.empty_answer", {}, ONE_LOOKUP_PER_ATTEMPT),
    ("dns.nxdomain", {}, ONE_LOOKUP_PER_ATTEMPT),
    # glibc retries a server failure / silence once per resolver attempt (attempts=1 here).
    ("dns.servfail", {}, ONE_LOOKUP_PER_ATTEMPT),
    ("dns.refused", {}, ONE_LOOKUP_PER_ATTEMPT),
    ("dns.timeout", {}, ONE_LOOKUP_PER_ATTEMPT),
    ("dns.delay", {"latency": 0.5}, ONE_LOOKUP_PER_ATTEMPT),  # longer than the 0.2 s resolver timeout
])
def test_resolution_failures_are_endpoint_connection_errors(dns_env: DnsEnv, dynamodb, fault: str, options: dict,
                                                          expected: Counter) -> None:
    with dns_env.chaos.inject(fault, **options):
        with pytest.raises(EndpointConnectionError) as info:
            dynamodb.list_tables()
    assert NAME in str(info.value)
    if fault == "dns.delay":  # delayed queries are logged when answered
        dns_env.server.log.wait_for(lambda: lookups(dns_env) == expected, timeout=5)
    assert lookups(dns_env) == expected


@pytest.mark.parametrize(("fault", "options"), [
    ("dns.truncate", {}),
    ("dns.delay", {"latency": 0.05}),
])
def test_recoverable_faults_succeed(dns_env: DnsEnv, dynamodb, fault: str, options: dict) -> None:
    with dns_env.chaos.inject(fault, **options):
        assert "TableNames" in dynamodb.list_tables()
    if fault == "dns.truncate":
        assert lookups(dns_env)[("tcp", "A")] == 1


def test_wrong_address_pointing_at_the_right_node_works(dns_env: DnsEnv, dynamodb, moto_address) -> None:
    dns_env.topology.set(NAME, [dns_env.pool.take("dead-node")])  # the published record is wrong ...
    with dns_env.chaos.inject("dns.wrong_address", addresses=[moto_address[0]]):  # ... the fault fixes it
        assert "TableNames" in dynamodb.list_tables()
    with pytest.raises(EndpointConnectionError):
        dynamodb.list_tables()


def test_wrong_address_with_nothing_listening_is_refused_quickly(dns_env: DnsEnv, dynamodb) -> None:
    """Nothing listens on the fault's default loopback address: connection refused, not a timeout."""
    with dns_env.chaos.inject("dns.wrong_address"):
        with pytest.raises(EndpointConnectionError) as info:
            dynamodb.list_tables()
    assert not isinstance(info.value, ConnectTimeoutError)
    assert "Connection refused" in repr(info.value.kwargs.get("error"))
    assert lookups(dns_env) == ONE_LOOKUP_PER_ATTEMPT
