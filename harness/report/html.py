"""A self-contained HTML drill report: inline CSS and SVG, nothing fetched, opens from a file.

The page answers, top to bottom: did it pass; what happened over time (chart); which objective
failed and by how much; what the method did; and the log of timeline, failover and rollback events.
"""

from __future__ import annotations

import json
from html import escape
from importlib import resources
from pathlib import Path
from string import Template
from typing import Any

from harness.report.chart import render_chart
from harness.report.fmt import LABELS, value


def _asset(name: str) -> str:
    return (resources.files("harness.report") / name).read_text(encoding="utf-8")


def _rows(rows: list[list[str]], empty: str, columns: int) -> str:
    if not rows:
        return f'<tr><td colspan="{columns}" class="muted">{escape(empty)}</td></tr>'
    return "\n".join("<tr>" + "".join(cells) + "</tr>" for cells in rows)


_CELL = {"pass": "ok", "fail": "bad", "inconclusive": "muted"}
_HEADLINE = {
    "pass": lambda report: "PASSED: every objective held",
    "fail": lambda report: "FAILED",
    "inconclusive": lambda report: f"INCONCLUSIVE: {report['reason']}",
    "error": lambda report: "ERROR",
}


def _interval(result: dict[str, Any]) -> str:
    interval = result.get("interval")
    if not interval:
        return ""
    low, high = (value(result["kind"], v) for v in interval)
    return f"<br><span class='muted'>95% CI {escape(low)}–{escape(high)}</span>"


def render_html(report: dict[str, Any]) -> str:
    sc = report["scenario"]
    requests = report["requests"]
    outcome = report["verdict"]
    problem = report["error"] or ("interrupted (Ctrl-C)" if report["interrupted"] else None)
    facts = [
        ("scenario", sc["name"]), ("app", sc["app"].get("label", sc["app"].get("profile"))), ("seed", sc["seed"]),
        ("time scale", f"x{sc['time_scale']:g}"), ("drill length", f"{sc['wall_duration']:.1f}s"),
        ("requests", f"{requests['ok']}/{requests['total']} ok"), ("served from cache", requests["from_cache"]),
        ("writes checked", f"{report['audit']['checked']} ({len(report['audit']['lost'])} lost)"),
    ]
    lag = report.get("harness_lag")
    if lag:
        facts.append(("harness lag", f"max {lag['max_lag'] * 1000:.0f}ms, budget {lag['budget'] * 1000:.0f}ms, "
                                     f"{lag['disturbed_requests']} requests left out"))
    resolver = report.get("resolver")
    if resolver:
        facts.append(("DNS resolver", f"timeout {resolver['timeout']:g}s x {resolver['attempts']} ({resolver['source']})"))
    slo_rows = [[
        f"<td>{escape(r['name'])}</td>",
        f'<td class="{_CELL[r["verdict"]]}">{LABELS[r["verdict"]]}</td>',
        f"<td>{escape(value(r['kind'], r['measured']))}{_interval(r)}</td>",
        f"<td>{escape(r['comparator'])} {escape(value(r['kind'], r['threshold']))}</td>",
        f"<td>{escape(r['detail'])}</td>",
    ] for r in report["slos"]]
    method_rows = [[
        f"<td>{s['index']}</td>",
        f"<td><code>{escape(s['name'])}</code><br><span class='muted'>{escape(s['note'])}</span></td>",
        f"<td>{s['at']:.2f}s – {'end' if s['end'] is None else format(s['end'], '.2f') + 's'}</td>",
        f"<td><code>{escape(json.dumps(s['options'], sort_keys=True))}</code></td>",
    ] for s in report["method"]]
    timeline = [(e["t"], f"{e['kind']}: {e['detail']}") for e in report["events"]]
    timeline += [(n["t"], n["text"]) for n in report["notes"]]
    event_rows = [[f"<td>{t:.2f}s</td>", f"<td>{escape(text)}</td>"] for t, text in sorted(timeline, key=lambda e: e[0])]
    return Template(_asset("report.html")).substitute(
        title=escape(sc["title"]),
        subtitle=escape(sc["description"] or sc["path"]),
        css=_asset("report.css"),
        verdict_class=outcome,
        verdict=escape(_HEADLINE[outcome](report)),
        error=f'<div class="card error">{escape(problem)}</div>' if problem else "",
        facts="".join(f"<div><span>{escape(k)}</span>{escape(str(v))}</div>" for k, v in facts),
        chart=render_chart(report),
        slo_rows=_rows(slo_rows, "no objectives were evaluated", 5),
        method_rows=_rows(method_rows, "no steps", 4),
        event_rows=_rows(event_rows, "no events", 2),
        footer=escape(f"{report['started_at']} – {report['finished_at']} · app {report['app_url']} · "
                      f"{report['schema']}"),
    )


def write_html(report: dict[str, Any], path: Path) -> Path:
    path.write_text(render_html(report), encoding="utf-8")
    return path
