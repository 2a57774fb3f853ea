"""The app under test as processes in the harness's sandbox, any language, behind one DNS name.

Each replica is the scenario's ``app.command`` started by ``Sandbox.start`` (its own user+net+mount
namespace: resolv.conf -> the harness DNS, the DynamoDB nodes reachable, the SDK variables set),
listening on ``app.port`` inside. The harness publishes that port on a loopback address of its own
(one per replica, one shared port, as DNS answers carry addresses only), so the load generator and
the user's curl reach it; the replicas are the health checker's targets for ``app.<zone>``, and
``health.kill_target`` closes a replica's published port and opens it again.

Start-up waits for each replica's readiness check; failing that, the error carries the app's last
output lines. Stopping sends SIGTERM, then SIGKILL after ``stop_grace``, whatever ended the drill.
"""

from __future__ import annotations

import os
import subprocess
import tempfile
import threading
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from harness.errors import HarnessError
from harness.health import HttpCheck, Target, TcpCheck
from harness.loop_thread import LoopThread
from harness.loopback import LoopbackPool, reserve_shared_port
from harness.sandbox import Sandbox, SandboxedProcess
from harness.scenario.appspec import ProcessSpec

OUTPUT_LINES = 200  # lines of each replica's output kept for the report
ERROR_LINES = 15  # lines quoted in a start-up error
_POLL = 0.05  # seconds between readiness probes of a starting process (nothing signals readiness)


class AppStartError(HarnessError):
    """The app did not start, or did not become ready in time."""


class Replica:
    """One app process; its ``stop()``/``start()`` close and reopen its published port (health control)."""

    def __init__(self, index: int, address: str, port: int, log: Path) -> None:
        self.index = index
        self.address = address
        self.port = port
        self.log = log
        self.process: SandboxedProcess | None = None
        self.inner_port = 0

    def stop(self) -> None:
        if self.process is not None:
            self.process.unpublish((self.address, self.port))

    def start(self) -> None:
        if self.process is not None and (self.address, self.port) not in self.process.published:
            self.process.publish(self.address, self.port, ("127.0.0.1", self.inner_port))

    def output(self, lines: int = OUTPUT_LINES) -> list[str]:
        try:
            text = self.log.read_text(encoding="utf-8", errors="replace")
        except OSError:
            return []
        return text.splitlines()[-lines:]


class AppProcesses:
    """``spec.replicas`` processes of the app serving ``hostname``; ``url`` names them through DNS."""

    def __init__(self, spec: ProcessSpec, sandbox: Sandbox, pool: LoopbackPool, env: Mapping[str, str], *,
                 loop: LoopThread, hostname: str = "app.chaos.test") -> None:
        self.spec = spec
        self.sandbox = sandbox
        self.env = dict(env)
        self.loop = loop
        self.hostname = hostname
        self.addresses = [pool.take(f"app-{i}") for i in range(1, (spec.replicas or 1) + 1)]
        self.port = 0
        self.replicas: list[Replica] = []
        self._logs = tempfile.TemporaryDirectory(prefix="chaos-app-")
        self.exit_codes: dict[int, int | None] = {}

    @property
    def url(self) -> str:
        return f"http://{self.hostname}:{self.port}"

    def start(self) -> "AppProcesses":
        self.port = port = reserve_shared_port(self.addresses, what="app under test")
        try:
            for i, address in enumerate(self.addresses, start=1):
                replica = Replica(i, address, port, Path(self._logs.name) / f"replica-{i}.log")
                self.replicas.append(replica)
                self._launch(replica)
            for replica in self.replicas:
                self._wait_ready(replica)
        except BaseException:
            self.stop()
            raise
        return self

    def _launch(self, replica: Replica) -> None:
        # The caller's environment (PATH, HOME...) without its AWS settings, which must not point the
        # app at a real account; then the harness's SDK variables; then the app's own.
        inherited = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
        env = {**inherited, **self.env, **self.spec.env, "CHAOS_APP_REPLICA": str(replica.index),
               "PORT": str(self.spec.port)}
        with replica.log.open("wb") as out:  # the child keeps its own descriptor
            replica.process = self.sandbox.start(list(self.spec.command), env=env, cwd=self.spec.cwd,
                                                 stdout=out, stderr=subprocess.STDOUT)
        replica.inner_port = self.spec.port
        replica.process.publish(replica.address, replica.port, ("127.0.0.1", self.spec.port))

    def _wait_ready(self, replica: Replica) -> None:
        """Probe the replica through its published port until it answers, exits, or the time is up."""
        check: HttpCheck | TcpCheck = HttpCheck(self.spec.ready.http) if self.spec.ready.http else TcpCheck()
        what = f"GET {self.spec.ready.http}" if self.spec.ready.http else f"a TCP connection to port {self.spec.port}"
        deadline = time.monotonic() + self.spec.ready.timeout
        waiting = threading.Event()
        assert replica.process is not None
        while True:
            if replica.process.proc.poll() is not None:
                raise self._error(replica, f"exited with status {replica.process.proc.returncode} before it was ready")
            if self.loop.run(check.probe(replica.address, replica.port, 1.0)):
                return
            if time.monotonic() > deadline:
                raise self._error(replica, f"did not answer {what} within {self.spec.ready.timeout:g} s")
            waiting.wait(_POLL)

    def _error(self, replica: Replica, problem: str) -> AppStartError:
        lines = replica.output(ERROR_LINES)
        tail = " | ".join(line.strip() for line in lines if line.strip()) or "(no output)"
        return AppStartError(f"app replica {replica.index} ({' '.join(self.spec.command)}) {problem}; "
                             f"last output: {tail}")

    def stop(self) -> None:
        """SIGTERM every replica, SIGKILL after the grace period; keeps their output for the report."""
        for replica in self.replicas:
            if replica.process is not None:
                self.exit_codes[replica.index] = replica.process.stop(self.spec.stop_grace)

    def close(self) -> None:
        self.stop()
        self._logs.cleanup()

    def targets(self) -> list[Target]:
        check: HttpCheck | TcpCheck = HttpCheck(self.spec.ready.http) if self.spec.ready.http else TcpCheck()
        return [Target(r.address, r.port, check=check, control=r) for r in self.replicas]

    def output(self) -> dict[str, list[str]]:
        """Each replica's last output lines (stdout and stderr interleaved), for the report."""
        return {f"replica-{r.index}": r.output() for r in self.replicas}

    def metrics(self) -> dict[str, Any]:
        """What the harness knows about the processes (the app's own metrics are its business)."""
        return {"replicas": len(self.replicas), "command": list(self.spec.command), "exit_codes": dict(self.exit_codes)}

    def reset(self) -> None:
        """Per-test state: reopen every published port a fault closed (the processes keep running)."""
        for replica in self.replicas:
            replica.start()
