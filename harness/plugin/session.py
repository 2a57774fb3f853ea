"""The session's harness: started on first use, reset before each chaos test, stopped at the end.

Names under the harness's zones resolve through the harness only while a test that uses a chaos
fixture or marker runs (``begin_test``/``end_test``), so a plain test resolves the same way before
and after a chaos test; ``--chaos-dns-routing session`` routes them for the whole session instead,
from its start.

Servers are session-scoped because starting them per test would dominate a suite's run time;
state is function-scoped because a fault, a record or an item left by one test must never decide
another's outcome. ``reset()`` therefore puts back everything a test can change through the
fixtures: faults, toxics, table contents, tables a test created itself, DNS records, health state.
"""

from __future__ import annotations

import contextlib
from typing import Any

import pytest

from harness.errors import HarnessError
from harness.plugin.handles import ComponentUnavailableError


class RemoteUnavailableError(HarnessError):
    """``--chaos-harness-url`` was given but this installation has no control-API client."""


class HarnessSession:
    """Owns the session's harness (embedded, or remote with ``--chaos-harness-url``)."""

    def __init__(self, settings: Any) -> None:
        self.settings = settings
        self.harness: Any = None
        self._stack = contextlib.ExitStack()
        self._failure: HarnessError | None = None
        self._records: dict[str, Any] = {}
        self._routes = contextlib.ExitStack()  # the resolver hook while a chaos test (or the session) runs
        self._routing_wanted = False
        self._routed = False
        self.resolver: Any = None

    @property
    def started(self) -> bool:
        return self.harness is not None

    @property
    def remote(self) -> bool:
        return self.settings.harness_url is not None

    def get(self) -> Any:
        """The running harness, started now if this is the first use (a failed start is not retried)."""
        if self._failure is not None:
            raise self._failure
        if self.harness is None:
            try:
                self.harness = self._start_remote() if self.remote else self._start_embedded()
            except HarnessError as exc:
                self._failure = exc
                self._stack.close()
                raise
            if self._routing_wanted:
                self._route()
        return self.harness

    # -- where names resolve ---------------------------------------------------------------------
    def _route(self) -> None:
        from harness.resolver import routing

        if not self._routed:
            self._routes.enter_context(routing(self.resolver))
            self._routed = True

    def begin_test(self) -> None:
        """A chaos test starts: route managed names through the harness (now, or once it starts)."""
        self._routing_wanted = True
        if self.harness is not None:
            self._route()

    def end_test(self) -> None:
        """The chaos test is over: names resolve as on the host again (unless routed per session)."""
        if self.settings.dns_routing != "session":
            self._routing_wanted = self._routed = False
            self._routes.close()

    def start_session_routing(self) -> None:
        """``--chaos-dns-routing session``: start the harness now and route for the whole session."""
        self._routing_wanted = True
        self.get()

    def embedded(self, what: str) -> Any:
        """The embedded harness, or a one-line error saying ``what`` needs it."""
        harness = self.get()
        if self.remote:
            raise ComponentUnavailableError(f"{what} needs the embedded harness, not --chaos-harness-url")
        return harness

    def _start_embedded(self) -> Any:
        from harness.environment import Harness

        harness = Harness(self.settings.harness_config())
        self._stack.callback(harness.stop)
        harness.start()
        self.resolver = harness.resolver
        self._records = {name: harness.topology.get(name) for name in harness.topology.names()}
        return harness

    def _start_remote(self) -> Any:
        try:
            from harness.control.client import RemoteHarness
        except ImportError:
            raise RemoteUnavailableError(
                "--chaos-harness-url needs harness.control.client.RemoteHarness, which this installation lacks"
            ) from None
        from harness.resolver import HarnessResolver

        remote = RemoteHarness(self.settings.harness_url)
        self._stack.callback(remote.close)
        self.resolver = HarnessResolver(remote.dns_address, remote.zones, self.settings.resolver_options())
        return remote

    # -- per-test state -------------------------------------------------------------------------
    def reset(self) -> None:
        """Clean state for the next test; nothing to do before the harness first starts."""
        if self.harness is None:
            return
        self.harness.reset()
        if not self.remote:
            self._restore_records()
            self._drop_test_tables()

    def clear_faults(self) -> None:
        if self.harness is not None:
            self.harness.chaos.clear_all()

    def _restore_records(self) -> None:
        """DNS back to the records the harness started with (names a test added are removed)."""
        topology = self.harness.topology
        for name in topology.names():
            if name not in self._records:
                topology.remove(name)
        for name, records in self._records.items():
            if topology.get(name) != records:
                topology.set(name, records.addresses, records.ttl)

    def _drop_test_tables(self) -> None:
        """Tables a test created itself (not through ``chaos_dynamodb.create_table``) are deleted."""
        dynamodb = self.harness.dynamodb
        for region in dynamodb.regions:
            extra = [name for name in region.store.table_names() if name not in dynamodb.tables]
            if extra:
                client = region.client(direct=True)
                for name in extra:
                    client.delete_table(TableName=name)
                client.close()

    def close(self) -> None:
        """Stop the harness and undo the resolver hook (idempotent)."""
        harness, self.harness = self.harness, None
        try:
            if harness is not None:
                harness.chaos.clear_all()
        finally:
            self._routed = False
            self._routes.close()
            self._stack.close()


SESSION_KEY = pytest.StashKey[HarnessSession]()


def session_of(config: pytest.Config) -> HarnessSession:
    return config.stash[SESSION_KEY]
