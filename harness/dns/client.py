"""A minimal DNS client for talking to the harness's server from tests, benches and checks."""

from __future__ import annotations

import socket
from typing import Any

from dnslib import QTYPE, RCODE, DNSRecord, EDNS0


def query(
    address: tuple[str, int],
    name: str,
    qtype: str = "A",
    *,
    tcp: bool = False,
    timeout: float = 2.0,
    edns: bool = False,
) -> DNSRecord:
    """Send one query over real UDP (or TCP) and return the parsed reply.

    Raises ``socket.timeout`` when no reply comes (a dropped query) within ``timeout``.
    """
    request = DNSRecord.question(name, qtype)
    if edns:
        request.add_ar(EDNS0(udp_len=1232))
    host, port = address
    return DNSRecord.parse(request.send(host, port, tcp=tcp, timeout=timeout))


def resolve(address: tuple[str, int], name: str, qtype: str = "A", *, timeout: float = 2.0) -> dict[str, Any]:
    """One UDP query as plain data: ``{"rcode": "NOERROR", "answers": [...]}``; a dropped query is
    ``rcode "TIMEOUT"``. For probes (Chaos Toolkit, the control API) that report what a client saw."""
    try:
        reply = query(address, name, qtype, timeout=timeout)
    except (socket.timeout, TimeoutError):
        return {"rcode": "TIMEOUT", "answers": []}
    answers = [str(rr.rdata) for rr in reply.rr if QTYPE.get(rr.rtype) == qtype or qtype == "ANY"]
    return {"rcode": RCODE.get(reply.header.rcode), "answers": answers}
