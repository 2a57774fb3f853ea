"""The bundled sample app's traffic and writes, as data: what ``load.mix`` is shorthand for.

A scenario for the sample app may spell out ``traffic``/``writes`` like any other app (the
built-in scenarios do); one that only gives ``load.mix`` (login/validate/logout weights) and
``load.users`` gets exactly these sections. Nothing here imports the app: it is its HTTP API
(``POST /users``, ``POST /sessions`` with an Idempotency-Key, ``GET``/``DELETE /sessions/{id}``).
"""

from __future__ import annotations

from collections.abc import Mapping

from harness.scenario.appspec import RequestSpec, TrafficSpec, VerifyRequest, WritesSpec

PASSWORD = "drill-password-0123"
ACCOUNT = {"username": "drill-{{seed}}-{{user}}", "password": PASSWORD}
SESSION = "/sessions/{{login.session.session_id}}"
REGION_HEADER = "X-Served-By-Region"


def session_traffic(mix: Mapping[str, float], users: int) -> tuple[TrafficSpec, WritesSpec]:
    """Users log in (replaying an ambiguous login with its key), validate and log out by ``mix``."""
    traffic = TrafficSpec(
        users=users,
        prepare=(RequestSpec("register", "POST", "/users", json=ACCOUNT, ok=(200, 201, 409)),),
        requests=(
            RequestSpec("login", "POST", "/sessions", weight=mix.get("login", 0.0),
                        headers={"Idempotency-Key": "{{id}}"}, json=ACCOUNT, ok=(200, 201)),
            RequestSpec("validate", "GET", SESSION, weight=mix.get("validate", 0.0), ok=(200,)),
            RequestSpec("logout", "DELETE", SESSION, weight=mix.get("logout", 0.0), ok=(200, 204)),
        ),
    )
    writes = WritesSpec(requests=("login",), key="session.session_id", deletes=("logout",),
                        request=VerifyRequest("GET", "/sessions/{{key}}", found=(200,), missing=(401, 404)))
    return traffic, writes
