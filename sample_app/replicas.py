"""The sample app as several in-process replicas behind one DNS name.

Each replica is a real ``AppServer`` on its own loopback address; all share one
port (DNS answers carry addresses only) and one ``Metrics`` (a drill reports the service, not a
replica). Replicas are the health checker's targets for ``app.<zone>`` and its ``control``, so
``health.kill_target`` really stops one and brings it back on the same address.
"""

from __future__ import annotations

from typing import Any

from harness.health import HttpCheck, Target
from harness.loopback import LoopbackPool, reserve_shared_port
from sample_app.config import AppConfig
from sample_app.metrics import Metrics
from sample_app.server import AppServer


class AppReplicas:
    """``count`` replicas of the sample app serving ``hostname``; ``url`` names them through DNS."""

    def __init__(self, config: AppConfig, pool: LoopbackPool, *, count: int = 1, hostname: str = "app.chaos.test") -> None:
        self.config = config
        self.hostname = hostname
        self.metrics_store = Metrics()
        self.addresses = [pool.take(f"app-{i}") for i in range(1, count + 1)]
        self.port = 0
        self.servers: list[AppServer] = []

    @property
    def url(self) -> str:
        """The URL clients use: by name, so every new connection resolves through the harness DNS."""
        return f"http://{self.hostname}:{self.port}"

    @property
    def replica_urls(self) -> list[str]:
        return [server.url for server in self.servers if server.service is not None]

    def start(self) -> "AppReplicas":
        self.port = port = reserve_shared_port(self.addresses, what="sample app")
        try:
            for address in self.addresses:
                # The harness created the tables and checks them before each reset (require_tables).
                server = AppServer(self.config, address, port, metrics=self.metrics_store, check_tables=False)
                self.servers.append(server)
                server.start()
        except BaseException:
            self.stop()
            raise
        return self

    def stop(self) -> None:
        for server in reversed(self.servers):
            server.stop()
        self.servers.clear()

    def targets(self) -> list[Target]:
        """Health-check targets: ``GET /healthz`` on each replica, which can be stopped and restarted."""
        return [Target(server.host, self.port, check=HttpCheck("/healthz"), control=server) for server in self.servers]

    def metrics(self) -> dict[str, Any]:
        return self.metrics_store.snapshot()

    def reset(self) -> None:
        """Per-test state in place: stopped replicas started, fresh metrics, breakers, caches and pools.

        Listeners keep running (restarting them cost most of a second: new boto3 clients, table
        checks, a password hash). Every replica is drained first and metrics emptied only then,
        so a request still finishing cannot count in the next test; resetting a replica reports
        its breakers to the emptied metrics again.
        """
        for server in self.servers:
            server.drain()
        self.metrics_store.reset()
        for server in self.servers:
            server.reset()
