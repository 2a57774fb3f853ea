"""pytest plugin: the chaos harness as fixtures, a ``chaos`` marker and scenario files as tests.

Loaded automatically through the ``pytest11`` entry point once ``chaos-harness`` is installed.
Nothing starts until a test asks: the session's harness (DNS server, proxies, DynamoDB regions,
health checker) starts on the first use of a chaos fixture or marker and stops when the session
ends. Every test that uses one starts from a clean state (no faults, empty tables, default DNS
records), even after a failing test, and every fault it injected is cleared when it ends.

Fixtures: ``chaos_harness`` (the running harness), ``chaos_dns``, ``chaos_dynamodb``, ``chaos_aws``,
``chaos_toxiproxy``, ``chaos_health``, ``chaos`` (inject faults by name) and ``chaos_scenario``
(run a scenario by name). See docs/pytest-plugin.md.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from harness.errors import HarnessError
from harness.plugin.markers import MARKER_HELP, MarkedFault, marked_faults
from harness.plugin.scenarios import ScenarioFile, is_scenario_file
from harness.plugin.session import SESSION_KEY, HarnessSession, session_of
from harness.plugin.settings import SETTINGS_KEY, PluginSettings, add_options, settings_of

#: A test using any of these (directly or through its own fixtures) gets the per-test reset.
CHAOS_FIXTURES = frozenset({"chaos_harness", "chaos_dns", "chaos_dynamodb", "chaos_aws", "chaos_toxiproxy",
                            "chaos_health", "chaos"})
_MARKED = pytest.StashKey[list[MarkedFault]]()


@contextlib.contextmanager
def one_line_errors(*, usage: bool = False) -> Iterator[None]:
    """Report a ``HarnessError`` (busy port, unknown fault, bad option) as its one line, no traceback:
    a test failure, or with ``usage`` (outside any test) a usage error that stops the session."""
    try:
        yield
    except HarnessError as exc:
        if usage:
            raise pytest.UsageError(str(exc)) from None
        raise pytest.fail.Exception(str(exc), pytrace=False) from None


# -- configuration ---------------------------------------------------------------------------------

def pytest_addoption(parser: pytest.Parser) -> None:
    add_options(parser)


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", MARKER_HELP)
    settings = PluginSettings.from_config(config)
    config.stash[SETTINGS_KEY] = settings
    config.stash[SESSION_KEY] = HarnessSession(settings)


def pytest_report_header(config: pytest.Config) -> str:
    settings = settings_of(config)
    with one_line_errors(usage=True):
        resolver = settings.resolver_options().describe()
    return f"chaos-harness: resolver {resolver}; DNS routing per {'session' if settings.dns_routing == 'session' else 'chaos test'}"


def pytest_collection_finish(session: pytest.Session) -> None:
    """``--chaos-dns-routing session``: the harness routes names from before the first test."""
    if session.items and settings_of(session.config).dns_routing == "session":
        with one_line_errors(usage=True):
            session_of(session.config).start_session_routing()


def pytest_sessionfinish(session: pytest.Session) -> None:
    harness_session = session.config.stash.get(SESSION_KEY, None)
    if harness_session is not None:
        harness_session.close()


def pytest_collect_file(file_path: Path, parent: pytest.Collector) -> pytest.Collector | None:
    if is_scenario_file(file_path, settings_of(parent.config).scenario_patterns):
        return ScenarioFile.from_parent(parent, path=file_path)
    return None


# -- per-test state and markers --------------------------------------------------------------------

def _uses_chaos(item: pytest.Item) -> bool:
    return not CHAOS_FIXTURES.isdisjoint(getattr(item, "fixturenames", ()))


@pytest.hookimpl(tryfirst=True)
def pytest_runtest_setup(item: pytest.Item) -> None:
    """Validate ``chaos`` markers (one-line error) and reset the harness before the test's fixtures run."""
    with one_line_errors():
        item.stash[_MARKED] = marked = marked_faults(item)
        if marked or _uses_chaos(item):
            session = session_of(item.config)
            session.begin_test()
            session.reset()


@pytest.hookimpl(wrapper=True)
def pytest_runtest_call(item: pytest.Item) -> Iterator[None]:
    """Run the test body inside its marked faults; they are cleared however the body ends."""
    marked = item.stash.get(_MARKED, [])
    if not marked:
        return (yield)
    handles = []
    try:
        with one_line_errors():
            chaos = session_of(item.config).get().chaos
            for fault in marked:
                handles.append(chaos.inject(fault.name, fault.options))
        return (yield)
    finally:
        for handle in reversed(handles):
            chaos.clear(handle)


@pytest.hookimpl(wrapper=True, trylast=True)
def pytest_runtest_teardown(item: pytest.Item, nextitem: pytest.Item | None) -> Iterator[None]:
    """After the test's own fixtures are torn down, nothing it injected may stay active.

    The last teardown of the session also finalises session-scoped fixtures, which may still talk
    to the harness by name (deleting what they created), so names stay routed for it."""
    uses_chaos = bool(item.stash.get(_MARKED, [])) or _uses_chaos(item)
    session = session_of(item.config)
    if nextitem is None and session.started:
        session.begin_test()
    try:
        return (yield)
    finally:
        try:
            if uses_chaos:
                session.clear_faults()
        finally:
            if uses_chaos or nextitem is None:
                session.end_test()


# -- fixtures --------------------------------------------------------------------------------------

@pytest.fixture(scope="session")
def chaos_harness(pytestconfig: pytest.Config) -> Any:
    """The session's running harness (``harness.environment.Harness``, or the remote one with
    ``--chaos-harness-url``): started on first use, stopped when the session ends."""
    with one_line_errors():
        return session_of(pytestconfig).get()


def _embedded(config: pytest.Config, what: str) -> Any:
    with one_line_errors():
        return session_of(config).embedded(what)


@pytest.fixture(scope="session")
def chaos_dns(chaos_harness: Any) -> Any:
    """The harness DNS server: ``set/get/remove`` records, ``log`` (count/entries/wait_for), ``address``."""
    from harness.plugin.handles import ChaosDns

    return ChaosDns(chaos_harness)


@pytest.fixture(scope="session")
def chaos_dynamodb(pytestconfig: pytest.Config, chaos_harness: Any) -> Any:
    """The DynamoDB regions: ``client(region)``, ``endpoints``, ``create_table``, replication control."""
    from harness.plugin.handles import ChaosDynamoDB

    return ChaosDynamoDB(_embedded(pytestconfig, "chaos_dynamodb").dynamodb)


@pytest.fixture(scope="session")
def chaos_aws(pytestconfig: pytest.Config, chaos_harness: Any) -> Any:
    """The other AWS services of every region (sts, sqs, s3, ...): ``client(service, region)``, ``endpoint_url``."""
    from harness.plugin.handles import ChaosAws

    return ChaosAws(_embedded(pytestconfig, "chaos_aws").dynamodb)


@pytest.fixture(scope="session")
def chaos_toxiproxy(pytestconfig: pytest.Config, chaos_harness: Any) -> Any:
    """The ``harness.proxies.ProxyLayer`` in front of every DynamoDB node (embedded or real Toxiproxy)."""
    return _embedded(pytestconfig, "chaos_toxiproxy").proxies


@pytest.fixture(scope="session")
def chaos_health(pytestconfig: pytest.Config, chaos_harness: Any) -> Any:
    """The health checker publishing healthy nodes into DNS: ``published``, ``wait_for_state``, ``events``."""
    from harness.plugin.handles import ChaosHealth

    return ChaosHealth(_embedded(pytestconfig, "chaos_health").health)


@pytest.fixture
def chaos(chaos_harness: Any) -> Iterator[Any]:
    """Inject registered faults by name: ``chaos.inject("dns.empty_answer", qname=...)``; all cleared at teardown."""
    from harness.plugin.handles import ChaosFaults

    try:
        yield ChaosFaults(chaos_harness.chaos)
    finally:
        chaos_harness.chaos.clear_all()


@pytest.fixture
def chaos_scenario(pytestconfig: pytest.Config) -> Callable[..., Any]:
    """``chaos_scenario("dns-empty-answer")``: run a built-in scenario (or a scenario file) in its own
    harness; fails the test with the SLO table when an objective fails (``check=False`` to assert
    yourself). Returns the ``DrillResult``."""
    from harness.plugin.scenarios import run_scenario, verdict_of
    from harness.scenario import load_scenario

    def run(name_or_path: str | Path, *, check: bool = True) -> Any:
        with one_line_errors():
            result, paths = run_scenario(load_scenario(str(name_or_path)), settings_of(pytestconfig))
        if check:
            try:
                verdict_of(result, paths)
            except (AssertionError, HarnessError) as exc:
                raise pytest.fail.Exception(str(exc), pytrace=False) from None
        return result

    return run
