"""Drill reports: JSON (the data), JUnit XML (one test per objective) and a self-contained HTML page."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from harness.errors import ConfigError
from harness.report.data import drill_report
from harness.report.html import render_html, write_html
from harness.report.junit import render_junit, write_junit


def write_json(report: dict[str, Any], path: Path) -> Path:
    path.write_text(json.dumps(report, indent=2, sort_keys=False) + "\n", encoding="utf-8")
    return path


def write_reports(report: dict[str, Any], directory: Path | str) -> dict[str, Path]:
    """Write ``<scenario>.json``, ``<scenario>.junit.xml`` and ``<scenario>.html`` into ``directory``."""
    folder = Path(directory)
    try:
        folder.mkdir(parents=True, exist_ok=True)
        stem = report["scenario"]["name"]
        return {
            "json": write_json(report, folder / f"{stem}.json"),
            "junit": write_junit(report, folder / f"{stem}.junit.xml"),
            "html": write_html(report, folder / f"{stem}.html"),
        }
    except OSError as exc:
        raise ConfigError(f"cannot write reports to {folder}: {exc.strerror or exc}") from None


__all__ = ["drill_report", "render_html", "render_junit", "write_html", "write_json", "write_junit", "write_reports"]
