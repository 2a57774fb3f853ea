"""Hostile input for the harness's servers (issue 12): raw HTTP helpers, a stub harness, DNS packets."""

from __future__ import annotations

import http.client
import json
import socket
import struct
from types import SimpleNamespace

from harness.chaos import Chaos


def exchange(host: str, port: int, data: bytes) -> tuple[int, object]:
    """Raw bytes in, as they are; the status and (JSON) body of the one response, which must arrive."""
    with socket.create_connection((host, port), timeout=10) as sock:
        try:
            sock.sendall(data)
            sock.shutdown(socket.SHUT_WR)
        except (BrokenPipeError, ConnectionResetError):  # the server answered before reading it all
            pass
        reply = b""
        try:
            while chunk := sock.recv(65536):
                reply += chunk
        except ConnectionResetError:
            pass
    head, _, body = reply.partition(b"\r\n\r\n")
    # HTTP/1.0 answers bytes that never said which version they speak (aiohttp, like most servers)
    assert head.startswith((b"HTTP/1.1 ", b"HTTP/1.0 ")), f"no status line in reply to {data[:80]!r}: {reply[:120]!r}"
    status = int(head.split()[1])
    return status, json.loads(body) if body.strip() and b"application/json" in head else body


def http_request(method: str, path: str, body: bytes = b"", headers: dict[str, str] | None = None) -> bytes:
    """The bytes of one HTTP/1.1 request (``Content-Length`` and ``Connection: close`` added)."""
    lines = [f"{method} {path} HTTP/1.1", *(f"{k}: {v}" for k, v in (headers or {}).items()),
             f"Content-Length: {len(body)}", "Connection: close"]
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + body


def json_call(host: str, port: int, method: str, path: str, body: object = None, *, raw: bytes | None = None,
              headers: dict[str, str] | None = None) -> tuple[int, object]:
    """A well-formed request through ``http.client`` (JSON body unless ``raw``); status and JSON reply."""
    conn = http.client.HTTPConnection(host, port, timeout=10)
    try:
        data = raw if raw is not None else (None if body is None else json.dumps(body).encode())
        sent = {"Content-Type": "application/json"} if data is not None else {}
        conn.request(method, path, body=data, headers={**sent, **(headers or {})})
        response = conn.getresponse()
        payload = response.read()
        return response.status, json.loads(payload) if payload else None
    finally:
        conn.close()


class StubHarness:
    """Just enough of ``Harness`` for the control API: ``/v1/state`` and fault validation.

    ``Chaos`` runs over no components, so a valid fault fails to start with 409 (component missing)
    after its options were validated, which is what hostile-input tests need.
    """

    def __init__(self) -> None:
        self.chaos = Chaos(SimpleNamespace(dns=None, proxies=None, dynamodb=None, health=None))
        self.dns = None
        self.topology = SimpleNamespace(zones={})

    def describe(self) -> dict[str, str]:
        return {"harness": "stub"}

    def reset(self) -> None:
        self.chaos.clear_all()


def pointer_chain(size: int) -> bytes:
    """The DNS query that froze the harness: N questions, each a pointer to the one before it."""
    count = (size - 15) // 6
    body = b"\x01a\x00" + b"\x00\x01\x00\x01"  # question 0: "a." A IN, at offset 12
    for i in range(1, count):
        previous = 12 if i == 1 else 19 + 6 * (i - 2)
        body += struct.pack("!H", 0xC000 | previous) + b"\x00\x01\x00\x01"
    return struct.pack("!HHHHHH", 0x4242, 0x0100, count, 0, 0, 0) + body
