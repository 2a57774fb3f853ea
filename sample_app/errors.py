"""Errors the HTTP API answers with: a status, a stable machine code and a one-line message."""

from __future__ import annotations


class ApiError(Exception):
    status = 500
    code = "internal_error"

    def __init__(self, message: str, *, region: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.region = region  # the region whose answer this is, when one answered


class BadRequest(ApiError):
    status, code = 400, "bad_request"


class BadCredentials(ApiError):
    status, code = 401, "invalid_credentials"


class SessionExpired(ApiError):
    status, code = 401, "session_expired"


class NotFound(ApiError):
    status, code = 404, "not_found"


class MethodNotAllowed(ApiError):
    status, code = 405, "method_not_allowed"


class Conflict(ApiError):
    status, code = 409, "user_exists"


class PayloadTooLarge(ApiError):
    status, code = 413, "payload_too_large"


class DatabaseError(ApiError):
    """DynamoDB answered with an error that is neither the caller's fault nor an outage."""

    status, code = 502, "database_error"


class Unavailable(ApiError):
    """No region could serve the request (and the cache could not either)."""

    status, code = 503, "unavailable"
