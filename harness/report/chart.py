"""The timeline chart of a drill as inline SVG (no scripts, no external assets).

Panels share one time axis (drill seconds, with the outage's own clock underneath when the
scenario compresses time): success rate, p99 latency, and a strip showing which region served.
Fault windows are shaded across all panels; failover, recovery and outage marks are vertical lines.
"""

from __future__ import annotations

import math
from html import escape
from typing import Any

from harness.scenario.timeline import DAY, format_duration

WIDTH, LEFT, RIGHT = 1000, 64, 24
TOP = 34  # room for fault labels
PANEL_H, GAP = 150, 34
STRIP_H = 16
FAMILY_COLORS = {"dns": "#f4a261", "health": "#e9c46a", "network": "#8ecae6", "dynamodb": "#e76f51"}
REGION_COLORS = ("#2a9d8f", "#6a4c93", "#e76f51", "#264653", "#f4a261")
EVENT_STYLE = {"failover": ("#2a9d8f", ""), "recovery": ("#1d4ed8", ""), "outage": ("#c1121f", "5,4")}


def _nice_step(span: float, target: int) -> float:
    raw = span / max(1, target)
    magnitude = 10 ** math.floor(math.log10(raw)) if raw > 0 else 1
    for m in (1, 2, 5, 10):
        if raw <= m * magnitude:
            return m * magnitude
    return 10 * magnitude


def _clock_label(t: float, scale: float, clock: float | None) -> str:
    scenario_t = t * scale
    if clock is None:
        return "+" + format_duration(scenario_t) if scenario_t else "+0"
    moment = (clock + scenario_t) % DAY
    return f"{int(moment // 3600):02d}:{int(moment % 3600 // 60):02d}"


def render_chart(report: dict[str, Any]) -> str:
    sc = report["scenario"]
    duration = max(sc["wall_duration"], 1e-6)
    points = report["series"]["points"]
    bucket = report["series"]["bucket"]
    inner = WIDTH - LEFT - RIGHT
    rate_top = TOP
    lat_top = rate_top + PANEL_H + GAP
    strip_top = lat_top + PANEL_H + GAP - 8
    axis_y = strip_top + STRIP_H + 6
    height = axis_y + 44

    def x(t: float) -> float:
        return LEFT + inner * min(max(t, 0.0), duration) / duration

    out: list[str] = [
        f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {WIDTH} {height}" role="img" '
        f'aria-label="Drill timeline" class="chart">',
    ]
    lat_values = [p["p99_ms"] for p in points if p["p99_ms"] is not None]
    lat_max = max(lat_values, default=1.0)
    lat_step = _nice_step(lat_max, 4)
    lat_top_value = max(lat_step, math.ceil(lat_max / lat_step) * lat_step)
    ticks = [(v, f"{v:g}ms") for v in _frange(0, lat_top_value, lat_step)]
    out += _panel_frame(rate_top, "success rate", [(0, "0%"), (0.5, "50%"), (1.0, "100%")], 1.0)
    out += _panel_frame(lat_top, "p99 latency", ticks, lat_top_value)
    # fault windows, labels in lanes so overlapping windows stay readable
    for lane, fault in enumerate(report["faults"]):
        start = x(fault["start"])
        end = x(fault["end"] if fault["end"] is not None else duration)
        color = FAMILY_COLORS.get(fault["name"].split(".")[0], "#adb5bd")
        out.append(f'<rect x="{start:.1f}" y="{TOP - 6}" width="{max(end - start, 1.5):.1f}" '
                   f'height="{axis_y - TOP + 6}" fill="{color}" fill-opacity="0.22" />')
        label = escape(fault.get("label") or fault["name"])
        out.append(f'<text x="{start + 3:.1f}" y="{10 + (lane % 2) * 12}" class="fault-label" fill="#333">'
                   f'<title>{escape(fault["name"])} {fault["start"]:.2f}s-'
                   f'{"end" if fault["end"] is None else format(fault["end"], ".2f") + "s"}</title>{label}</text>')
        out.append(f'<line x1="{start:.1f}" x2="{start:.1f}" y1="{TOP - 6}" y2="{axis_y}" stroke="{color}" />')

    # success-rate and latency lines on top of the shading
    out += _polylines(points, "success_rate", lambda v: rate_top + PANEL_H * (1 - v), x, bucket, "#2a9d8f")
    out += _polylines(points, "p99_ms", lambda v: lat_top + PANEL_H * (1 - v / lat_top_value), x, bucket, "#6a4c93")
    for slo_result in report["slos"]:
        if slo_result["kind"] == "p99_latency" and slo_result["threshold"] * 1000 <= lat_top_value:
            y = lat_top + PANEL_H * (1 - slo_result["threshold"] * 1000 / lat_top_value)
            out.append(f'<line x1="{LEFT}" x2="{LEFT + inner}" y1="{y:.1f}" y2="{y:.1f}" class="threshold" />')
            out.append(f'<text x="{LEFT + inner - 4}" y="{y - 4:.1f}" text-anchor="end" class="small">'
                       f'SLO {slo_result["threshold"] * 1000:g}ms</text>')
        if slo_result["kind"] == "success_rate":
            y = rate_top + PANEL_H * (1 - slo_result["threshold"])
            out.append(f'<line x1="{LEFT}" x2="{LEFT + inner}" y1="{y:.1f}" y2="{y:.1f}" class="threshold" />')

    # region strip
    regions = sorted({p["region"] for p in points if p["region"]})
    colors = {r: REGION_COLORS[i % len(REGION_COLORS)] for i, r in enumerate(regions)}
    out.append(f'<text x="{LEFT - 8}" y="{strip_top + 12}" text-anchor="end" class="axis-label">region</text>')
    out.append(f'<rect x="{LEFT}" y="{strip_top}" width="{inner}" height="{STRIP_H}" fill="#f1f3f5" />')
    for p in points:
        if p["region"]:
            out.append(f'<rect x="{x(p["t"]):.1f}" y="{strip_top}" width="{x(p["t"] + bucket) - x(p["t"]):.2f}" '
                       f'height="{STRIP_H}" fill="{colors[p["region"]]}"><title>{escape(p["region"])}</title></rect>')

    # events
    for event in report["events"]:
        if event["kind"] not in EVENT_STYLE:
            continue
        color, dash = EVENT_STYLE[event["kind"]]
        ex = x(event["t"])
        dash_attr = f' stroke-dasharray="{dash}"' if dash else ""
        out.append(f'<line x1="{ex:.1f}" x2="{ex:.1f}" y1="{TOP}" y2="{strip_top + STRIP_H}" stroke="{color}" '
                   f'stroke-width="2"{dash_attr}><title>{escape(event["kind"])}: {escape(event["detail"])}</title></line>')
        out.append(f'<text x="{ex + 3:.1f}" y="{lat_top - 8}" class="small" fill="{color}">{escape(event["kind"])}</text>')

    # time axis
    step = _nice_step(duration, 10)
    out.append(f'<line x1="{LEFT}" x2="{LEFT + inner}" y1="{axis_y}" y2="{axis_y}" stroke="#495057" />')
    for t in _frange(0, duration, step):
        tx = x(t)
        out.append(f'<line x1="{tx:.1f}" x2="{tx:.1f}" y1="{axis_y}" y2="{axis_y + 4}" stroke="#495057" />')
        out.append(f'<text x="{tx:.1f}" y="{axis_y + 16}" text-anchor="middle" class="small">{t:g}s</text>')
        if sc["time_scale"] != 1:
            out.append(f'<text x="{tx:.1f}" y="{axis_y + 29}" text-anchor="middle" class="small muted">'
                       f'{_clock_label(t, sc["time_scale"], sc.get("clock"))}</text>')
    caption = "drill seconds" + (f"; outage time below (x{sc['time_scale']:g})" if sc["time_scale"] != 1 else "")
    out.append(f'<text x="{LEFT + inner}" y="{height - 2}" text-anchor="end" class="small muted">{caption}</text>')
    legend_x = LEFT
    for region in regions:
        out.append(f'<rect x="{legend_x}" y="{height - 12}" width="10" height="10" fill="{colors[region]}" />')
        out.append(f'<text x="{legend_x + 14}" y="{height - 3}" class="small">{escape(region)}</text>')
        legend_x += 110
    out.append("</svg>")
    return "\n".join(out)


def _frange(start: float, stop: float, step: float) -> list[float]:
    count = int(math.floor((stop - start) / step + 1e-9))
    return [round(start + i * step, 10) for i in range(count + 1)]


def _panel_frame(top: float, title: str, ticks: list[tuple[float, str]], top_value: float) -> list[str]:
    inner = WIDTH - LEFT - RIGHT
    out = [f'<rect x="{LEFT}" y="{top}" width="{inner}" height="{PANEL_H}" class="panel" />',
           f'<text transform="rotate(-90)" x="{-(top + PANEL_H / 2):.1f}" y="14" text-anchor="middle" '
           f'class="axis-label">{escape(title)}</text>']
    for value, label in ticks:
        y = top + PANEL_H * (1 - value / top_value)
        out.append(f'<line x1="{LEFT}" x2="{LEFT + inner}" y1="{y:.1f}" y2="{y:.1f}" class="grid" />')
        out.append(f'<text x="{LEFT - 6}" y="{y + 4:.1f}" text-anchor="end" class="small">{label}</text>')
    return out


def _polylines(points: list[dict[str, Any]], key: str, y, x, bucket: float, color: str) -> list[str]:
    """One polyline per run of buckets that have data (gaps stay gaps)."""
    runs: list[list[str]] = [[]]
    for p in points:
        value = p[key]
        if value is None:
            if runs[-1]:
                runs.append([])
            continue
        runs[-1].append(f"{x(p['t'] + bucket / 2):.1f},{y(value):.1f}")
    return [f'<polyline points="{" ".join(run)}" fill="none" stroke="{color}" stroke-width="2" '
            f'stroke-linejoin="round" />' for run in runs if run]
