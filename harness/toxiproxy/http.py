"""The Toxiproxy API's requests and responses as plain values, apart from the HTTP library.

``ToxiproxyApi`` maps a ``Request`` to a ``Response``; ``EmbeddedToxiproxy`` serves it over HTTP
with aiohttp (``harness.httpserver``), so the API can be read and tested without a socket.
"""

from __future__ import annotations

import dataclasses
import json
from typing import Any


@dataclasses.dataclass
class Request:
    method: str
    path: str
    body: bytes


@dataclasses.dataclass
class Response:
    status: int
    body: bytes = b""
    content_type: str = "application/json"

    @classmethod
    def json(cls, status: int, payload: Any) -> "Response":
        return cls(status, (json.dumps(payload) + "\n").encode())
