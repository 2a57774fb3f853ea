"""DynamoDB service faults, observed through boto3: error classes, HTTP status, attempts made.

The regions run without DNS and proxies here (clients talk to the front servers), which is all a
service fault needs; attempts are counted both from botocore's ResponseMetadata and at the front.
"""

from __future__ import annotations

import http.client
import json
import time
import types
import zlib

import botocore.auth
import botocore.awsrequest
import botocore.credentials
import botocore.retries.bucket
import botocore.retries.standard as standard
import pytest
from botocore.exceptions import ClientError

from faults import create_fault
from harness.chaos import Chaos
from harness.dynamodb import DynamoRegions
from regions_fixtures import skip_retry_backoff
from harness.errors import ConfigError, FaultOptionError

KEY = {"pk": {"S": "k1"}}
DYNAMODB_STANDARD_ATTEMPTS = standard._SERVICE_MAX_ATTEMPTS.get("dynamodb", standard.DEFAULT_MAX_ATTEMPTS)


@pytest.fixture(scope="module")
def regions():
    with DynamoRegions() as regions:
        regions.create_tables([{"name": "orders", "partition_key": "pk:S"}])
        yield regions


@pytest.fixture
def chaos(regions):
    regions.reset()
    env = types.SimpleNamespace(dns=None, proxies=None, dynamodb=regions, health=None)
    with Chaos(env) as chaos:
        yield chaos
    regions.reset()


@pytest.fixture
def east(regions):
    return regions.region("us-east-1")


def client(region, mode: str, attempts: int | None = None):
    retries = {"mode": mode} if attempts is None else {"mode": mode, "total_max_attempts": attempts}
    return region.client(retries=retries, connect_timeout=1, read_timeout=2)


def signed_post(region, target: str, body: dict) -> tuple[int, dict[str, str], bytes]:
    """A raw SigV4-signed request, to look at the bytes the front puts on the wire."""
    request = botocore.awsrequest.AWSRequest(
        "POST", region.front.url + "/", data=json.dumps(body).encode(),
        headers={"X-Amz-Target": f"DynamoDB_20120810.{target}", "Content-Type": "application/x-amz-json-1.0"},
    )
    botocore.auth.SigV4Auth(botocore.credentials.Credentials("testing", "testing"), "dynamodb", region.name).add_auth(request)
    conn = http.client.HTTPConnection(region.front.host, region.front.port, timeout=5)
    try:
        conn.request("POST", "/", body=request.body, headers=dict(request.headers))
        response = conn.getresponse()
        return response.status, {k.lower(): v for k, v in response.getheaders()}, response.read()
    finally:
        conn.close()


def test_throttle_has_dynamodb_wire_format(chaos, east):
    chaos.inject("dynamodb.throttle")
    status, headers, body = signed_post(east, "GetItem", {"TableName": "orders", "Key": KEY})
    assert status == 400
    assert headers["content-type"] == "application/x-amz-json-1.0"
    assert int(headers["x-amz-crc32"]) == zlib.crc32(body)
    assert len(headers["x-amzn-requestid"]) == 52
    assert json.loads(body)["__type"] == "com.amazonaws.dynamodb.v20120810#ProvisionedThroughputExceededException"


def test_legacy_mode_makes_ten_attempts_with_50ms_doubling(chaos, east):
    chaos.inject("dynamodb.throttle", operation="PutItem")
    ddb = client(east, "legacy")
    with skip_retry_backoff() as backoff, pytest.raises(ddb.exceptions.ProvisionedThroughputExceededException) as info:
        ddb.put_item(TableName="orders", Item=KEY)
    assert info.value.response["ResponseMetadata"]["HTTPStatusCode"] == 400
    assert info.value.response["ResponseMetadata"]["RetryAttempts"] == 9
    assert east.requests.count("PutItem", error="ProvisionedThroughputExceededException") == 10
    assert backoff.delays == pytest.approx([0.05 * 2**i for i in range(9)])


def test_standard_mode_attempts_and_jittered_backoff(chaos, east):
    chaos.inject("dynamodb.throttle", error="ThrottlingException")
    ddb = client(east, "standard")
    with skip_retry_backoff() as backoff, pytest.raises(ClientError) as info:
        ddb.get_item(TableName="orders", Key=KEY)
    assert info.value.response["Error"]["Code"] == "ThrottlingException"
    assert info.value.response["ResponseMetadata"]["RetryAttempts"] == DYNAMODB_STANDARD_ATTEMPTS - 1
    assert east.requests.count("GetItem") == DYNAMODB_STANDARD_ATTEMPTS
    # Full jitter: each delay is somewhere below its exponential cap (1 s base for throttles).
    assert len(backoff.delays) == DYNAMODB_STANDARD_ATTEMPTS - 1
    assert all(0 <= d <= 2**i for i, d in enumerate(backoff.delays))


@pytest.mark.parametrize(
    ("fault", "code", "status"),
    [("dynamodb.internal_error", "InternalServerError", 500), ("dynamodb.unavailable", "ServiceUnavailable", 503)],
)
def test_server_errors_are_retried_then_surface(chaos, east, fault, code, status):
    chaos.inject(fault)
    ddb = client(east, "standard")
    with skip_retry_backoff(), pytest.raises(ClientError) as info:
        ddb.get_item(TableName="orders", Key=KEY)
    assert info.value.response["Error"]["Code"] == code
    assert info.value.response["ResponseMetadata"]["HTTPStatusCode"] == status
    assert east.requests.count("GetItem", status=status) == DYNAMODB_STANDARD_ATTEMPTS


def test_standard_retry_quota_exhaustion_stops_retries(chaos, east):
    """500 tokens; each non-throttling retry costs botocore's retry cost; at zero, no more retries."""
    chaos.inject("dynamodb.internal_error", operation="GetItem")
    ddb = client(east, "standard")
    cost = standard.RetryQuotaChecker._RETRY_COST
    retries_per_call = DYNAMODB_STANDARD_ATTEMPTS - 1
    calls_with_full_retries = 500 // (cost * retries_per_call)
    attempts = []
    with skip_retry_backoff():
        for _ in range(calls_with_full_retries + 2):
            with pytest.raises(ClientError) as info:
                ddb.get_item(TableName="orders", Key=KEY)
            attempts.append(info.value.response["ResponseMetadata"]["RetryAttempts"])
    assert attempts[:calls_with_full_retries] == [retries_per_call] * calls_with_full_retries
    leftover_retries = (500 - calls_with_full_retries * cost * retries_per_call) // cost
    assert attempts[calls_with_full_retries] == leftover_retries
    assert attempts[-1] == 0  # quota drained: the SDK gives up after the first attempt
    assert east.requests.count("GetItem") == sum(a + 1 for a in attempts)


def test_adaptive_mode_rate_limits_the_client_after_a_throttle(chaos, east, monkeypatch):
    """After one throttle the adaptive limiter gates every send through its token bucket."""
    acquired: list[float] = []
    original = botocore.retries.bucket.TokenBucket.acquire

    def recording_acquire(self, amount=1, block=True):
        acquired.append(self.max_rate)
        return original(self, amount, block)

    monkeypatch.setattr(botocore.retries.bucket.TokenBucket, "acquire", recording_acquire)
    waits = {}
    for mode in ("standard", "adaptive"):
        ddb = client(east, mode, attempts=1)
        ddb.get_item(TableName="orders", Key=KEY)  # warm connection, no throttle yet
        with chaos.inject("dynamodb.throttle", operation="PutItem"):
            with pytest.raises(ddb.exceptions.ProvisionedThroughputExceededException):
                ddb.put_item(TableName="orders", Item=KEY)
        start = time.monotonic()
        ddb.get_item(TableName="orders", Key=KEY)  # not throttled itself
        waits[mode] = time.monotonic() - start
        if mode == "standard":
            assert acquired == []  # standard mode has no client-side limiter
    assert len(acquired) == 1 and acquired[0] <= 2.0  # send rate cut to a couple of requests/s at most
    assert waits["adaptive"] > 0.3 > waits["standard"]  # the un-throttled call waited for a token


def test_probability_is_repeatable_for_a_seed(chaos, east):
    ddb = client(east, "standard", attempts=1)

    def pattern(seed: int) -> list[bool]:
        outcome = []
        with chaos.inject("dynamodb.throttle", probability=0.3, seed=seed, operation="GetItem"):
            for _ in range(40):
                try:
                    ddb.get_item(TableName="orders", Key=KEY)
                    outcome.append(False)
                except ddb.exceptions.ProvisionedThroughputExceededException:
                    outcome.append(True)
        return outcome

    first, again, other = pattern(7), pattern(7), pattern(8)
    assert first == again
    assert first != other
    assert sum(first) == sum(other) == 12  # spread evenly: exactly 30% of the 40 calls


def test_operation_and_region_filters(chaos, regions, east):
    west = regions.region("us-west-2")
    chaos.inject("dynamodb.throttle", operation=["PutItem"], region=["us-west-2"])
    east_ddb, west_ddb = client(east, "standard", 1), client(west, "standard", 1)
    east_ddb.put_item(TableName="orders", Item=KEY)
    west_ddb.get_item(TableName="orders", Key=KEY)
    with pytest.raises(west_ddb.exceptions.ProvisionedThroughputExceededException):
        west_ddb.put_item(TableName="orders", Item=KEY)


def test_faults_are_cleared_and_reset_clears_leftovers(chaos, regions, east):
    ddb = client(east, "standard", 1)
    with chaos.inject("dynamodb.unavailable"):
        with pytest.raises(ClientError):
            ddb.list_tables()
    assert ddb.list_tables()["TableNames"] == ["orders"]
    create_fault("dynamodb.internal_error").start(types.SimpleNamespace(dynamodb=regions))  # never stopped
    regions.reset()
    assert ddb.list_tables()["TableNames"] == ["orders"]


def test_bad_options_give_one_line_errors(chaos):
    with pytest.raises(FaultOptionError, match="unknown DynamoDB operation 'PutItems'"):
        create_fault("dynamodb.throttle", operation="PutItems")
    with pytest.raises(FaultOptionError, match="error"):
        create_fault("dynamodb.throttle", error="SlowDown")
    with pytest.raises(ConfigError, match="'eu-west-1' is not running"):
        chaos.inject("dynamodb.throttle", region="eu-west-1")
    assert chaos.active == []
