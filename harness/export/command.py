"""The ``export`` subcommand of ``chaos-harness`` (registered by ``harness.cli`` in two lines)."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from harness.export import DEFAULT_IMAGE


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("export", help="write what another engine needs to run a scenario (kubernetes)")
    targets = p.add_subparsers(dest="target", required=True, parser_class=type(p))
    k = targets.add_parser("kubernetes", help="harness Deployment/Service, CoreDNS block, Chaos Mesh Workflow")
    k.add_argument("scenario", help="scenario file or built-in name (see 'list')")
    k.add_argument("--namespace", default="default", help="namespace of the harness, the workflow and the app pods")
    k.add_argument("--app-selector", required=True, metavar="LABEL=VALUE[,...]",
                   help="labels of the app pods NetworkChaos acts on, e.g. app=web")
    k.add_argument("--image", default=DEFAULT_IMAGE, help=f"harness image built from the Dockerfile (default {DEFAULT_IMAGE})")
    k.add_argument("--time-scale", type=float, default=1.0,
                   help="scenario seconds per cluster second (default 1: the timeline as written, real time)")
    k.add_argument("--output", "-o", type=Path, metavar="DIR", help="write harness.yaml, workflow.yaml and "
                   "coredns.server here (default: one YAML stream on stdout)")


def run(args: argparse.Namespace) -> int:
    from harness.export.kubernetes import ExportOptions, export, parse_selector
    from harness.scenario import load_scenario

    options = ExportOptions(namespace=args.namespace, app_selector=parse_selector(args.app_selector),
                            image=args.image, time_scale=args.time_scale)
    result = export(load_scenario(args.scenario), options)
    for skipped in result.skipped:
        print(f"chaos-harness: {skipped.line()}", file=sys.stderr)
    if args.output is None:
        sys.stdout.write(result.single_stream())
        return 0
    args.output.mkdir(parents=True, exist_ok=True)
    for name, text in result.files().items():
        (args.output / name).write_text(text, encoding="utf-8")
        print(f"wrote {args.output / name}")
    return 0
