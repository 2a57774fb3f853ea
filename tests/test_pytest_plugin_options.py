"""The plugin's session options: DNS routing, resolver patience, connection recycling, regions.

Inner pytest sessions in a subprocess, as a user's CI runs them. A plain test must resolve managed
names the way the host does whatever ran before it; a chaos test resolves them through the harness.
"""

from __future__ import annotations

import json

import pytest

pytest_plugins = ["pytester"]

EAST = "dynamodb.us-east-1.amazonaws.com"

RECORDING_SUITE = f"""
import json, os, socket
import pytest

def lookup():
    try:
        return ["ok", sorted({{info[4][0] for info in socket.getaddrinfo("{EAST}", 443, type=socket.SOCK_STREAM)}})]
    except socket.gaierror as exc:
        return ["error", exc.errno]

def record(name):
    with open(os.environ["ROUTING_LOG"], "a") as log:
        log.write(json.dumps([name, lookup()]) + "\\n")

def test_a_plain_before():
    record("plain before")

def test_b_chaos(chaos_dns):
    record("chaos")

@pytest.mark.chaos("dns.delay", qname="{EAST}", latency=0.01)
def test_c_marker_only():
    record("marker")

def test_d_plain_after():
    record("plain after")
"""


def _run(pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch, *args: str) -> dict[str, list]:
    """Run the recording suite in order; what each test's lookup of the DynamoDB name gave."""
    log = pytester.path / "routing.jsonl"
    monkeypatch.setenv("ROUTING_LOG", str(log))
    pytester.makepyfile(test_routing=RECORDING_SUITE)
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider", *args, timeout=120)
    result.assert_outcomes(passed=4)
    return {name: outcome for name, outcome in map(json.loads, log.read_text().splitlines())}


def _harness_address(outcome: list) -> bool:
    return outcome[0] == "ok" and all(address.startswith("127.") for address in outcome[1])


def test_plain_tests_resolve_the_same_before_and_after_a_chaos_test(pytester: pytest.Pytester,
                                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    seen = _run(pytester, monkeypatch)
    assert seen["plain before"] == seen["plain after"]
    assert not _harness_address(seen["plain after"])  # the host's answer, not the harness's nodes
    assert _harness_address(seen["chaos"]) and _harness_address(seen["marker"])


def test_session_routing_is_explicit_and_covers_every_test(pytester: pytest.Pytester,
                                                          monkeypatch: pytest.MonkeyPatch) -> None:
    seen = _run(pytester, monkeypatch, "--chaos-dns-routing", "session")
    assert all(_harness_address(outcome) for outcome in seen.values()), seen
    assert seen["plain before"] == seen["plain after"]


TIMED_SUITE = f"""
import json, os, socket, time

def test_timed_dns_timeout(chaos):
    chaos.inject("dns.timeout", qname="{EAST}")
    started = time.monotonic()
    try:
        socket.getaddrinfo("{EAST}", 443, type=socket.SOCK_STREAM)
        code = "ok"
    except socket.gaierror as exc:
        code = exc.errno
    with open(os.environ["TIMING_LOG"], "w") as log:
        json.dump([code, time.monotonic() - started], log)
"""


def _timed(pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch, *args: str) -> tuple[list, pytest.RunResult]:
    log = pytester.path / "timing.json"
    monkeypatch.setenv("TIMING_LOG", str(log))
    monkeypatch.setenv("RES_OPTIONS", "timeout:1 attempts:2")  # this "host": glibc waits 1 s x 2
    pytester.makepyfile(test_timed=TIMED_SUITE)
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider", *args, timeout=120)
    result.assert_outcomes(passed=1)
    return json.loads(log.read_text()), result


def test_the_plugin_waits_like_the_host_unless_a_faster_resolver_is_asked_for(pytester: pytest.Pytester,
                                                                             monkeypatch: pytest.MonkeyPatch) -> None:
    import socket

    (code, host_seconds), result = _timed(pytester, monkeypatch)
    assert code == socket.EAI_AGAIN
    assert host_seconds >= 1.9  # the host's 1 s x 2, not a test-only shortcut
    result.stdout.fnmatch_lines(["chaos-harness: resolver timeout 1 s x 2 attempts (host: * + RES_OPTIONS)*"])

    (code, fast_seconds), result = _timed(pytester, monkeypatch, "--chaos-resolver-timeout", "0.2",
                                          "--chaos-resolver-attempts", "1")
    assert code == socket.EAI_AGAIN
    assert fast_seconds < host_seconds / 4
    result.stdout.fnmatch_lines(["chaos-harness: resolver timeout 0.2 s x 1 attempt (explicit: --chaos-resolver-*"])


def test_a_bad_resolver_option_is_a_one_line_usage_error(pytester: pytest.Pytester) -> None:
    pytester.makeini("[pytest]\nchaos_resolver_timeout = soon\n")
    pytester.makepyfile(test_nothing="def test_nothing():\n    pass\n")
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider", timeout=60)
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(["*--chaos-resolver-timeout / chaos_resolver_timeout: expected seconds above 0 and at most 30, got 'soon'"])


def test_connection_max_age_from_the_ini_and_per_test(pytester: pytest.Pytester) -> None:
    pytester.makeini("[pytest]\nchaos_connection_max_age = 300\n")
    pytester.makepyfile(test_age=f"""
        def test_a_turns_pools_over_for_itself(chaos_dynamodb, chaos_dns):
            assert chaos_dynamodb.connection_max_age == 300
            chaos_dynamodb.connection_max_age = 1e-6
            ddb = chaos_dynamodb.client("us-east-1")
            ddb.list_tables()
            looked_up = chaos_dns.log.count("{EAST}")
            ddb.list_tables()
            assert chaos_dns.log.count("{EAST}") > looked_up

        def test_b_starts_from_the_session_setting(chaos_dynamodb):
            assert chaos_dynamodb.connection_max_age == 300
    """)
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider", timeout=120)
    result.assert_outcomes(passed=2)


def test_any_region_and_its_other_services(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(test_regions="""
        import pytest
        from botocore.exceptions import EndpointConnectionError

        @pytest.mark.chaos("dynamodb.throttle", region="eu-west-1")
        def test_a_marker_names_eu_west_1(chaos_dynamodb, chaos_aws):
            assert chaos_dynamodb.regions == ["us-east-1", "eu-west-1"]
            assert chaos_aws.endpoint_url("sqs", "eu-west-1").startswith("http://sqs.eu-west-1.amazonaws.com:")
            sqs = chaos_aws.client("sqs", "eu-west-1")
            assert "QueueUrl" in sqs.create_queue(QueueName="orders")

        def test_health_faults_reach_sqs_by_name(chaos, chaos_health):
            group = "sqs.us-east-1.amazonaws.com"
            chaos.inject("health.fail_checks", group=group, target=0)
            chaos_health.wait_for_state(0, False, group=group, timeout=5)

        def test_sqs_unresolvable(chaos, chaos_aws):
            sqs = chaos_aws.client("sqs", "us-east-1", retries={"max_attempts": 1})
            chaos.inject("dns.empty_answer", qname="sqs.us-east-1.amazonaws.com")
            with pytest.raises(EndpointConnectionError):
                sqs.list_queues()
    """)
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider", "--chaos-regions", "us-east-1,eu-west-1",
                                           "--chaos-service-health-checks", "true", timeout=120)
    result.assert_outcomes(passed=3)
    bad = pytester.runpytest_subprocess("-p", "no:cacheprovider", "--chaos-regions", "us-east-1,mars-north-1", timeout=60)
    assert bad.ret == pytest.ExitCode.USAGE_ERROR
    bad.stderr.fnmatch_lines(["*--chaos-regions / chaos_regions: unknown DynamoDB region 'mars-north-1'*"])


def test_a_bad_option_to_chaos_inject_is_one_error_line_under_the_test_line(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(test_typo="""
        import pytest
        from harness.errors import FaultOptionError

        def test_typo(chaos):
            chaos.inject("dns.empty_answer", qnme="x")

        def test_still_catchable(chaos):
            with pytest.raises(FaultOptionError, match="unknown option 'qnme'"):
                chaos.inject("dns.empty_answer", qnme="x")
    """)
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider", timeout=60)
    result.assert_outcomes(passed=1, failed=1)
    failure = result.stdout.str().split("_ test_typo _", 1)[1].split("short test summary", 1)[0]
    assert "harness.errors.FaultOptionError: dns.empty_answer: unknown option 'qnme'; known options:" in failure
    assert "faults/base.py" not in failure and "harness/chaos.py" not in failure  # no harness frames
    assert len([line for line in failure.splitlines() if line.startswith("E ")]) == 1


def test_session_fixtures_still_reach_the_harness_when_they_are_torn_down(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(test_teardown=f"""
        import socket
        import pytest

        @pytest.fixture(scope="session")
        def table(chaos_dynamodb):
            client = chaos_dynamodb.client("us-east-1")
            client.create_table(TableName="scratch", KeySchema=[{{"AttributeName": "k", "KeyType": "HASH"}}],
                                AttributeDefinitions=[{{"AttributeName": "k", "AttributeType": "S"}}],
                                BillingMode="PAY_PER_REQUEST")
            yield "scratch"
            client.close()
            with open("teardown.txt", "w") as out:  # the name still resolves through the harness here
                out.write(socket.gethostbyname("{EAST}"))

        def test_uses_it(table):
            pass

        def test_plain_last():  # resolved by the host (NXDOMAIN offline, AWS's addresses online)
            try:
                address = socket.gethostbyname("{EAST}")
            except socket.gaierror:
                address = None
            assert address is None or not address.startswith("127.")
    """)
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider", timeout=120)
    result.assert_outcomes(passed=2)
    assert (pytester.path / "teardown.txt").read_text().startswith("127.")
