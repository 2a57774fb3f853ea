"""A minimal DNS client for talking to the harness's server from tests, benches and checks."""

from __future__ import annotations

from dnslib import DNSRecord, EDNS0


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
