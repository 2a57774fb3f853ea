"""The scenario the runner, CLI and plugin tests drill: one empty DNS answer for us-east-1 under load.

Each test module needs its own timings (an in-process double answers faster than a real harness),
so the text is built here once with those numbers filled in, in a fixed layout: tests edit it with
``str.replace`` and append method steps, and error messages name its lines (``method[0]`` is line 7
without ``settings`` and ``objectives``).
"""

from __future__ import annotations

EAST = "dynamodb.us-east-1.amazonaws.com"


def empty_answer_drill(title: str, *, load: str, success_rate: str, at: str, lasting: str,
                       settings: str = "", objectives: str = "") -> str:
    """YAML of a drill: ``load`` and ``success_rate`` are flow-mapping bodies (``"rps: 50, ..."``),
    ``settings`` whole lines after the title (``"seed: 7\\n"``), ``objectives`` whole list items
    before ``lost_writes: 0``; the method is ``dns.empty_answer`` for ``EAST`` at ``at`` for ``lasting``."""
    return (
        f"title: {title}\n"
        f"{settings}"
        f"load: {{{load}}}\n"
        "steady_state:\n"
        f"  - success_rate: {{{success_rate}}}\n"
        f"{objectives}"
        "  - lost_writes: 0\n"
        "method:\n"
        "  - fault: dns.empty_answer\n"
        f"    at: {at}\n"
        f"    for: {lasting}\n"
        f"    options: {{qname: {EAST}}}\n"
    )
