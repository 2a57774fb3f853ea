"""``{{...}}`` templates in traffic and write-check definitions, rendered per request.

Names a template may use:

- ``{{id}}``: a unique id for this logical request (seeded: the same run gives the same ids; a
  replayed write keeps its id, so the app can recognise the retry);
- ``{{seq}}``: the request's sequence number in the run; ``{{user}}``: the virtual user's number;
  ``{{seed}}``: the run's seed (names that must differ between runs, such as account names);
- ``{{key}}``: in write checks, the written key;
- ``{{NAME.path}}``: a value from this user's last successful response to request ``NAME``
  (dotted path into its JSON body, list indices as numbers).

A string that is exactly one template keeps the value's type (a number stays a number).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

TEMPLATE = re.compile(r"\{\{\s*([A-Za-z0-9_.-]+)\s*\}\}")
BUILTIN = ("id", "seq", "user", "seed", "key")


class MissingValue(LookupError):
    """A template names a response value this user has not seen yet."""

    def __init__(self, request: str) -> None:
        super().__init__(request)
        self.request = request


def references(value: Any) -> set[str]:
    """Names of earlier requests whose responses ``value`` uses (``{{create.id}}`` -> ``create``)."""
    found: set[str] = set()
    if isinstance(value, str):
        for name in TEMPLATE.findall(value):
            head = name.split(".", 1)[0]
            if head not in BUILTIN:
                found.add(head)
    elif isinstance(value, Mapping):
        for item in value.values():
            found |= references(item)
    elif isinstance(value, list):
        for item in value:
            found |= references(item)
    return found


def lookup(body: Any, path: str) -> Any:
    """``lookup({"a": {"b": [1, 2]}}, "a.b.1")`` -> 2; ``KeyError`` when the path is not there."""
    value = body
    for part in path.split(".") if path else ():
        if isinstance(value, list) and part.isdigit() and int(part) < len(value):
            value = value[int(part)]
        elif isinstance(value, Mapping) and part in value:
            value = value[part]
        else:
            raise KeyError(path)
    return value


def render(value: Any, names: Mapping[str, Any], responses: Mapping[str, Any]) -> Any:
    """``value`` with every template filled from ``names`` (id, seq...) and ``responses`` (by request)."""
    if isinstance(value, Mapping):
        return {k: render(v, names, responses) for k, v in value.items()}
    if isinstance(value, list):
        return [render(v, names, responses) for v in value]
    if not isinstance(value, str):
        return value
    whole = TEMPLATE.fullmatch(value.strip())
    if whole:
        return _resolve(whole.group(1), names, responses)
    return TEMPLATE.sub(lambda m: str(_resolve(m.group(1), names, responses)), value)


def _resolve(name: str, names: Mapping[str, Any], responses: Mapping[str, Any]) -> Any:
    if name in names:
        return names[name]
    head, _, path = name.partition(".")
    if head not in responses:
        raise MissingValue(head)
    try:
        return lookup(responses[head], path)
    except KeyError:
        raise MissingValue(head) from None
