"""Reading a scenario's ``app``, ``traffic`` and ``writes`` sections (any app, any language).

Works on the loader's location-keeping YAML nodes (anything with ``mapping()``, ``sequence()``,
``text()``, ``integer()``, ``number()``, ``duration()``, ``value`` and ``error()``), so every
mistake is reported as ``file:line: field: problem`` like the rest of the file.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from harness.drill.templates import BUILTIN, TEMPLATE, references
from harness.scenario.appspec import (
    ProcessSpec,
    ReadySpec,
    RequestSpec,
    TrafficSpec,
    VerifyRequest,
    VerifyTable,
    WritesSpec,
)

PROCESS_FIELDS = ("command", "cwd", "env", "replicas", "port", "ready", "stop_grace")
APP_FIELDS = (*PROCESS_FIELDS, "url", "tables", "region_header")
METHODS = ("GET", "POST", "PUT", "PATCH", "DELETE", "HEAD")
MAX_REPLICAS = 16


def _statuses(node: Any) -> tuple[int, ...]:
    items = node.sequence() if isinstance(node.value, list) else [node]
    codes = tuple(item.integer(100, 599) for item in items)
    if not codes:
        raise node.error("list at least one HTTP status")
    return codes


def _strings(node: Any) -> dict[str, str]:
    fields = node.mapping()
    out = {}
    for key, child in fields.items():
        value = child.value
        if isinstance(value, bool) or not isinstance(value, (str, int, float)):
            raise child.error(f"expected text, got {value!r}")
        out[key] = str(value)
    return out


def _names(node: Any) -> tuple[str, ...]:
    return tuple(n.text() for n in node.sequence()) if isinstance(node.value, list) else (node.text(),)


def read_process(fields: dict[str, Any], scenario_file: str) -> ProcessSpec | None:
    """``command`` (argv list or one string split like a shell would), ``port`` and the rest."""
    if "command" not in fields:
        extra = [k for k in PROCESS_FIELDS if k in fields]
        if extra:
            raise fields[extra[0]].error("only an app started by the harness takes this; give 'command' too")
        return None
    node = fields["command"]
    if isinstance(node.value, str):
        import shlex

        command = tuple(shlex.split(node.text()))
    else:
        command = tuple(n.text() for n in node.sequence())
    if not command:
        raise node.error("the command is empty")
    if "port" not in fields:
        raise node.error("an app the harness starts needs 'port' (where it listens inside the sandbox)")
    cwd = None
    if "cwd" in fields:  # relative to the scenario file, so the file works from any directory
        cwd = str((Path(scenario_file).resolve().parent / fields["cwd"].text()).resolve())
        if not Path(cwd).is_dir():
            raise fields["cwd"].error(f"no such directory: {cwd}")
    ready = ReadySpec()
    if "ready" in fields:
        g = fields["ready"].mapping(("http", "tcp", "timeout"))
        http = g["http"].text() if "http" in g else None
        if http is not None and not http.startswith("/"):
            raise g["http"].error(f"the readiness path must start with '/', got {http!r}")
        timeout = g["timeout"].duration(positive=True) if "timeout" in g else ReadySpec.timeout
        ready = ReadySpec(http, timeout)
    return ProcessSpec(
        command=command,
        port=fields["port"].integer(1, 65535),
        cwd=cwd,
        env=_strings(fields["env"]) if "env" in fields else {},
        replicas=fields["replicas"].integer(1, MAX_REPLICAS) if "replicas" in fields else None,
        ready=ready,
        stop_grace=fields["stop_grace"].duration(positive=True) if "stop_grace" in fields else ProcessSpec.stop_grace,
    )


def read_url(fields: dict[str, Any]) -> str | None:
    if "url" not in fields:
        return None
    if "command" in fields:
        raise fields["url"].error("give either 'command' (the harness starts the app) or 'url', not both")
    url = fields["url"].text()
    if not re.fullmatch(r"http://[^/\s]+(/.*)?", url):
        raise fields["url"].error(f"expected a URL like http://127.0.0.1:8080, got {url!r}")
    return url


def read_tables(node: Any) -> tuple[dict[str, Any], ...]:
    """CreateTable requests, checked now so a typo fails before any server starts."""
    from harness.dynamodb.tables import TableSpec
    from harness.errors import HarnessError

    out = []
    for item in node.sequence():
        spec = item.value
        if not isinstance(spec, dict):
            raise item.error("each table is a CreateTable request (TableName, KeySchema, AttributeDefinitions)")
        try:
            TableSpec.of(spec)
        except (HarnessError, KeyError, TypeError, ValueError) as exc:
            raise item.error(f"not a valid CreateTable request: {exc}") from None
        out.append(spec)
    return tuple(out)


def read_request(node: Any, index: int) -> RequestSpec:
    f = node.mapping(("name", "weight", "method", "path", "headers", "json", "ok"))
    for required in ("method", "path"):
        if required not in f:
            raise node.error(f"missing required field {required!r}")
    method = f["method"].text().upper()
    if method not in METHODS:
        raise f["method"].error(f"unknown HTTP method; known: {', '.join(METHODS)}")
    path = f["path"].text()
    if not path.startswith("/"):
        raise f["path"].error(f"a request path starts with '/', got {path!r}")
    return RequestSpec(
        name=f["name"].text() if "name" in f else f"request{index}",
        method=method,
        path=path,
        weight=f["weight"].number(0) if "weight" in f else 1.0,
        headers=_strings(f["headers"]) if "headers" in f else {},
        json=f["json"].value if "json" in f else None,
        ok=_statuses(f["ok"]) if "ok" in f else RequestSpec.ok,
    )


def read_traffic(node: Any) -> TrafficSpec:
    f = node.mapping(("requests", "python", "users", "prepare"))
    if ("requests" in f) == ("python" in f):
        raise node.error("give either 'requests' (a list) or 'python' (module:function)")
    users = f["users"].integer(1, 100_000) if "users" in f else TrafficSpec.users
    if "python" in f:
        entry = f["python"].text()
        if not re.fullmatch(r"[A-Za-z_][\w.]*:[A-Za-z_]\w*", entry):
            raise f["python"].error(f"expected module:function, got {entry!r}")
        return TrafficSpec(python=entry, users=users)
    nodes = f["requests"].sequence()
    requests = tuple(read_request(n, i) for i, n in enumerate(nodes))
    if not requests:
        raise f["requests"].error("list at least one request")
    prepare = tuple(read_request(n, i) for i, n in enumerate(f["prepare"].sequence())) if "prepare" in f else ()
    for n, r in zip(f["prepare"].sequence() if "prepare" in f else (), prepare):
        if references([r.path, r.headers, r.json]):
            raise n.error("a prepare request runs before any other: it cannot use an earlier response")
    names = [r.name for r in requests]
    for n, r in zip(nodes, requests):
        if names.count(r.name) > 1:
            raise n.error(f"request name {r.name!r} is used twice")
        for ref in references([r.path, r.headers, r.json]) - set(names):
            raise n.error(f"template names {ref!r}, which is no request here (known: {', '.join(names)}; "
                          f"built-in: {', '.join(BUILTIN)})")
    if not any(r.weight > 0 and not references([r.path, r.headers, r.json]) for r in requests):
        raise f["requests"].error("at least one request with a weight above 0 must need no earlier response")
    return TrafficSpec(requests=requests, users=users, prepare=prepare)


def read_writes(node: Any, traffic: TrafficSpec | None) -> WritesSpec:
    f = node.mapping(("requests", "key", "deletes", "verify"))
    for required in ("requests", "key", "verify"):
        if required not in f:
            raise node.error(f"missing required field {required!r}")
    known = {r.name for r in traffic.requests} if traffic is not None else None
    writes, deletes = _names(f["requests"]), _names(f["deletes"]) if "deletes" in f else ()
    for field_name, names in (("requests", writes), ("deletes", deletes)):
        for name in names:
            if known is not None and traffic.python is None and name not in known:
                raise f[field_name].error(f"no request named {name!r} in traffic (known: {', '.join(sorted(known))})")
    v = f["verify"].mapping(("request", "table"))
    if not v:
        raise f["verify"].error("give 'request' (read back through the app) and/or 'table'")
    request = table = None
    if "request" in v:
        g = v["request"].mapping(("method", "path", "found", "missing"))
        if "path" not in g:
            raise v["request"].error("missing required field 'path' (e.g. /orders/{{key}})")
        request = VerifyRequest(
            method=g["method"].text().upper() if "method" in g else "GET",
            path=g["path"].text(),
            found=_statuses(g["found"]) if "found" in g else VerifyRequest.found,
            missing=_statuses(g["missing"]) if "missing" in g else VerifyRequest.missing,
        )
    if "table" in v:
        g = v["table"].mapping(("name", "key"))
        if "name" not in g or "key" not in g:
            raise v["table"].error("a table check needs 'name' and 'key' (e.g. key: {order_id: '{{key}}'})")
        table = VerifyTable(g["name"].text(), _strings(g["key"]))
    for template in [request.path if request else "", *(table.key.values() if table else ())]:
        unknown = [n for n in TEMPLATE.findall(template) if n != "key"]
        if unknown:
            raise f["verify"].error(f"a write check can only use {{{{key}}}}, got {{{{{unknown[0]}}}}}")
    return WritesSpec(requests=writes, key=f["key"].text(), deletes=deletes, request=request, table=table)
