"""``chaos-harness``: drills, CI gates, scenario tools, a manual harness and a sandbox.

Exit codes (the same for every command, so CI can tell them apart):
  0  every objective held (or the command succeeded)
  1  a steady-state objective failed
  2  harness or usage error (one line on stderr: bad scenario, busy port, missing tool)
  130  interrupted (Ctrl-C / SIGTERM); every fault was cleared and every server stopped
"""

from __future__ import annotations

import argparse
import signal
import sys
from collections.abc import Callable, Sequence
from contextlib import AbstractContextManager
from pathlib import Path
from typing import Any

from harness.errors import HarnessError

EXIT_OK, EXIT_SLO_FAILED, EXIT_ERROR, EXIT_INTERRUPTED = 0, 1, 2, 130
DEFAULT_REPORT_DIR = ".chaos-reports"


def open_harness(scenario: Any, *, with_app: bool) -> AbstractContextManager[Any]:
    """The embedded harness shaped by the scenario's ``setup`` and ``app`` (started on enter).

    Needs ``harness.environment.Harness.for_scenario(scenario, with_app=...)`` returning a context
    manager whose value meets ``harness.drill.runner.DrillEnvironment``.
    """
    from harness.environment import Harness

    return Harness.for_scenario(scenario, with_app=with_app)


# -- commands ---------------------------------------------------------------------------------------

def cmd_list(args: argparse.Namespace) -> int:
    from harness.scenario import builtin_scenarios, load_scenario

    for name, path in builtin_scenarios().items():
        scenario = load_scenario(str(path))
        print(f"{name:34} {scenario.wall_duration:6.1f}s  {scenario.title}")
    return EXIT_OK


def cmd_validate(args: argparse.Namespace) -> int:
    from harness.scenario import load_scenario

    sc = load_scenario(args.scenario)
    print(f"{sc.path}: ok - {sc.title}; {len(sc.method)} steps over {sc.wall_duration:.1f}s of drill time "
          f"(time_scale {sc.time_scale:g}), {len(sc.steady_state)} objectives")
    return EXIT_OK


def cmd_drill(args: argparse.Namespace, *, live: bool) -> int:
    from harness.drill import run_drill
    from harness.drill.progress import LineProgress, NullProgress
    from harness.report import write_reports
    from harness.report.fmt import verdict
    from harness.scenario import load_scenario

    scenario = load_scenario(args.scenario).with_overrides(seed=args.seed, app_profile=args.app)
    progress = LineProgress() if live else NullProgress()
    with open_harness(scenario, with_app=args.app_url is None) as env:
        result = run_drill(scenario, env, app_url=args.app_url, progress=progress)
    paths = write_reports(result.to_dict(), args.report_dir)
    for r in result.slos:
        print(f"{'PASS' if r.passed else 'FAIL'}  {r.spec.title}: {verdict(r.to_dict())}")
    print(f"reports: {paths['html']} {paths['junit']} {paths['json']}")
    if result.error:
        print(f"chaos-harness: error: {result.error}", file=sys.stderr)
        return EXIT_ERROR
    return EXIT_OK if result.passed else EXIT_SLO_FAILED


def cmd_up(args: argparse.Namespace) -> int:
    import threading

    from harness.scenario import load_scenario

    scenario = load_scenario(args.scenario)
    with open_harness(scenario, with_app=not args.no_app) as env:
        for key, value in env.describe().items():
            print(f"{key:24} {value}")
        print("harness is up; Ctrl-C stops it", flush=True)
        threading.Event().wait()  # until Ctrl-C
    return EXIT_OK


def cmd_run(args: argparse.Namespace) -> int:
    from harness.sandbox import run_command
    from harness.scenario import load_scenario

    command = args.argv[1:] if args.argv[:1] == ["--"] else list(args.argv)
    if not command:
        raise UsageError("run needs a command after --, e.g. chaos-harness run -- python -m sample_app")
    with open_harness(load_scenario(args.scenario), with_app=False) as env:
        completed = run_command(command, dns_server=env.dns, forwards=list(getattr(env, "forwards", ())))
    return completed.returncode


class UsageError(HarnessError):
    """The command line itself is wrong."""


# -- parsing and dispatch ---------------------------------------------------------------------------

class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> None:  # one line, exit 2 (argparse's own code for usage errors)
        self.exit(EXIT_ERROR, f"{self.prog}: error: {message}\n")


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="chaos-harness", description="Rehearse the 2025 us-east-1 DNS outage and friends.")
    sub = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)

    def drill_options(p: argparse.ArgumentParser) -> None:
        p.add_argument("scenario", help="scenario file or built-in name (see 'list')")
        p.add_argument("--app", choices=("resilient", "naive"), help="sample-app profile (overrides the file)")
        p.add_argument("--app-url", help="drill an app already running at this loopback URL instead")
        p.add_argument("--report-dir", default=DEFAULT_REPORT_DIR, type=Path, help="where reports go")
        p.add_argument("--seed", type=int, help="seed (overrides the file)")

    drill_options(sub.add_parser("drill", help="run a scenario with a live display and write reports"))
    drill_options(sub.add_parser("gate", help="run a scenario for CI: exit 0 pass, 1 SLO failed, 2 error"))
    sub.add_parser("list", help="list built-in scenarios")
    p = sub.add_parser("validate", help="check a scenario file without running it")
    p.add_argument("scenario")
    p = sub.add_parser("up", help="start the harness and print its addresses until Ctrl-C")
    p.add_argument("scenario", nargs="?", default="us-east-1-2025-10-20", help="shapes the harness (setup)")
    p.add_argument("--no-app", action="store_true", help="do not start the sample app")
    p = sub.add_parser("run", help="run a command in a sandbox whose DNS is the harness")
    p.add_argument("--scenario", default="us-east-1-2025-10-20", help="shapes the harness (setup)")
    p.add_argument("argv", nargs=argparse.REMAINDER, metavar="-- COMMAND", help="the command and its arguments")
    return parser


COMMANDS: dict[str, Callable[[argparse.Namespace], int]] = {
    "list": cmd_list,
    "validate": cmd_validate,
    "drill": lambda a: cmd_drill(a, live=True),
    "gate": lambda a: cmd_drill(a, live=False),
    "up": cmd_up,
    "run": cmd_run,
}


def _sigterm_as_interrupt(signum: int, frame: Any) -> None:
    raise KeyboardInterrupt


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    previous = signal.signal(signal.SIGTERM, _sigterm_as_interrupt)  # CI cancellation cleans up too
    try:
        return COMMANDS[args.command](args)
    except HarnessError as exc:
        print(f"chaos-harness: error: {exc}", file=sys.stderr)
        return EXIT_ERROR
    except KeyboardInterrupt:
        print("chaos-harness: interrupted; faults cleared, servers stopped", file=sys.stderr)
        return EXIT_INTERRUPTED
    finally:
        signal.signal(signal.SIGTERM, previous)


if __name__ == "__main__":
    sys.exit(main())
