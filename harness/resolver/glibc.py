"""What glibc's getaddrinfo makes of the replies: addresses in its order, or its EAI_* error.

Every rule below was measured against real glibc 2.36 (a ``python3 -c`` getaddrinfo inside the
sandbox against the harness server) and is re-checked by tests/test_resolver_fidelity.py:

===========================================  ==============================================
outcome (AF_UNSPEC: A and AAAA together)     getaddrinfo
===========================================  ==============================================
any address in either reply                  success (the other reply may be NXDOMAIN,
                                             NOERROR-empty, SERVFAIL, REFUSED or lost)
NXDOMAIN (A, or AAAA with A NOERROR-empty)   EAI_NONAME  "Name or service not known"
NOERROR, no records (NODATA)                 EAI_NODATA  "No address associated with hostname"
SERVFAIL/REFUSED/no reply in every attempt   EAI_AGAIN   "Temporary failure in name resolution"
SERVFAIL/REFUSED for one type, other empty   EAI_NODATA
over TCP (after TC): SERVFAIL                EAI_AGAIN for AF_UNSPEC, EAI_NONAME for one family
over TCP: REFUSED (NO_RECOVERY)              EAI_NONAME
===========================================  ==============================================

The rcode that decides is the first reply's, unless it is NOERROR, then the second's (res_query's
``hp->rcode == NOERROR ? hp2->rcode : hp->rcode``); a query without a usable reply shares the other
query's reply, as in glibc.
"""

from __future__ import annotations

import ctypes
import functools
import ipaddress
import socket
from dataclasses import dataclass

from dnslib import QTYPE, RCODE, DNSRecord

from harness.resolver.transport import Exchange


@dataclass(frozen=True)
class Resolution:
    """A successful lookup: addresses in the order getaddrinfo returns them, and the names."""

    addresses: tuple[str, ...]
    canonical: str
    aliases: tuple[str, ...] = ()


@functools.cache
def _gai_strerror(code: int) -> str:
    """The C library's own message, exactly what CPython puts in ``socket.gaierror``."""
    gai_strerror = ctypes.CDLL(None).gai_strerror
    gai_strerror.restype = ctypes.c_char_p
    gai_strerror.argtypes = [ctypes.c_int]
    return gai_strerror(code).decode()


def gai_error(code: int) -> socket.gaierror:
    return socket.gaierror(code, _gai_strerror(code))


# glibc's default RFC 3484 precedence table (gai.conf without "precedence" lines), most specific first.
_PRECEDENCE = [(ipaddress.ip_network(net), value) for net, value in (
    ("::1/128", 50), ("::ffff:0:0/96", 10), ("::/96", 20), ("2002::/16", 30), ("::/0", 40))]


def _precedence(address: str) -> int:
    ip = ipaddress.ip_address(address)
    v6 = ip if ip.version == 6 else ipaddress.IPv6Address(f"::ffff:{ip}")
    return next(value for net, value in _PRECEDENCE if v6 in net)


def _reachable(address: str) -> bool:
    """RFC 3484 rule 1 as glibc checks it: can a UDP socket be connected there (is there a route)?"""
    family = socket.AF_INET6 if ":" in address else socket.AF_INET
    with socket.socket(family, socket.SOCK_DGRAM) as sock:
        try:
            sock.connect((address, 53))
        except OSError:
            return False
    return True


def glibc_order(addresses: list[str]) -> tuple[str, ...]:
    """Destination ordering: reachable first, then by precedence (IPv6 before IPv4); stable.

    For loopback destinations the remaining RFC 3484 rules (scope, label, prefix length) do not
    reorder anything: measured, glibc keeps the A records in answer order.
    """
    return tuple(sorted(addresses, key=lambda a: (not _reachable(a), -_precedence(a))))


def _records(reply: DNSRecord, qtype: str) -> tuple[list[str], str, list[str]]:
    """Addresses of ``qtype`` in ``reply``, the canonical name and the CNAME aliases."""
    wanted = getattr(QTYPE, qtype)
    addresses, aliases = [], []
    canonical = str(reply.q.qname).rstrip(".")
    for rr in reply.rr:
        owner = str(rr.rname).rstrip(".")
        if rr.rtype == QTYPE.CNAME:
            aliases.append(owner)
            canonical = str(rr.rdata).rstrip(".")
        elif rr.rtype == wanted:
            addresses.append(str(rr.rdata))
            canonical = owner
    return addresses, canonical, aliases


def interpret(qtypes: tuple[str, ...], exchange: Exchange) -> Resolution:
    """The getaddrinfo result for these replies, or raise the ``socket.gaierror`` glibc gives."""
    replies = list(exchange.replies)
    if replies[0] is None:
        replies[0] = replies[-1]
    if replies[-1] is None:
        replies[-1] = replies[0]
    addresses: list[str] = []
    canonical, aliases = "", []
    for qtype, reply in zip(qtypes, replies):
        found, name, cnames = _records(reply, qtype)
        if found and not addresses:
            canonical, aliases = name, cnames
        addresses += found
    if addresses:
        return Resolution(glibc_order(addresses), canonical, tuple(aliases))
    first, second = replies[0].header.rcode, replies[-1].header.rcode
    rcode = second if first == RCODE.NOERROR else first
    if rcode == RCODE.NXDOMAIN:
        raise gai_error(socket.EAI_NONAME)
    if rcode == RCODE.NOERROR:
        raise gai_error(socket.EAI_NODATA)
    if rcode == RCODE.SERVFAIL and len(qtypes) == 2:
        raise gai_error(socket.EAI_AGAIN)
    raise gai_error(socket.EAI_NONAME)
