"""DynamoDB's JSON 1.0 wire protocol details the front server needs.

The harness answers some requests itself (wrong-region signatures, injected service errors), so
those answers must be byte-for-byte what DynamoDB sends: ``application/x-amz-json-1.0`` body with a
``__type`` naming the error, an ``x-amzn-RequestId`` and an ``x-amz-crc32`` of the body (botocore's
legacy retry handler for DynamoDB verifies that checksum). Then botocore parses and classifies the
error exactly as it would in production, which is the whole point of injecting it.
"""

from __future__ import annotations

import io
import json
import secrets
import string
import zlib
from collections.abc import Iterable
from dataclasses import dataclass

CONTENT_TYPE = "application/x-amz-json-1.0"
_REQUEST_ID_ALPHABET = string.ascii_uppercase + string.digits


@dataclass(frozen=True)
class AwsError:
    """One DynamoDB error as it goes on the wire: HTTP status, ``__type`` and message."""

    status: int
    type: str  # full __type, e.g. "com.amazonaws.dynamodb.v20120810#ProvisionedThroughputExceededException"
    message: str

    @property
    def code(self) -> str:
        """The error code botocore reports (the part after '#')."""
        return self.type.rpartition("#")[2]


def request_id() -> str:
    """A DynamoDB-style request id (52 upper-case alphanumerics)."""
    return "".join(secrets.choice(_REQUEST_ID_ALPHABET) for _ in range(52))


def json_response(status: int, body: bytes) -> tuple[str, list[tuple[str, str]], bytes]:
    """Status line, headers and body of a DynamoDB JSON response (checksum included)."""
    headers = [
        ("Content-Type", CONTENT_TYPE),
        ("Content-Length", str(len(body))),
        ("x-amzn-RequestId", request_id()),
        ("x-amz-crc32", str(zlib.crc32(body) & 0xFFFFFFFF)),
    ]
    return f"{status} {_REASONS.get(status, 'Error')}", headers, body


def error_response(error: AwsError) -> tuple[str, list[tuple[str, str]], bytes]:
    body = json.dumps({"__type": error.type, "message": error.message}, separators=(",", ":")).encode()
    return json_response(error.status, body)


def send(response: tuple[str, list[tuple[str, str]], bytes], start_response) -> Iterable[bytes]:
    """Hand a prepared response to a WSGI ``start_response``."""
    status, headers, body = response
    start_response(status, headers)
    return [body]


def operation_of(environ: dict) -> str:
    """The DynamoDB operation named by ``X-Amz-Target`` ("DynamoDB_20120810.PutItem" -> "PutItem")."""
    return environ.get("HTTP_X_AMZ_TARGET", "").rpartition(".")[2]


def credential_scope(environ: dict) -> tuple[str, str] | None:
    """(region, service) from a SigV4 ``Authorization`` header, or None if unsigned/unparsable."""
    auth = environ.get("HTTP_AUTHORIZATION", "")
    marker = "Credential="
    start = auth.find(marker)
    if start < 0:
        return None
    credential = auth[start + len(marker):].split(",", 1)[0].strip()
    parts = credential.split("/")
    if len(parts) != 5:
        return None
    return parts[2], parts[3]


def read_body(environ: dict) -> bytes:
    """Read the request body once and put it back, so later WSGI layers can read it again."""
    length = int(environ.get("CONTENT_LENGTH") or 0)
    body = environ["wsgi.input"].read(length) if length else b""
    environ["wsgi.input"] = io.BytesIO(body)
    return body


_REASONS = {200: "OK", 400: "Bad Request", 413: "Request Entity Too Large", 500: "Internal Server Error",
            501: "Not Implemented", 503: "Service Unavailable"}

# Errors DynamoDB returns; __type prefixes are the ones the real service uses.
_DDB = "com.amazonaws.dynamodb.v20120810#"
_CORAL = "com.amazon.coral.service#"
_AVAILABILITY = "com.amazon.coral.availability#"

PROVISIONED_THROUGHPUT_EXCEEDED = AwsError(
    400, _DDB + "ProvisionedThroughputExceededException",
    "The level of configured provisioned throughput for the table was exceeded. "
    "Consider increasing your provisioning level with the UpdateTable API.",
)
THROTTLING = AwsError(400, _AVAILABILITY + "ThrottlingException", "Rate of requests exceeds the allowed throughput.")
INTERNAL_SERVER_ERROR = AwsError(500, _DDB + "InternalServerError", "Internal server error")
SERVICE_UNAVAILABLE = AwsError(503, _AVAILABILITY + "ServiceUnavailable", "The service is currently unavailable or busy.")
WRONG_REGION = AwsError(400, _CORAL + "InvalidSignatureException", "Credential should be scoped to a valid region.")
WRONG_SERVICE = AwsError(400, _CORAL + "InvalidSignatureException", "Credential should be scoped to correct service: 'dynamodb'.")
MISSING_TOKEN = AwsError(400, _CORAL + "MissingAuthenticationTokenException", "Request is missing Authentication Token")
