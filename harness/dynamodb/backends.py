"""Where the regions' moto runs: in this process (the default) or a moto server reached over HTTP.

Either way each region's front is the same stack (request log, region check, service faults,
account pin, write capture); only its innermost app and the harness's direct store differ:

* ``InProcessMoto``: moto's WSGI app called in process; the store reads moto's backend objects.
* ``ExternalMoto``: ``ForwardToMoto`` relays requests to the server (``motoserver/moto`` or
  ``moto_server``); the store is ``HttpRegionStore`` (boto3 against the server URL).

Both pin a harness-own moto account (moto honours ``x-moto-account-id`` in server mode too), so
harnesses sharing one server do not see each other's tables, unless the server (or harness) has
``MOTO_ACCOUNT_ID`` set, which overrides the account of every request.
"""

from __future__ import annotations

import json
from typing import Protocol
from urllib.parse import urlsplit

import urllib3
import urllib3.exceptions

from harness.dynamodb.clients import share_region_lists_with_moto
from harness.dynamodb.forward import ForwardToMoto, describe_error
from harness.dynamodb.front import WSGIApp
from harness.dynamodb.http_store import HttpRegionStore, MotoUnreachableError
from harness.dynamodb.store import RegionStore, Store, drop_account, new_account_id, shared_account
from harness.errors import ConfigError

_URL_EXAMPLE = "http://HOST:PORT (e.g. http://127.0.0.1:5000, or http://moto:5000 in docker-compose)"


class MotoBackend(Protocol):
    account_id: str
    description: str

    def check(self) -> None:
        """Raise a one-line ``HarnessError`` if moto cannot serve (called before anything starts)."""

    def app(self) -> WSGIApp:
        """The innermost WSGI app of a region's front."""

    def store(self, region: str) -> Store: ...

    def close(self) -> None:
        """Drop everything this harness created in moto (after the fronts stopped)."""


class InProcessMoto:
    """moto's backends in this process (process-global; one account per harness)."""

    description = "in-process"

    def __init__(self) -> None:
        self.account_id = new_account_id()
        share_region_lists_with_moto()

    def check(self) -> None:
        """Nothing to check: moto is imported."""

    def app(self) -> WSGIApp:
        from moto.moto_server.werkzeug_app import DomainDispatcherApplication, create_backend_app

        return DomainDispatcherApplication(create_backend_app)

    def store(self, region: str) -> Store:
        return RegionStore(self.account_id, region)

    def close(self) -> None:
        drop_account(self.account_id)


def validate_moto_url(url: str) -> str:
    """``url`` normalised (no trailing slash), or ``ConfigError`` naming the expected form."""
    try:
        parts = urlsplit(str(url).strip())
        port_ok = parts.port is None or 0 < parts.port
    except ValueError:
        port_ok = False
    if not (port_ok and parts.scheme in ("http", "https") and parts.hostname and not parts.query and not parts.fragment
            and parts.path in ("", "/")):
        raise ConfigError(f"moto URL must be {_URL_EXAMPLE}, got {url!r}")
    return f"{parts.scheme}://{parts.netloc}"


class ExternalMoto:
    """A moto server at ``url``, shared by all regions (moto separates regions by the SigV4 scope)."""

    def __init__(self, url: str, *, timeout: float = 10.0) -> None:
        self.url = validate_moto_url(url)
        self.timeout = timeout
        self.account_id = new_account_id(shared_server=True)
        self.description = f"{self.url} (external, account {self.account_id})"
        self._forward = ForwardToMoto(self.url)
        self._stores: list[HttpRegionStore] = []

    def check(self) -> None:
        """One GET of moto's own config endpoint: proves a moto server (not just anything) answers."""
        try:
            response = self._forward.pool.request("GET", "/moto-api/config", retries=False, timeout=self.timeout)
        except urllib3.exceptions.HTTPError as exc:
            raise MotoUnreachableError(f"no moto server answers at {self.url}: {describe_error(exc)}") from None
        try:
            config = json.loads(response.data) if response.status < 300 else None
        except ValueError:
            config = None
        if not isinstance(config, dict):
            raise MotoUnreachableError(
                f"{self.url} answers, but not like a moto server (GET /moto-api/config gave HTTP {response.status})"
            )

    def app(self) -> WSGIApp:
        return self._forward

    def store(self, region: str) -> Store:
        store = HttpRegionStore(self.url, self.account_id, region, timeout=self.timeout)
        self._stores.append(store)
        return store

    def close(self) -> None:
        """Delete this harness's tables on the server (not a shared ``MOTO_ACCOUNT_ID``'s), drop idle connections."""
        try:
            if not shared_account(self.account_id):
                for store in self._stores:
                    store.drop_tables()
        except MotoUnreachableError:
            pass  # moto went first (e.g. compose stopped it): nothing reachable to clean; stopping must not fail
        finally:
            for store in self._stores:
                store.close()
            self._forward.close()


def moto_backend(url: str | None) -> MotoBackend:
    """The backend for a moto URL: None keeps moto in process."""
    return InProcessMoto() if url is None else ExternalMoto(url)
