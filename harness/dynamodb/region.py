"""One AWS region's DynamoDB: moto behind a keep-alive front and endpoint nodes.

    client --DNS--> dynamodb.<region>.amazonaws.com = node addresses (Toxiproxy proxies, one port)
           --TCP--> node proxy --> front server (keep-alive WSGI):
                                   request log -> region check -> service faults -> moto account
                                   -> write capture (replication) -> moto (in process, or forwarded
                                      to a moto server over HTTP: ``harness.dynamodb.backends``)

The front checks the SigV4 credential scope like the real endpoint, so a client sent to another
region's nodes (``dns.wrong_address``) gets the same InvalidSignatureException it would from AWS.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import botocore.config

from harness.dynamodb import awsjson
from harness.dynamodb.clients import dynamodb_client
from harness.dynamodb.front import KeepAliveWSGIServer, WSGIApp
from harness.dynamodb.replication import CaptureWrites, Replicator
from harness.dynamodb.request_log import RecordRequests, RequestLog
from harness.dynamodb.service_faults import ServiceFaultMiddleware, ServiceFaults
from harness.dynamodb.store import Store
from harness.errors import ConfigError
from harness.loopback import LoopbackPool


class ScopeCheck:
    """Answer like DynamoDB when the signature is scoped to another region or service."""

    def __init__(self, app, region: str) -> None:
        self.app = app
        self.region = region

    def __call__(self, environ: dict, start_response) -> Iterable[bytes]:
        scope = awsjson.credential_scope(environ)
        if scope is None:
            error = awsjson.MISSING_TOKEN
        elif scope[1] != "dynamodb":
            error = awsjson.WRONG_SERVICE
        elif scope[0] != self.region:
            error = awsjson.WRONG_REGION
        else:
            return self.app(environ, start_response)
        return awsjson.send(awsjson.error_response(error), start_response)


class PinAccount:
    """Route every request to this harness's own moto account (moto's backends are process-global).

    moto reads the account from the ``x-moto-account-id`` header in process and in server mode
    alike, so this isolates harnesses sharing one external moto server too.
    """

    def __init__(self, app, account_id: str) -> None:
        self.app = app
        self.account_id = account_id

    def __call__(self, environ: dict, start_response) -> Iterable[bytes]:
        environ["HTTP_X_MOTO_ACCOUNT_ID"] = self.account_id
        return self.app(environ, start_response)


class Region:
    """A region: its front server, its endpoint nodes (proxy names + addresses), faults and request log."""

    def __init__(self, name: str, store: Store, replicator: Replicator, pool: LoopbackPool, *, nodes: int,
                 moto_app: WSGIApp, max_connection_age: float | None = None) -> None:
        self.name = name
        self.hostname = f"dynamodb.{name}.amazonaws.com"
        self.store = store
        self.service_faults = ServiceFaults()
        self.requests = RequestLog()
        app = RecordRequests(
            ScopeCheck(
                ServiceFaultMiddleware(
                    PinAccount(CaptureWrites(moto_app, store, replicator), store.account_id), self.service_faults
                ),
                name,
            ),
            self.requests,
        )
        self.front = KeepAliveWSGIServer(app, pool.take(f"dynamodb-{name}-front"), name=f"dynamodb {name} front",
                                         max_connection_age=max_connection_age)
        self.proxy_names = [f"dynamodb-{name}-n{i}" for i in range(1, nodes + 1)]
        self.nodes = [pool.take(proxy) for proxy in self.proxy_names]
        self.port: int | None = None  # the nodes' shared port, once they are listening

    @property
    def endpoint_url(self) -> str:
        """The URL clients use: by name through DNS and the nodes (the front itself if no nodes run)."""
        if self.port is None:
            return self.front.url
        return f"http://{self.hostname}:{self.port}"

    def node(self, which: int | str) -> tuple[str, str]:
        """(proxy name, address) of a node by 0-based index or proxy name."""
        if isinstance(which, str) and which in self.proxy_names:
            index = self.proxy_names.index(which)
        elif isinstance(which, int) and not isinstance(which, bool) and 0 <= which < len(self.nodes):
            index = which
        else:
            raise ConfigError(
                f"{self.name} has no node {which!r}; nodes are 0..{len(self.nodes) - 1} or {', '.join(self.proxy_names)}"
            )
        return self.proxy_names[index], self.nodes[index]

    def client(self, *, direct: bool = False, **config: Any) -> Any:
        """A boto3 DynamoDB client for this region (dummy credentials).

        ``config`` goes to ``botocore.config.Config`` (retries, timeouts, max_pool_connections).
        ``direct=True`` skips DNS and the nodes and talks to the front server (benchmarks).
        """
        url = self.front.url if direct or self.port is None else self.endpoint_url
        if not direct and self.port is not None:
            self._refuse_public_resolution()
        return dynamodb_client(self.name, url, botocore.config.Config(**config))

    def _refuse_public_resolution(self) -> None:
        """Never let a client reach the real AWS endpoint because the harness resolver is not active.

        Asks the resolver hook whether it routes the name (no lookup, so an active DNS timeout
        fault cannot stall client creation).
        """
        from harness.resolver import is_routed

        if not is_routed(self.hostname):
            raise ConfigError(
                f"{self.hostname} would be resolved by the system, not the harness DNS; "
                "enter harness.resolver.use_harness_dns(...) before creating clients"
            )

    def items(self, table: str) -> list[dict[str, Any]]:
        """Every item of ``table`` in this region, read directly (no network, no faults)."""
        return self.store.items(table)

    def item(self, table: str, key: dict[str, Any]) -> dict[str, Any] | None:
        """One item in DynamoDB JSON, read directly, or None."""
        return self.store.image(table, key)
