"""``chaos-harness run``: the user's own program in the sandbox of a harness, embedded or running.

The harness may be this process's own (``Harness``) or one started elsewhere with ``chaos-harness
up`` (``RemoteHarness``): either way the program's DNS is the harness's server, the DynamoDB nodes
(and app replicas) are reachable at their own addresses, the SDK variables point at them, and the
tables the scenario's ``app.tables`` asks for exist. With a scenario, its whole method runs while
the program does (faults injected and cleared on the timeline, rolled back at the end).
"""

from __future__ import annotations

import contextlib
import os
import sys
import threading
from collections.abc import Iterator, Sequence
from typing import Any

from harness.drill.method import MethodWalk
from harness.loop_thread import LoopThread
from harness.sandbox import DnsAddress, Sandbox, SandboxedProcess
from harness.scenario.model import Scenario


def _note(text: str) -> None:
    print(f"chaos-harness: {text}", file=sys.stderr, flush=True)


@contextlib.contextmanager
def sandbox_for(env: Any) -> Iterator[Sandbox]:
    """A sandbox wired to ``env``; a remote harness's relays run on a loop of our own."""
    loop = getattr(env, "loop", None)
    owned = None
    if loop is None:
        owned = loop = LoopThread("chaos-harness-sandbox").start()
    try:
        yield Sandbox(DnsAddress(tuple(env.dns_client_address)), list(env.forwards), loop=loop)
    finally:
        if owned is not None:
            owned.close()


@contextlib.contextmanager
def method_running(scenario: Scenario | None, env: Any) -> Iterator[None]:
    """Walk ``scenario``'s method in a thread while the body runs; always roll back after."""
    if scenario is None or not scenario.method:
        yield
        return
    walk = MethodWalk(scenario, env, env.chaos.clock)

    def target() -> None:
        try:
            walk.walk(env.chaos.clock(), _note)
        except Exception as exc:  # the program keeps running; the rollback still runs after it
            _note(f"method stopped: {exc}")

    thread = threading.Thread(target=target, name="chaos-run-method")
    thread.start()
    try:
        yield
    finally:
        walk.abort.set()
        thread.join()
        walk.rollback(_note)


def run_in_harness(env: Any, command: Sequence[str], *, scenario: Scenario | None = None,
                   tables: Sequence[dict[str, Any]] = (), publish: Sequence[tuple[str, int]] = ()) -> int:
    """Run ``command`` in ``env``'s sandbox until it exits; its exit status.

    ``publish`` ports (host, port) are served on this machine and relayed to the same port on
    127.0.0.1 inside the sandbox, so curl or a load generator on the host reaches a server the
    program runs, for as long as it runs.
    """
    if tables:
        env.create_tables(list(tables))
    child_env = {**env.client_environment(), **os.environ}  # the caller's own settings win
    with sandbox_for(env) as sandbox:
        running: SandboxedProcess = sandbox.start(list(command), env=child_env, stdin=None)
        try:
            for host, port in publish:
                bound = running.publish(host, port, ("127.0.0.1", port))
                _note(f"published {bound[0]}:{bound[1]} -> port {port} inside the sandbox")
            with method_running(scenario, env):
                running.proc.wait()
        finally:
            running.close()
    return running.proc.returncode
