"""Route Python's name lookups for the harness's zones to the harness DNS server.

boto3 (botocore -> urllib3) and most Python clients resolve with ``socket.getaddrinfo`` looked up
at call time, so replacing it for the duration of a ``with use_harness_dns(...)`` block reaches
them without touching the system. Names under the managed zones are resolved by a stub that sends
glibc's queries (``transport``) and fails with glibc's errors (``glibc``); every other name, every
numeric address and ``AI_NUMERICHOST`` goes to the original function unchanged.

Blocks nest and may be used from several threads: the functions are patched when the first block
opens and the saved originals put back when the last one closes; the innermost block that manages
a name wins.
"""

from __future__ import annotations

import contextlib
import ipaddress
import socket
import threading
from collections.abc import Callable, Iterable, Iterator
from typing import Any

from harness.dns.zone import normalize_name
from harness.resolver.cache import DnsCache
from harness.resolver.glibc import Resolution, gai_error, interpret
from harness.resolver.options import ResolverOptions
from harness.resolver.transport import Exchange, NoAnswer, exchange

_QTYPES = {socket.AF_UNSPEC: ("A", "AAAA"), socket.AF_INET: ("A",), socket.AF_INET6: ("AAAA",)}
_PATCHED = ("getaddrinfo", "gethostbyname", "gethostbyname_ex")
# Flags that only make sense for the whole lookup, not for turning one address into tuples.
_LOOKUP_ONLY_FLAGS = socket.AI_CANONNAME | socket.AI_ADDRCONFIG


def _host_name(host: Any) -> str | None:
    """The lower-case DNS name for ``host`` as CPython would send it, or None if not a name."""
    if isinstance(host, bytes):
        host = host.decode("ascii", errors="replace")
    if not isinstance(host, str) or not host:
        return None
    name = normalize_name(host.encode("idna").decode("ascii"))  # same UnicodeError as CPython
    try:
        ipaddress.ip_address(name.split("%", 1)[0])
        return None
    except ValueError:
        return name


class HarnessResolver:
    """A glibc-like stub resolver for ``zones`` that asks ``server_address``."""

    def __init__(self, server_address: tuple[str, int], zones: Iterable[str] | str,
                 options: ResolverOptions | None = None, cache: DnsCache | None = None,
                 system_getaddrinfo: Callable[..., list] = socket.getaddrinfo) -> None:
        self.server_address = (server_address[0], int(server_address[1]))
        self.zones = tuple(normalize_name(z) for z in ([zones] if isinstance(zones, str) else zones))
        self.options = options or ResolverOptions()
        self.cache = cache
        self._system_getaddrinfo = system_getaddrinfo

    def manages(self, name: str) -> bool:
        return any(name == zone or name.endswith("." + zone) for zone in self.zones)

    def resolve(self, name: str, family: int = socket.AF_UNSPEC) -> Resolution:
        """Addresses for ``name`` in getaddrinfo order, or the ``socket.gaierror`` glibc raises."""
        qtypes = _QTYPES[family]
        try:
            replies = self._exchange(normalize_name(name), qtypes)
        except NoAnswer:
            raise gai_error(socket.EAI_AGAIN) from None
        return interpret(qtypes, replies)

    def _exchange(self, name: str, qtypes: tuple[str, ...]) -> Exchange:
        if self.cache is None:
            return exchange(self.server_address, name, qtypes, self.options)
        replies = {qtype: self.cache.get(name, qtype) for qtype in qtypes}
        missing = tuple(qtype for qtype in qtypes if replies[qtype] is None)
        if missing:
            fresh = exchange(self.server_address, name, missing, self.options)
            for qtype, reply in zip(missing, fresh.replies):
                if reply is not None:
                    self.cache.put(name, qtype, reply)
                replies[qtype] = reply
        return Exchange(tuple(replies[qtype] for qtype in qtypes))

    def getaddrinfo(self, host: str, port: Any, family: int = 0, type: int = 0, proto: int = 0,
                    flags: int = 0) -> list[tuple]:
        """``socket.getaddrinfo`` for a managed name: same tuples, same errors, same order."""
        numeric_flags = (flags | socket.AI_NUMERICHOST) & ~_LOOKUP_ONLY_FLAGS
        # glibc checks family, socket type and service before it asks DNS anything: so do we,
        # by letting the system validate them against a numeric address of the asked family.
        probe = "::1" if family == socket.AF_INET6 else "127.0.0.1"
        self._system_getaddrinfo(probe, port, family, type, proto, numeric_flags)
        resolution = self.resolve(host, family)
        results: list[tuple] = []
        for address in resolution.addresses:
            address_family = socket.AF_INET6 if ":" in address else socket.AF_INET
            results += self._system_getaddrinfo(address, port, address_family, type, proto, numeric_flags)
        if flags & socket.AI_CANONNAME and results:
            results[0] = results[0][:3] + (resolution.canonical,) + results[0][4:]
        return results

    def gethostbyname(self, host: str) -> str:
        """CPython resolves with getaddrinfo(AF_INET) and returns the first address."""
        return self.resolve(host, socket.AF_INET).addresses[0]

    def gethostbyname_ex(self, host: str) -> tuple[str, list[str], list[str]]:
        resolution = self.resolve(host, socket.AF_INET)
        return resolution.canonical, list(resolution.aliases), list(resolution.addresses)


# -- patching --------------------------------------------------------------------------------------
_lock = threading.Lock()
_active: list[HarnessResolver] = []
_originals: dict[str, Callable[..., Any]] = {}


def _route(host: Any, flags: int = 0) -> tuple[HarnessResolver, str] | None:
    if flags & socket.AI_NUMERICHOST:
        return None
    name = _host_name(host)
    if name is None:
        return None
    for resolver in reversed(list(_active)):
        if resolver.manages(name):
            return resolver, name
    return None


def is_routed(host: str) -> bool:
    """Whether an active ``use_harness_dns`` block resolves ``host`` (no lookup is made)."""
    return _route(host) is not None


def _patches(originals: dict[str, Callable[..., Any]]) -> dict[str, Callable[..., Any]]:
    """The replacement functions; they hold their own originals, so a late call after the last
    block closed still reaches the system."""

    def getaddrinfo(host: Any, port: Any, family: int = 0, type: int = 0, proto: int = 0, flags: int = 0) -> list:
        routed = _route(host, flags)
        if routed is None:
            return originals["getaddrinfo"](host, port, family, type, proto, flags)
        resolver, name = routed
        return resolver.getaddrinfo(name, port, family, type, proto, flags)

    def gethostbyname(hostname: str) -> str:
        routed = _route(hostname)
        if routed is None:
            return originals["gethostbyname"](hostname)
        return routed[0].gethostbyname(routed[1])

    def gethostbyname_ex(hostname: str) -> tuple[str, list[str], list[str]]:
        routed = _route(hostname)
        if routed is None:
            return originals["gethostbyname_ex"](hostname)
        return routed[0].gethostbyname_ex(routed[1])

    return {"getaddrinfo": getaddrinfo, "gethostbyname": gethostbyname, "gethostbyname_ex": gethostbyname_ex}


def _install(resolver: HarnessResolver) -> None:
    with _lock:
        if not _active:
            _originals.update({name: getattr(socket, name) for name in _PATCHED})
            for name, function in _patches(dict(_originals)).items():
                setattr(socket, name, function)
        _active.append(resolver)


def _uninstall(resolver: HarnessResolver) -> None:
    with _lock:
        _active.remove(resolver)
        if not _active:
            for name, function in _originals.items():
                setattr(socket, name, function)
            _originals.clear()


@contextlib.contextmanager
def routing(resolver: HarnessResolver) -> Iterator[HarnessResolver]:
    """Route ``resolver``'s zones through it for the block (an existing resolver: its cache and
    options carry over between blocks, e.g. one per pytest test)."""
    _install(resolver)
    try:
        yield resolver
    finally:
        _uninstall(resolver)


@contextlib.contextmanager
def use_harness_dns(server_address: tuple[str, int], zones: Iterable[str] | str,
                    options: ResolverOptions | None = None,
                    cache: DnsCache | None = None) -> Iterator[HarnessResolver]:
    """Resolve names under ``zones`` through the harness DNS server at ``server_address``."""
    with _lock:
        system = _originals.get("getaddrinfo", socket.getaddrinfo)
    with routing(HarnessResolver(server_address, zones, options, cache, system)) as resolver:
        yield resolver
