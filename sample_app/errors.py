"""Errors the HTTP API answers with: a status, a stable machine code and a one-line message."""

from __future__ import annotations


class ApiError(Exception):
    """An answer the API gives instead of a result; raised as is, a 500 ``internal_error``.

    Each kind declares its status and code in its class line
    (``class NotFound(ApiError, status=404, code="not_found")``), so the table of kinds below reads
    like the API's error documentation.
    """

    status: int = 500
    code: str = "internal_error"

    def __init_subclass__(cls, *, status: int, code: str, **kwargs: object) -> None:
        super().__init_subclass__(**kwargs)
        cls.status, cls.code = status, code

    def __init__(self, message: str, *, region: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.region = region  # the region whose answer this is, when one answered


class BadRequest(ApiError, status=400, code="bad_request"):
    """The request itself is wrong: no retry will fix it."""


class BadCredentials(ApiError, status=401, code="invalid_credentials"):
    """Unknown username or wrong password (which one is not said)."""


class SessionExpired(ApiError, status=401, code="session_expired"):
    """The session existed but its time is up."""


class NotFound(ApiError, status=404, code="not_found"):
    """No such route, session or user."""


class MethodNotAllowed(ApiError, status=405, code="method_not_allowed"):
    """The route exists but not with this method."""


class Conflict(ApiError, status=409, code="user_exists"):
    """The username is taken."""


class PayloadTooLarge(ApiError, status=413, code="payload_too_large"):
    """The body is larger than the app reads."""


class DatabaseError(ApiError, status=502, code="database_error"):
    """DynamoDB answered with an error that is neither the caller's fault nor an outage."""


class Unavailable(ApiError, status=503, code="unavailable"):
    """No region could serve the request (and the cache could not either)."""
