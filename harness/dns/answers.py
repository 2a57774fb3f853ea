"""Turning a parsed query into the authoritative answer, Route 53 style.

Kept apart from the sockets so the same rules serve UDP, TCP, the fault helpers and the tests:
names outside every zone are REFUSED, missing names are NXDOMAIN and existing names without the
asked type are NODATA, both with the zone's SOA in the authority section at the negative-caching
TTL min(SOA TTL, SOA MINIMUM) (RFC 2308), exactly what a resolver needs to cache the failure.
"""

from __future__ import annotations

from collections.abc import Iterable

from dnslib import AAAA, NS, OPCODE, QTYPE, RCODE, RR, SOA, A, DNSHeader, DNSRecord, EDNS0

from harness.dns.zone import Topology, normalize_name

# TTL Route 53 gives the NS record at a zone apex.
NS_TTL = 172800
# Largest UDP payload we advertise and send (the DNS Flag Day 2020 value, avoids fragmentation).
MAX_UDP_PAYLOAD = 1232
CLASS_IN, CLASS_ANY = 1, 255
BADVERS = 16


def qtype_name(qtype: int) -> str:
    return QTYPE.get(qtype, f"TYPE{qtype}")


def rcode_name(rcode: int) -> str:
    return "BADVERS" if rcode == BADVERS else RCODE.get(rcode, f"RCODE{rcode}")


def header_reply(data: bytes, rcode: int) -> bytes | None:
    """A header-only reply for a query too broken to parse: same id and opcode, QR=1.

    None when not even the 12-byte header is there (nothing to address a reply to: drop it).
    """
    if len(data) < 12:
        return None
    flags = 0x80 | (data[2] & 0x79)  # QR, plus the query's opcode and RD bits
    return data[:2] + bytes((flags, rcode & 0x0F)) + bytes(8)


def query_opt(request: DNSRecord) -> RR | None:
    """The query's EDNS OPT pseudo-record, if it sent one."""
    for rr in request.ar:
        if rr.rtype == QTYPE.OPT:
            return rr
    return None


def udp_limit(request: DNSRecord) -> int:
    """How large a UDP reply the client accepts: 512, or its EDNS size up to our maximum."""
    opt = query_opt(request)
    if opt is None:
        return 512
    return max(512, min(opt.rclass, MAX_UDP_PAYLOAD))


def soa_rr(topology: Topology, zone: str, ttl: int) -> RR:
    soa = topology.soa(zone)
    return RR(
        zone + ".",
        QTYPE.SOA,
        ttl=ttl,
        rdata=SOA(soa.mname + ".", soa.rname + ".", (soa.serial, soa.refresh, soa.retry, soa.expire, soa.minimum)),
    )


def address_rrs(qname: object, addresses: Iterable[str], ttl: int) -> list[RR]:
    return [
        RR(qname, QTYPE.AAAA, ttl=ttl, rdata=AAAA(a)) if ":" in a else RR(qname, QTYPE.A, ttl=ttl, rdata=A(a))
        for a in addresses
    ]


def set_negative(reply: DNSRecord, topology: Topology, zone: str, rcode: int, *, soa: bool = True) -> None:
    """Make ``reply`` an NXDOMAIN or NODATA answer, with the SOA a resolver caches it by."""
    reply.header.rcode = rcode
    reply.rr = []
    reply.auth = [soa_rr(topology, zone, topology.negative_ttl)] if soa else []


def build_reply(topology: Topology, request: DNSRecord) -> tuple[DNSRecord, str | None]:
    """The authoritative reply to a one-question QUERY, and the zone it fell in (None: refused)."""
    rh = request.header
    reply = DNSRecord(
        DNSHeader(id=rh.id, bitmap=0, qr=1, aa=1, rd=rh.rd, cd=rh.cd, opcode=OPCODE.QUERY),
        q=request.q,
    )
    opt = query_opt(request)
    if opt is not None:
        version = (opt.ttl >> 16) & 0xFF
        do = "do" if opt.ttl & 0x8000 else ""
        if version != 0:  # RFC 6891: answer BADVERS with our version (0), nothing else
            reply.add_ar(EDNS0(udp_len=MAX_UDP_PAYLOAD, ext_rcode=BADVERS >> 4, flags=do))
            reply.header.aa = 0
            return reply, None
        reply.add_ar(EDNS0(udp_len=MAX_UDP_PAYLOAD, flags=do))

    question = request.q
    name = normalize_name(str(question.qname))
    zone = topology.zone_of(name)
    if zone is None or question.qclass not in (CLASS_IN, CLASS_ANY):
        reply.header.aa = 0
        reply.header.rcode = RCODE.REFUSED
        return reply, None
    exists, records = topology.lookup(name)
    if not exists:
        set_negative(reply, topology, zone, RCODE.NXDOMAIN)
        return reply, zone

    qtype = qtype_name(question.qtype)
    if records is not None:
        for rr in address_rrs(question.qname, records.for_qtype(qtype), records.ttl):
            reply.add_answer(rr)
    if name == zone and qtype in ("SOA", "ANY"):
        reply.add_answer(soa_rr(topology, zone, topology.soa_ttl))
    if name == zone and qtype in ("NS", "ANY"):
        reply.add_answer(RR(question.qname, QTYPE.NS, ttl=NS_TTL, rdata=NS(topology.soa(zone).mname + ".")))
    if not reply.rr:
        set_negative(reply, topology, zone, RCODE.NOERROR)
    return reply, zone


def pack_reply(reply: DNSRecord, limit: int | None, *, truncate: bool = False) -> bytes:
    """Wire bytes; over UDP (``limit`` set) a reply that does not fit, or a forced truncation,
    goes out with TC=1 and no records, which tells the client to retry over TCP (RFC 7766)."""
    packed = reply.pack()
    if limit is not None and (truncate or len(packed) > limit):
        reply.header.tc = 1
        reply.rr = []
        reply.auth = []
        reply.ar = [rr for rr in reply.ar if rr.rtype == QTYPE.OPT]
        packed = reply.pack()
    return packed


def reply_rcode(reply: DNSRecord) -> str:
    """The reply's full rcode as text, including the EDNS extended bits (BADVERS)."""
    opt = query_opt(reply)
    extended = (opt.ttl >> 24) & 0xFF if opt is not None else 0
    return rcode_name((extended << 4) | reply.header.rcode)


def reply_addresses(reply: DNSRecord) -> tuple[str, ...]:
    return tuple(str(rr.rdata) for rr in reply.rr if rr.rtype in (QTYPE.A, QTYPE.AAAA))
