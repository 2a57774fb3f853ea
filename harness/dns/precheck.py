"""Bounded checks on a query's raw bytes, run before dnslib sees them.

dnslib decodes compression pointers recursively and re-walks a chain for every name that uses it,
so a 10 KB query made of a chain of backward pointers took seconds to parse on the server's one
event loop (issue 12), stalling DNS and the embedded Toxiproxy API with it. This walk is linear in
the packet size and refuses what a real query never contains before any parsing happens:

* a datagram larger than ``MAX_QUERY_SIZE`` (queries are a few hundred bytes);
* a count other than one question, answer or authority records (a QUERY carries none), more than
  ``MAX_ADDITIONAL`` additional records, or additional records other than OPT and TSIG (so no
  record data that dnslib would decode as names);
* a name whose pointers do not point strictly backwards, take more than ``MAX_POINTER_HOPS``
  hops, or reach a label type other than length/pointer;
* a label over 63 bytes or a name over 255 (RFC 1035 2.3.4) and a second OPT record (RFC 6891
  6.1.1): these are FORMERR, not SERVFAIL.

Whatever passes has at most a handful of short names, so dnslib parses it in microseconds.
"""

from __future__ import annotations

MAX_QUERY_SIZE = 4096  # bytes; UDP queries and TCP messages alike
MAX_ADDITIONAL = 2  # OPT and TSIG
MAX_POINTER_HOPS = 16  # real messages need one, rarely two
MAX_NAME = 255  # wire length of a name, label length bytes and root included
MAX_LABEL = 63
TYPE_OPT, TYPE_TSIG = 41, 250
_HEADER = 12


class BadQuery(Exception):
    """The bytes cannot be a well-formed query; the server answers FORMERR (message says why)."""


def check_query(data: bytes) -> None:
    """Raise ``BadQuery`` unless ``data`` (header present) is a query dnslib may parse cheaply."""
    if len(data) > MAX_QUERY_SIZE:
        raise BadQuery(f"message of {len(data)} bytes, more than {MAX_QUERY_SIZE}")
    qdcount, ancount, nscount, arcount = (int.from_bytes(data[i:i + 2], "big") for i in range(4, 12, 2))
    if qdcount != 1:
        raise BadQuery(f"{qdcount} questions, a query asks exactly one")
    if ancount or nscount:
        raise BadQuery("a query carries no answer or authority records")
    if arcount > MAX_ADDITIONAL:
        raise BadQuery(f"{arcount} additional records, at most {MAX_ADDITIONAL}")
    offset = _skip_name(data, _HEADER) + 4  # qtype, qclass
    _need(data, offset)
    opts = 0
    for _ in range(arcount):
        offset = _skip_name(data, offset)
        _need(data, offset + 10)
        rtype = int.from_bytes(data[offset:offset + 2], "big")
        rdlength = int.from_bytes(data[offset + 8:offset + 10], "big")
        if rtype not in (TYPE_OPT, TYPE_TSIG):
            raise BadQuery(f"additional record of type {rtype}; a query carries only OPT and TSIG")
        opts += rtype == TYPE_OPT
        if opts > 1:
            raise BadQuery("more than one OPT record (RFC 6891)")
        offset += 10 + rdlength
        _need(data, offset)


def _need(data: bytes, end: int) -> None:
    if end > len(data):
        raise BadQuery("message ends inside a record")


def _skip_name(data: bytes, offset: int) -> int:
    """Validate the name at ``offset``; return the offset just after it in the message."""
    after: int | None = None  # where the message continues once the first pointer is taken
    length = 0
    hops = 0
    pos = offset
    while True:
        _need(data, pos + 1)
        size = data[pos]
        kind = size & 0xC0
        if kind == 0xC0:
            _need(data, pos + 2)
            target = ((size & 0x3F) << 8) | data[pos + 1]
            if target >= pos:
                raise BadQuery("compression pointer does not point backwards")
            hops += 1
            if hops > MAX_POINTER_HOPS:
                raise BadQuery(f"name takes more than {MAX_POINTER_HOPS} compression pointers")
            if after is None:
                after = pos + 2
            pos = target
            continue
        if kind:
            raise BadQuery(f"label length byte {size:#04x}: labels are at most {MAX_LABEL} bytes")
        length += size + 1
        if length > MAX_NAME:
            raise BadQuery(f"name longer than {MAX_NAME} bytes")
        if size == 0:
            return pos + 1 if after is None else after
        pos += size + 1
