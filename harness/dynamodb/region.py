"""One AWS region: DynamoDB, and every other AWS service the app calls, behind endpoint nodes.

    client --DNS--> dynamodb.<region>.amazonaws.com = node addresses (Toxiproxy proxies, one port)
           --TCP--> node proxy --> front server (keep-alive WSGI):
                                   request log -> region check -> service faults -> moto account
                                   -> write capture (replication) -> moto (in process, or forwarded
                                      to a moto server over HTTP: ``harness.dynamodb.backends``)

The front checks the SigV4 credential scope like the real endpoint, so a client sent to another
region's nodes (``dns.wrong_address``) gets the same InvalidSignatureException it would from AWS.

Other services (``sqs``, ``sts``, ``s3``, ...) get the same shape through the same machinery: each
``<service>.<region>.amazonaws.com`` is an ``Endpoint`` with its own node proxies and DNS record, in
front of one shared keep-alive front per region that pins the harness's moto account; moto (in
process or the server) serves every service on one port and tells them apart by the request's
SigV4 scope. DNS, network and health faults therefore reach them by name, like DynamoDB.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import botocore.config

from harness.dynamodb import awsjson
from harness.dynamodb.clients import session
from harness.dynamodb.front import KeepAliveWSGIServer, WSGIApp
from harness.dynamodb.replication import CaptureWrites, Replicator
from harness.dynamodb.request_log import RecordRequests, RequestLog
from harness.dynamodb.service_faults import ServiceFaultMiddleware, ServiceHook
from harness.dynamodb.store import Store
from harness.errors import ConfigError
from harness.fault_chain import FaultChain
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


class Endpoint:
    """One service's regional endpoint: its DNS name, its nodes (proxy names + addresses) and the
    front server they forward to. ``port`` is the nodes' shared port once they are listening."""

    def __init__(self, service: str, region: str, front: KeepAliveWSGIServer, pool: LoopbackPool, nodes: int) -> None:
        self.service = service
        self.region_name = region
        self.hostname = f"{service}.{region}.amazonaws.com"
        self.front = front
        self.proxy_names = [f"{service}-{region}-n{i}" for i in range(1, nodes + 1)]
        self.nodes = [pool.take(proxy) for proxy in self.proxy_names]
        self.port: int | None = None

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
            where = self.region_name if self.service == "dynamodb" else self.hostname
            raise ConfigError(
                f"{where} has no node {which!r}; nodes are 0..{len(self.nodes) - 1} or {', '.join(self.proxy_names)}"
            )
        return self.proxy_names[index], self.nodes[index]

    def client(self, *, direct: bool = False, **config: Any) -> Any:
        """A boto3 client for this endpoint (dummy credentials).

        ``config`` goes to ``botocore.config.Config`` (retries, timeouts, max_pool_connections).
        ``direct=True`` skips DNS and the nodes and talks to the front server (benchmarks).
        S3 clients use path-style addressing, so bucket names need no DNS records of their own.
        """
        url = self.front.url if direct or self.port is None else self.endpoint_url
        if not direct and self.port is not None:
            self._refuse_public_resolution()
        if self.service == "s3":
            config.setdefault("s3", {"addressing_style": "path"})
        return session().client(
            self.service, region_name=self.region_name, endpoint_url=url, config=botocore.config.Config(**config)
        )

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


class Region(Endpoint):
    """A region: its DynamoDB endpoint (front, nodes, faults, request log) and its other services."""

    def __init__(self, name: str, store: Store, replicator: Replicator, pool: LoopbackPool, *, nodes: int,
                 moto_app: WSGIApp, max_connection_age: float | None = None, services: Iterable[str] = (),
                 service_nodes: int = 1) -> None:
        self.name = name
        self.store = store
        self.service_faults: FaultChain[ServiceHook] = FaultChain()
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
        front = KeepAliveWSGIServer(app, pool.take(f"dynamodb-{name}-front"), name=f"dynamodb {name} front",
                                    max_connection_age=max_connection_age)
        super().__init__("dynamodb", name, front, pool, nodes)
        services = list(services)
        #: The other services' shared front: moto under this harness's account, no DynamoDB layers.
        self.services_front = KeepAliveWSGIServer(
            PinAccount(moto_app, store.account_id), pool.take(f"aws-{name}-front"), name=f"aws {name} front",
            max_connection_age=max_connection_age,
        ) if services else None
        self.services = {service: Endpoint(service, name, self.services_front, pool, service_nodes)
                         for service in services}

    @property
    def endpoints(self) -> list[Endpoint]:
        """DynamoDB's endpoint first, then every other service's."""
        return [self, *self.services.values()]

    @property
    def fronts(self) -> list[KeepAliveWSGIServer]:
        return [self.front] + ([self.services_front] if self.services_front is not None else [])

    def endpoint(self, name: str) -> Endpoint:
        """The endpoint of ``name`` (``"dynamodb"`` is this region itself) in this region."""
        if name == "dynamodb":
            return self
        try:
            return self.services[name]
        except KeyError:
            raise ConfigError(
                f"service {name!r} is not served in {self.name} (served: dynamodb, {', '.join(self.services)})"
            ) from None

    def items(self, table: str) -> list[dict[str, Any]]:
        """Every item of ``table`` in this region, read directly (no network, no faults)."""
        return self.store.items(table)

    def item(self, table: str, key: dict[str, Any]) -> dict[str, Any] | None:
        """One item in DynamoDB JSON, read directly, or None."""
        return self.store.image(table, key)
