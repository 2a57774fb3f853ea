"""HTTP API of the sample session service: a Flask app, JSON in and out.

    POST   /users            {"username", "password"}          -> 201 | 400 | 409 | 503
    POST   /sessions         {"username", "password"}          -> 201 | 400 | 401 | 503
                             Idempotency-Key header (or "client_token" in the body)
    GET    /sessions/{id}                                      -> 200 | 400 | 401 | 404 | 503
    DELETE /sessions/{id}                                      -> 200 | 400 | 404 | 503
    GET    /healthz                                            -> 200 (breaker states)
    GET    /metrics                                            -> 200 (counters)

Every response carries ``X-Served-By-Region`` (a region, or ``none``) and ``X-Served-From``
(``dynamodb``, ``cache`` or ``app``); JSON bodies repeat them as ``region``, ``source`` and
``stale``. Errors, routing ones included, are ``{"error": <code>, "message": <one line>}`` with a
proper status, so a client never has to parse an HTML error page.

The views only translate HTTP to ``SessionService`` calls and its ``Result`` back; serving (threads,
sockets, shutdown) is ``sample_app.server``'s job.
"""

from __future__ import annotations

import json
import logging
import re
from typing import Any

from flask import Blueprint, Flask, Response, current_app, jsonify, request
from werkzeug import exceptions as http_errors

from sample_app.errors import ApiError, BadRequest, MethodNotAllowed, NotFound, PayloadTooLarge
from sample_app.metrics import Metrics
from sample_app.sessions import Result, SessionService

log = logging.getLogger(__name__)

MAX_BODY = 64 * 1024

api = Blueprint("sessions", __name__)


def create_app(service: SessionService, metrics: Metrics) -> Flask:
    """A Flask app serving ``service`` and counting every answer in ``metrics``."""
    app = Flask(__name__)
    app.config["PROVIDE_AUTOMATIC_OPTIONS"] = False  # the API answers the methods it documents
    app.extensions["sample_app"] = {"service": service, "metrics": metrics}
    app.register_blueprint(api)
    return app


def _service() -> SessionService:
    return current_app.extensions["sample_app"]["service"]


def _metrics() -> Metrics:
    return current_app.extensions["sample_app"]["metrics"]


# ------------------------------------------------------------------------------------------ routes


@api.post("/users")
def create_user() -> Response:
    return _reply(_service().create_user(_json_body()))


@api.post("/sessions")
def login() -> Response:
    payload = _json_body()
    token = payload.get("client_token") if isinstance(payload, dict) else None
    key = request.headers.get("Idempotency-Key") or (token if isinstance(token, str) else None)
    return _reply(_service().login(payload, key))


@api.get("/sessions/<session_id>")
def validate(session_id: str) -> Response:
    return _reply(_service().validate(session_id))


@api.delete("/sessions/<session_id>")
def logout(session_id: str) -> Response:
    return _reply(_service().logout(session_id))


@api.get("/healthz")
def health() -> Response:
    return _reply(_service().health())


@api.get("/metrics")
def metrics() -> Response:
    return _reply(Result(200, _metrics().snapshot(), None, "app"))


# ------------------------------------------------------------------------------------------ errors


@api.app_errorhandler(ApiError)
def api_error(exc: ApiError) -> Response:
    source = "dynamodb" if exc.region else "app"
    body = {"error": exc.code, "message": exc.message, "region": exc.region, "source": source, "stale": False}
    return _reply(Result(exc.status, body, exc.region, source))


@api.app_errorhandler(http_errors.HTTPException)
def http_error(exc: http_errors.HTTPException) -> Response:
    """werkzeug's answers (no such path, wrong method, a client gone mid-body) in the API's own shape."""
    if isinstance(exc, http_errors.MethodNotAllowed):
        allowed = sorted(set(exc.valid_methods or ()) - {"HEAD", "OPTIONS"})
        return api_error(MethodNotAllowed(f"{request.method} is not allowed here; use {' or '.join(allowed)}"))
    if isinstance(exc, http_errors.NotFound):
        return api_error(NotFound(f"no route {request.method} {request.path}"))
    kind = BadRequest if exc.code is not None and exc.code < 500 else ApiError
    return api_error(kind(" ".join(f"{exc.name}: {exc.description or ''}".split())))


@api.app_errorhandler(Exception)
def internal_error(exc: Exception) -> Response:
    """A bug of ours: answer 500 and keep serving."""
    log.error("unhandled error in %s %s", request.method, request.path, exc_info=exc)
    return _reply(Result(500, {"error": "internal_error", "message": "internal error"}, None, "app"))


# ------------------------------------------------------------------------------------------ plumbing


@api.after_app_request
def count(response: Response) -> Response:
    """Count every answer, errors included, by route template (session ids folded away)."""
    response.headers.setdefault("X-Served-By-Region", "none")
    response.headers.setdefault("X-Served-From", "app")
    region = response.headers["X-Served-By-Region"]
    _metrics().count_request(
        _route_label(), response.status_code, None if region == "none" else region, response.headers["X-Served-From"]
    )
    return response


def _route_label() -> str:
    """``GET /sessions/{id}``-style label; ``(unknown)`` for paths no route has, so counters stay few."""
    rule = request.url_rule
    error = request.routing_exception
    if rule is None and isinstance(error, http_errors.MethodNotAllowed) and error.valid_methods:
        adapter = current_app.url_map.bind_to_environ(request.environ)
        rule, _ = adapter.match(request.path, method=error.valid_methods[0], return_rule=True)
    template = re.sub(r"<[^>]*>", "{id}", rule.rule) if rule is not None else "(unknown)"
    return f"{request.method} {template}"


def _json_body() -> Any:
    length = request.content_length
    if length is None:
        raise BadRequest("request needs a JSON body with Content-Length")
    if length > MAX_BODY:
        raise PayloadTooLarge(f"body of {length} bytes exceeds {MAX_BODY}")
    try:
        return json.loads(request.get_data(cache=False) or b"null")
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise BadRequest(f"body is not valid JSON: {exc}") from None


def _reply(result: Result) -> Response:
    response = jsonify(result.body)
    response.status_code = result.status
    response.headers["X-Served-By-Region"] = result.region or "none"
    response.headers["X-Served-From"] = result.source
    response.headers.update(result.headers)
    return response
