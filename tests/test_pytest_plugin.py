"""The pytest plugin as a downstream repo sees it: inner pytest sessions run through ``pytester``.

Inline runs (same process) let us check that a session leaves no threads or sockets behind;
subprocess runs check the entry point, xdist and prompt exit exactly as a user's CI would run them.
"""

from __future__ import annotations

import os
import textwrap
import threading
from pathlib import Path

import pytest

# Imported here so inline inner sessions reuse these modules instead of importing (and
# registering faults) a second time. pytester drops modules first imported by an inner session,
# so the components harness.environment imports only on start (moto, boto3, requests) are here too.
import sample_app.replicas  # noqa: F401
import harness.dynamodb.regions  # noqa: F401
import harness.environment  # noqa: F401
import harness.health  # noqa: F401
import harness.proxies  # noqa: F401
import harness.pytest_plugin  # noqa: F401
from harness.control.server import ControlServer
from harness.environment import Harness, HarnessConfig
from harness.toxiproxy.server import EmbeddedToxiproxy
from scenario_texts import empty_answer_drill

pytest_plugins = ["pytester"]

EAST = "dynamodb.us-east-1.amazonaws.com"

TINY_SCENARIO = empty_answer_drill(
    "tiny DNS blip", settings="seed: 1\napp: resilient\n",
    load="duration: 2s, rps: 60, users: 5, workers: 5, request_timeout: 1s, lag_budget: 1s",
    success_rate="min: 60%, window: 2s, min_requests: 5", at="0.5s", lasting="1s")


def _open_fds() -> set[str]:
    return set(os.listdir("/proc/self/fd"))


def _threads() -> set[threading.Thread]:
    return set(threading.enumerate())


def test_fixtures_work_and_every_test_starts_clean(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(textwrap.dedent(f"""
        import socket

        def test_change_everything(chaos_dns, chaos_dynamodb, chaos_health, chaos_toxiproxy, chaos):
            assert len(chaos_dns.get("{EAST}").addresses) == 3
            chaos_dns.set("svc.chaos.test", ["127.0.0.9"])
            assert socket.gethostbyname("svc.chaos.test") == "127.0.0.9"
            assert chaos_dns.wait_for_query("svc.chaos.test", timeout=2) >= 1
            chaos_dynamodb.create_table({{"name": "orders", "partition_key": "id:S"}})
            east = chaos_dynamodb.client("us-east-1")
            east.put_item(TableName="orders", Item={{"id": {{"S": "o1"}}}})
            chaos_dynamodb.wait_replicated(timeout=5)
            assert chaos_dynamodb.items("orders", "us-west-2") == [{{"id": {{"S": "o1"}}}}]
            chaos_dynamodb.client("us-west-2").create_table(
                TableName="scratch", KeySchema=[{{"AttributeName": "k", "KeyType": "HASH"}}],
                AttributeDefinitions=[{{"AttributeName": "k", "AttributeType": "S"}}],
                BillingMode="PAY_PER_REQUEST")

            assert set(chaos_health.published("{EAST}")) == set(chaos_dynamodb.nodes("us-east-1").values())
            assert len([p for p in chaos_toxiproxy.proxies() if p.startswith("dynamodb-")]) == 6
            chaos_dynamodb.pause_replication()
            chaos.inject("dynamodb.unavailable", region="us-west-2")  # left active on purpose
            chaos_dns.remove("{EAST}")  # last: the east client above needs the name

        def test_starts_clean(chaos_dns, chaos_dynamodb, chaos):
            assert chaos.active == []
            assert chaos_dns.get("svc.chaos.test") is None
            assert len(chaos_dns.get("{EAST}").addresses) == 3
            assert chaos_dns.log.count() == 0
            assert chaos_dynamodb.items("orders", "us-east-1") == []
            west = chaos_dynamodb.client("us-west-2")
            assert "scratch" not in west.list_tables()["TableNames"]  # a test's own table is dropped
            chaos_dynamodb.client("us-east-1").put_item(TableName="orders", Item={{"id": {{"S": "o2"}}}})
            chaos_dynamodb.wait_replicated(timeout=5)  # replication runs again
            assert west.get_item(TableName="orders", Key={{"id": {{"S": "o2"}}}})["Item"]
    """))
    result = pytester.runpytest_inprocess("-p", "no:cacheprovider")
    result.assert_outcomes(passed=2)


def test_marker_wraps_the_test_and_the_next_test_starts_clean(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(textwrap.dedent(f"""
        import socket
        import pytest

        @pytest.mark.chaos("dns.empty_answer", qname="{EAST}")
        @pytest.mark.chaos("dynamodb.throttle", region="us-west-2")
        def test_faults_active_then_fails(chaos_harness):
            assert sorted(h.name for h in chaos_harness.chaos.active) == ["dns.empty_answer", "dynamodb.throttle"]
            with pytest.raises(socket.gaierror):
                socket.getaddrinfo("{EAST}", 443)
            assert False, "failing on purpose with the faults active"

        def test_after_a_failing_fault_test(chaos_harness, chaos_dynamodb):
            assert chaos_harness.chaos.active == []
            assert socket.getaddrinfo("{EAST}", 443)
            chaos_dynamodb.create_table({{"name": "carts", "partition_key": "id"}})
            assert chaos_dynamodb.client("us-west-2").list_tables()["TableNames"] == ["carts"]  # throttle cleared
    """))
    result = pytester.runpytest_inprocess("-p", "no:cacheprovider")
    result.assert_outcomes(passed=1, failed=1)
    result.stdout.fnmatch_lines(["*failing on purpose with the faults active*"])


def test_bad_marker_fails_at_setup_with_one_line(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(textwrap.dedent("""
        import pytest

        @pytest.mark.chaos("dns.bogus")
        def test_unknown_fault():
            pass

        @pytest.mark.chaos("dns.empty_answer", qnam="x.amazonaws.com")
        def test_bad_option():
            pass

        @pytest.mark.chaos(qname="x.amazonaws.com")
        def test_no_name():
            pass
    """))
    result = pytester.runpytest_inprocess("-p", "no:cacheprovider")
    result.assert_outcomes(errors=3)
    result.stdout.fnmatch_lines([
        "*ERROR at setup of test_unknown_fault*",
        "@pytest.mark.chaos('dns.bogus'): unknown fault 'dns.bogus'; known faults: dns.delay, *",
        "*ERROR at setup of test_bad_option*",
        "@pytest.mark.chaos('dns.empty_answer'): dns.empty_answer: unknown option 'qnam'; known options: *",
        "*ERROR at setup of test_no_name*",
        "@pytest.mark.chaos takes one fault name and its options as keywords, got args ()*",
    ])
    assert "Traceback" not in result.stdout.str() and "raise " not in result.stdout.str()


def test_scenario_files_are_collected_and_fail_with_the_slo_table(pytester: pytest.Pytester, tmp_path: Path) -> None:
    pytester.makefile(".yaml", chaos_tiny=TINY_SCENARIO)
    failing = TINY_SCENARIO.replace("title: tiny DNS blip", "title: impossible latency").replace(
        "  - lost_writes: 0", "  - lost_writes: 0\n  - p99_latency: {max: 1ms}")
    pytester.makefile(".chaos.yaml", impossible=failing)
    pytester.makefile(".yml", not_a_scenario="title: ignored, the name does not match\n")
    reports = tmp_path / "reports"
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider", "-rA", "--chaos-report-dir", str(reports),
                                           timeout=120)
    result.assert_outcomes(passed=1, failed=1)
    result.stdout.fnmatch_lines([
        "*scenario impossible.chaos (*impossible.chaos.yaml): 1 of 3 objectives failed*",
        "  PASS          success_rate >= 60% per 2s window  measured *",
        "  FAIL          p99_latency <= 1ms * measured *ms vs threshold <= 1ms",
        "PASSED chaos_tiny.yaml::chaos_tiny",
    ])
    assert sorted(p.name for p in reports.iterdir()) == sorted(
        f"{stem}.{ext}" for stem in ("chaos_tiny", "impossible.chaos") for ext in ("html", "json", "junit.xml"))


def test_an_inconclusive_scenario_is_a_skip_with_the_reason(pytester: pytest.Pytester) -> None:
    """No window holds the requests the objective asks for: not a pass, and not the app's failure either."""
    pytester.makefile(".yaml", chaos_thin=TINY_SCENARIO.replace("min_requests: 5", "min_requests: 100000"))
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider", "-rs", timeout=120)
    result.assert_outcomes(skipped=1)
    result.stdout.fnmatch_lines(["*chaos scenario chaos_thin INCONCLUSIVE: success_rate >= 60% per 2s window: "
                                 "no window had 100000 or more requests to judge"])


def test_an_invalid_scenario_file_is_a_one_line_collection_error(pytester: pytest.Pytester) -> None:
    pytester.makefile(".yaml", chaos_broken="title: broken\nload: {duration: 2s}\n")
    result = pytester.runpytest_inprocess("-p", "no:cacheprovider")
    result.assert_outcomes(errors=1)
    result.stdout.fnmatch_lines(["*chaos_broken.yaml:1: scenario: missing required field 'method'"])
    assert "Traceback" not in result.stdout.str()


def test_chaos_scenario_runs_a_scenario_from_a_test(pytester: pytest.Pytester) -> None:
    path = pytester.path / "drills" / "tiny.yaml"
    path.parent.mkdir()
    path.write_text(TINY_SCENARIO.replace("  - lost_writes: 0", "  - p99_latency: {max: 1ms}"))
    pytester.makepyfile(textwrap.dedent(f"""
        def test_check_false_returns_the_result(chaos_scenario):
            result = chaos_scenario({str(path)!r}, check=False)
            assert not result.passed and [r.passed for r in result.slos] == [True, False]

        def test_unknown_scenario(chaos_scenario):
            chaos_scenario("no-such-scenario")
    """))
    result = pytester.runpytest_inprocess("-p", "no:cacheprovider")
    result.assert_outcomes(passed=1, failed=1)
    result.stdout.fnmatch_lines(["no scenario file or built-in scenario named 'no-such-scenario'; built-ins: *"])


def test_each_xdist_worker_runs_its_own_harness(pytester: pytest.Pytester, tmp_path: Path) -> None:
    pytester.makepyfile(textwrap.dedent(f"""
        import os
        import pytest

        @pytest.mark.parametrize("n", range(4))
        def test_worker(n, chaos_dns, chaos_dynamodb, chaos):
            chaos_dynamodb.create_table({{"name": "carts", "partition_key": "id"}})  # the harness creates none itself
            with chaos.inject("dns.nxdomain", qname="x.amazonaws.com"):
                assert chaos_dynamodb.client("us-east-1").list_tables()["TableNames"] == ["carts"]
            path = {str(tmp_path)!r} + f"/{{n}}"
            with open(path, "w") as f:
                f.write(f"{{os.environ['PYTEST_XDIST_WORKER']}} {{chaos_dns.address[0]}} {{chaos_dynamodb.endpoint_url()}}")
    """))
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider", "-n", "2", timeout=120)
    result.assert_outcomes(passed=4)
    seen = {tuple(p.read_text().split()) for p in tmp_path.iterdir()}
    assert {worker for worker, _, _ in seen} == {"gw0", "gw1"}
    assert len({dns for _, dns, _ in seen}) == 2  # each worker its own addresses
    assert len(seen) == 2  # and one harness per worker for the whole session


def test_options_shape_the_session_harness(pytester: pytest.Pytester) -> None:
    with EmbeddedToxiproxy() as toxiproxy:
        pytester.makepyfile(textwrap.dedent(f"""
            def test_options(chaos_harness, chaos_toxiproxy, chaos):
                assert chaos_harness.app is not None and chaos_harness.config.app_profile == "naive"
                assert chaos_toxiproxy.url == {toxiproxy.url!r} and not chaos_toxiproxy.embedded
                assert chaos.inject("dns.nxdomain", qname="x.amazonaws.com").fault.seed == 7
        """))
        result = pytester.runpytest_inprocess("-p", "no:cacheprovider", "--chaos-app", "naive", "--chaos-seed", "7",
                                           "--chaos-toxiproxy-url", toxiproxy.url)
        result.assert_outcomes(passed=1)

    pytester.makepyfile(textwrap.dedent("""
        def test_default_no_app(chaos_harness):
            assert chaos_harness.app is None
    """))
    result = pytester.runpytest_inprocess("-p", "no:cacheprovider", "--chaos-toxiproxy-url", "http://127.0.0.1:9")
    result.assert_outcomes(errors=1)
    result.stdout.fnmatch_lines(["no Toxiproxy server answers GET /version at http://127.0.0.1:9"])

    result = pytester.runpytest_inprocess("-p", "no:cacheprovider", "--chaos-app", "bogus")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(["*--chaos-app: invalid choice: 'bogus'*"])


def test_remote_harness_through_its_control_api(pytester: pytest.Pytester) -> None:
    with Harness(HarnessConfig(app_profile=None)) as remote, ControlServer(remote) as control:
        pytester.makepyfile(textwrap.dedent(f"""
            import socket
            import pytest

            def test_inject_remotely(chaos, chaos_dns):
                assert chaos_dns.address == {remote.dns.address!r}
                with chaos.inject("dns.nxdomain", qname="{EAST}"):
                    with pytest.raises(socket.gaierror):
                        socket.getaddrinfo("{EAST}", 443)
                chaos.inject("dns.servfail", qname="{EAST}")  # left for the plugin to clear

            @pytest.mark.chaos("dns.empty_answer", qname="{EAST}")
            def test_marker_remotely(chaos_harness):
                assert [h.name for h in chaos_harness.chaos.active] == ["dns.empty_answer"]

            def test_clean_again(chaos_harness):
                assert len(socket.getaddrinfo("{EAST}", 443, type=socket.SOCK_STREAM)) == 3

            def test_embedded_only(chaos_dynamodb):
                pass
        """))
        result = pytester.runpytest_subprocess("-p", "no:cacheprovider", "--chaos-harness-url", control.url,
                                               timeout=60)
        result.assert_outcomes(passed=3, errors=1)
        result.stdout.fnmatch_lines(["chaos_dynamodb needs the embedded harness, not --chaos-harness-url"])
        assert remote.chaos.active == []
        assert [r.fault["fault"] for r in remote.chaos.history] == ["dns.nxdomain", "dns.servfail", "dns.empty_answer"]


def test_a_session_leaves_no_threads_or_sockets_behind(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(textwrap.dedent(f"""
        import pytest

        def test_not_using_the_harness(request):
            from harness.plugin.session import session_of
            assert not session_of(request.config).started  # nothing starts until a test asks

        def test_uses_everything(chaos_dns, chaos_dynamodb, chaos_health, chaos):
            chaos_dynamodb.client("us-east-1").list_tables()
            chaos.inject("dns.delay", qname="{EAST}", latency=0.01)

        @pytest.mark.chaos("network.latency", region="us-east-1", latency=10)
        def test_fails_with_a_fault(chaos_dynamodb):
            chaos_dynamodb.client("us-east-1").list_tables()
            raise RuntimeError("boom")
    """))
    threads, fds = _threads(), _open_fds()
    result = pytester.runpytest_inprocess("-p", "no:cacheprovider")
    result.assert_outcomes(passed=2, failed=1)
    assert {t.name for t in _threads() - threads} == set()
    assert _open_fds() - fds == set()


def test_a_subprocess_session_exits_promptly_with_no_threads_left(pytester: pytest.Pytester) -> None:
    pytester.makeconftest(textwrap.dedent("""
        import threading

        def pytest_unconfigure(config):
            extra = [t.name for t in threading.enumerate() if t is not threading.main_thread()]
            print(f"threads left at exit: {extra}")
    """))
    pytester.makepyfile(textwrap.dedent(f"""
        import pytest

        @pytest.mark.chaos("dns.timeout", qname="{EAST}")
        def test_with_a_fault(chaos_dynamodb, chaos_health):
            assert chaos_health.published("{EAST}")
    """))
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider", "-s", timeout=60)
    result.assert_outcomes(passed=1)
    result.stdout.fnmatch_lines(["threads left at exit: []"])
