"""``chaos-harness``: drills, CI gates, scenario tools, a manual harness and a sandbox.

Exit codes (the same for every command, so CI can tell them apart):
  0  PASS: every objective held (or the command succeeded)
  1  FAIL: a steady-state objective failed, with evidence against the app
  2  harness or usage error (one line on stderr: bad scenario, busy port, missing tool)
  3  INCONCLUSIVE: too little evidence to judge, or the harness itself ran over its lag budget
  130  interrupted (Ctrl-C / SIGTERM); every fault was cleared and every server stopped
"""

from __future__ import annotations

import argparse
import contextlib
import os
import signal
import sys
from collections.abc import Callable, Iterator, Sequence
from contextlib import AbstractContextManager
from pathlib import Path
from typing import Any

from harness.control.token import TOKEN_FILE_VARIABLE, TOKEN_VARIABLE
from harness.errors import HarnessError
from harness.export import command as export_command

EXIT_OK, EXIT_SLO_FAILED, EXIT_ERROR, EXIT_INCONCLUSIVE, EXIT_INTERRUPTED = 0, 1, 2, 3, 130
EXIT_FOR_VERDICT = {"pass": EXIT_OK, "fail": EXIT_SLO_FAILED, "inconclusive": EXIT_INCONCLUSIVE, "error": EXIT_ERROR}
DEFAULT_REPORT_DIR = ".chaos-reports"
HARNESS_URL_VARIABLE = "CHAOS_HARNESS_URL"
MOTO_URL_VARIABLE = "CHAOS_MOTO_URL"
DEFAULT_RUN_SCENARIO = "us-east-1-2025-10-20"

#: Environment variables the harness itself reads (the bundled app has its own: see its --help).
ENVIRONMENT: dict[str, str] = {
    HARNESS_URL_VARIABLE: "control URL of a running 'chaos-harness up --control' (inject, clear, status, "
                          "drill/gate --harness-url)",
    "TOXIPROXY_URL": "Toxiproxy API to prefer over the embedded one when it answers (default http://127.0.0.1:8474); "
                     "'up --toxiproxy-url' requires one instead",
    "MOTO_ACCOUNT_ID": "moto account every request uses; the harness then reads that account's tables",
    MOTO_URL_VARIABLE: "moto server the DynamoDB regions use instead of moto in process ('up --moto-url', "
                       "e.g. http://127.0.0.1:5000)",
    TOKEN_VARIABLE: "control API token: 'up' uses it instead of making one; clients send it (else they read "
                    "the token file)",
    TOKEN_FILE_VARIABLE: "control API token file: 'up' writes the token there; clients read it",
}


def open_harness(scenario: Any, *, with_app: bool, **config: Any) -> AbstractContextManager[Any]:
    """The embedded harness shaped by the scenario's ``setup`` and ``app`` (started on enter).

    Needs ``harness.environment.Harness.for_scenario(scenario, with_app=...)`` returning a context
    manager whose value meets ``harness.drill.runner.DrillEnvironment``; ``config`` sets other
    ``HarnessConfig`` fields (addresses and ports for ``up``).
    """
    from harness.environment import Harness

    return Harness.for_scenario(scenario, with_app=with_app, **config)


@contextlib.contextmanager
def open_remote_harness(url: str) -> Iterator[Any]:
    """A harness already running elsewhere (``up --control``), reset to a clean state for the drill."""
    from harness.control import RemoteHarness

    with RemoteHarness(url) as env:
        env.reset()
        yield env


@contextlib.contextmanager
def _drill_environment(args: argparse.Namespace, scenario: Any) -> Iterator[Any]:
    """The embedded harness, or the remote one; a remote harness's own app is reached through its DNS."""
    if not args.harness_url:
        with open_harness(scenario, with_app=args.app_url is None) as env:
            yield env
        return
    with open_remote_harness(args.harness_url) as env:
        if args.app_url is None and env.app is not None and env.dns_address is not None:
            from harness.resolver import use_harness_dns

            with use_harness_dns(env.dns_address, env.zones):
                yield env
        else:
            yield env


# -- commands ---------------------------------------------------------------------------------------

def cmd_list(args: argparse.Namespace) -> int:
    from harness.scenario import builtin_scenarios, load_scenario
    from harness.scenario.actions import ACTIONS, action_names

    from faults.catalog import describe_faults

    print("scenarios:")
    for name, path in builtin_scenarios().items():
        scenario = load_scenario(str(path))
        print(f"{name:34} {scenario.wall_duration:6.1f}s  {scenario.title}")
    print("\nfaults (option (unit)  meaning [default]):")
    for line in describe_faults():
        print(line)
    print("\nactions (scenario steps besides faults):")
    for name in action_names():
        print(f"{name:28} {ACTIONS[name].summary}")
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
    from harness.report import drill_report, write_reports
    from harness.report.fmt import LABELS, verdict
    from harness.scenario import load_scenario

    scenario = load_scenario(args.scenario, app_file=args.app_file)
    scenario = scenario.with_overrides(seed=args.seed, app_profile=args.app, app=app_overrides(args, scenario))
    if args.harness_url and scenario.app.process is not None and not args.app_url:
        raise UsageError("an app the harness starts (app.command) runs in the embedded harness only; with "
                         "--harness-url start it with 'chaos-harness run --harness-url URL --publish PORT -- CMD' "
                         "and give --app-url http://127.0.0.1:PORT")
    earlier: list[str] = []  # the verdicts of the inconclusive runs before the one reported
    for run in range(1, args.repeat + 1):
        progress = LineProgress() if live else NullProgress()
        with _drill_environment(args, scenario) as env:
            result = run_drill(scenario, env, app_url=args.app_url, progress=progress)
        if result.verdict != "inconclusive" or run == args.repeat:
            break
        earlier.append(result.reason)
        print(f"INCONCLUSIVE (run {run} of at most {args.repeat}, running again): {result.reason}")
    report = drill_report(result)
    report["runs"] = {"count": len(earlier) + 1, "limit": args.repeat, "inconclusive_before": earlier}
    paths = write_reports(report, args.report_dir)
    for r in result.slos:
        print(f"{LABELS[r.verdict]:<12} {r.spec.title}: {verdict(r.to_dict())}")
    print(f"reports: {paths['html']} {paths['junit']} {paths['json']}")
    if result.error:
        print(f"chaos-harness: error: {result.error}", file=sys.stderr)
        return EXIT_ERROR
    runs = f" (run {len(earlier) + 1} of at most {args.repeat})" if args.repeat > 1 else ""
    print(f"verdict: {LABELS[result.verdict]}{runs}: {result.reason}")
    return EXIT_FOR_VERDICT[result.verdict]


def app_overrides(args: argparse.Namespace, scenario: Any) -> Any:
    """The scenario's app with ``--app-command/--app-cwd/--app-port/--app-replicas/--app-env`` applied."""
    import dataclasses
    import shlex

    from harness.scenario.appspec import ProcessSpec

    given = {"command": tuple(shlex.split(args.app_command)) if args.app_command else None,
             "cwd": str(Path(args.app_cwd).resolve()) if args.app_cwd else None,
             "port": args.app_port, "replicas": args.app_replicas}
    given = {k: v for k, v in given.items() if v is not None}
    env = dict(pair.partition("=")[::2] for pair in args.app_env)
    if not given and not env:
        return scenario.app
    if args.app_replicas is not None and not 1 <= args.app_replicas <= 16:
        raise UsageError(f"--app-replicas must be 1 to 16, got {args.app_replicas}")
    if args.app_port is not None and not 1 <= args.app_port <= 65535:
        raise UsageError(f"--app-port must be 1 to 65535, got {args.app_port}")
    if any("=" not in pair or pair.startswith("=") for pair in args.app_env):
        raise UsageError(f"--app-env takes NAME=VALUE, got {[p for p in args.app_env if '=' not in p][0]!r}")
    process = scenario.app.process
    if process is None:
        if "command" not in given or "port" not in given:
            raise UsageError("--app-command and --app-port start an app the scenario does not describe; give both "
                             "(or an --app-file)")
        if scenario.traffic is None:
            raise UsageError("an app given by --app-command needs traffic: describe it in an --app-file "
                             "('traffic' and 'writes' sections; see docs/ci-gate.md)")
        process = ProcessSpec(command=given["command"], port=given["port"])
    if args.app_cwd and not Path(args.app_cwd).is_dir():
        raise UsageError(f"--app-cwd: no such directory: {args.app_cwd}")
    process = dataclasses.replace(process, **given, env={**process.env, **env})
    return dataclasses.replace(scenario.app, process=process, url=None)


def cmd_up(args: argparse.Namespace) -> int:
    import time

    from harness.control import ControlServer
    from harness.loopback import is_loopback, require_loopback
    from harness.scenario import load_scenario

    dns_exposed = args.bind is not None and not is_loopback(args.bind)  # --bind is the DNS address only
    control = _host_port(args.control, "--control") if args.control else None
    if control is not None:  # refuse before starting anything
        require_loopback(control[0], allow_non_loopback=args.expose_control,
                         what="control API (give --expose-control to expose it)")
    scenario = load_scenario(args.scenario)
    config = {"dns_host": args.bind, "dns_port": args.dns_port, "dynamodb_port": args.dynamodb_port,
              "toxiproxy_url": args.toxiproxy_url, "allow_non_loopback": dns_exposed,
              "moto_url": args.moto_url or None}
    with contextlib.ExitStack() as stack:
        env = stack.enter_context(open_harness(scenario, with_app=not args.no_app, **config))
        for key, value in env.describe().items():
            print(f"{key:24} {value}")
        if control is not None:
            server = stack.enter_context(ControlServer(
                env, *control, allow_non_loopback=args.expose_control, token=args.token or None,
                token_file=Path(args.token_file) if args.token_file else None, loop=getattr(env, "loop", None)))
            print(f"{'control':24} {server.url} (export {HARNESS_URL_VARIABLE}={server.url})")
            print(f"{'control token file':24} {server.token_file} (mode 0600; clients on this machine read it, "
                  f"or export {TOKEN_VARIABLE}=$(cat {server.token_file}))")
            if not is_loopback(server.host):
                print(f"chaos-harness: warning: the control API listens on {server.host}:{server.port}, beyond "
                      "loopback; anyone who can reach it and has the token can inject faults", file=sys.stderr)
        print("harness is up; Ctrl-C stops it", flush=True)
        while True:  # until Ctrl-C / SIGTERM. Short sleeps, not one endless wait: the kernel may hand
            time.sleep(0.5)  # the signal to another thread, and then only a wake-up lets Python act on it


def _positive_int(text: str) -> int:
    """argparse type for counts such as ``--repeat``: a whole number of at least 1."""
    try:
        number = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a whole number, got {text!r}") from None
    if number < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, got {number}")
    return number


def _host_port(text: str, option: str) -> tuple[str, int]:
    host, sep, port = text.rpartition(":")
    if not sep or not host or not port.isdigit() or int(port) > 65535:
        raise UsageError(f"{option} must be HOST:PORT (e.g. 127.0.0.1:8470), got {text!r}")
    return host.strip("[]"), int(port)


def _remote(args: argparse.Namespace) -> Any:
    from harness.control import RemoteHarness

    url = args.harness_url or os.environ.get(HARNESS_URL_VARIABLE)
    if not url:
        raise UsageError(f"no harness to talk to: give --harness-url URL or set {HARNESS_URL_VARIABLE} "
                         "(the 'control' line printed by 'chaos-harness up --control HOST:PORT')")
    return RemoteHarness(url)


def _option_value(text: str) -> Any:
    """A CLI option value as YAML would read it (numbers, true/false, [lists]); else the text itself."""
    import yaml

    try:
        value = yaml.safe_load(text)
    except yaml.YAMLError:
        return text
    return text if value is None or isinstance(value, dict) else value


def _options(pairs: Sequence[str]) -> dict[str, Any]:
    options = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key:
            raise UsageError(f"fault options are key=value, got {pair!r}")
        options[key] = _option_value(value)
    return options


def _fault_line(fault: dict[str, Any]) -> str:
    options = " ".join(f"{k}={v}" for k, v in fault["options"].items())
    return f"#{fault['id']} {fault['fault']} {options}".rstrip()


def cmd_inject(args: argparse.Namespace) -> int:
    handle = _remote(args).chaos.inject(args.fault, _options(args.options))
    print(f"injected {_fault_line({'id': handle.id, 'fault': handle.name, 'options': handle.options})}")
    return EXIT_OK


def cmd_clear(args: argparse.Namespace) -> int:
    remote = _remote(args)
    if args.id is None:
        remote.chaos.clear_all()
        print("cleared every fault")
    else:
        remote.chaos.clear(args.id)
        print(f"cleared #{args.id}")
    return EXIT_OK


def cmd_status(args: argparse.Namespace) -> int:
    state = _remote(args).state()
    for key, value in state["describe"].items():
        print(f"{key:24} {value}")
    faults = state["faults"]
    print(f"{'faults':24} {len(faults)} active")
    for fault in faults:
        print(f"  {_fault_line(fault)}")
    return EXIT_OK


def cmd_create_tables(args: argparse.Namespace) -> int:
    """Create an app's tables in a running harness, from a scenario (or app file) with ``app.tables``."""
    import yaml

    from harness.scenario.app_reader import read_tables
    from harness.scenario.loader import Node

    try:
        root = yaml.compose(Path(args.file).read_text(encoding="utf-8"), Loader=yaml.SafeLoader)
    except (OSError, UnicodeDecodeError, yaml.YAMLError) as exc:
        raise UsageError(f"{args.file}: cannot read: {exc}") from None
    if root is None or not isinstance(root, yaml.MappingNode):
        raise UsageError(f"{args.file}: expected a scenario or app file with app.tables")
    app = Node(root, "", args.file).mapping().get("app")
    tables = app.mapping().get("tables") if app is not None and isinstance(app.node, yaml.MappingNode) else None
    if tables is None:
        raise UsageError(f"{args.file}: no app.tables to create")
    created = _remote(args).create_tables(list(read_tables(tables)))
    print(f"created {', '.join(created)}" if created else "every table already exists")
    return EXIT_OK


def cmd_run(args: argparse.Namespace) -> int:
    from harness.sandboxed_run import run_in_harness
    from harness.scenario import load_scenario

    command = args.argv[1:] if args.argv[:1] == ["--"] else list(args.argv)
    if not command:
        raise UsageError("run needs a command after --, e.g. chaos-harness run -- node server.js")
    publish = [_publish(text) for text in args.publish]
    scenario = load_scenario(args.scenario or DEFAULT_RUN_SCENARIO)
    method = scenario if args.scenario else None  # the default scenario only shapes the harness
    url = args.harness_url or os.environ.get(HARNESS_URL_VARIABLE)
    if url:
        from harness.control import RemoteHarness

        opened: AbstractContextManager[Any] = RemoteHarness(url)  # no reset: faults from other shells stay
    else:  # the default scenario shapes the harness only: no tables nobody asked for
        opened = open_harness(scenario, with_app=False, **({} if args.scenario else {"tables": ()}))
    with opened as env:
        return run_in_harness(env, command, scenario=method, tables=scenario.app.tables, publish=publish)


def _publish(text: str) -> tuple[str, int]:
    """``--publish PORT`` or ``HOST:PORT`` (loopback) -> (host, port)."""
    if text.isdigit():
        text = f"127.0.0.1:{text}"
    return _host_port(text, "--publish")


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
        p.add_argument("--app-file", metavar="FILE", help="YAML with 'app', 'traffic' and 'writes' sections that "
                       "replace the scenario's (drill your own app with a built-in scenario)")
        p.add_argument("--app-command", metavar="CMD", help="start this command as the app, in the harness's "
                       "sandbox (split like a shell; overrides app.command)")
        p.add_argument("--app-cwd", metavar="DIR", help="the app's working directory (overrides app.cwd)")
        p.add_argument("--app-port", type=int, metavar="PORT", help="port the app listens on inside the sandbox")
        p.add_argument("--app-replicas", type=int, metavar="N", help="how many app processes (overrides app.replicas)")
        p.add_argument("--app-env", action="append", default=[], metavar="NAME=VALUE",
                       help="an environment variable for the app (repeatable; adds to app.env)")
        p.add_argument("--report-dir", default=DEFAULT_REPORT_DIR, type=Path, help="where reports go")
        p.add_argument("--seed", type=int, help="seed (overrides the file)")
        p.add_argument("--harness-url", metavar="URL",
                       help="drill the harness at this control URL ('up --control') instead of starting one")
        p.add_argument("--repeat", type=_positive_int, default=1, metavar="N",
                       help="run an INCONCLUSIVE drill again, up to N runs in all; the report says how many it took")

    def harness_url_option(p: argparse.ArgumentParser) -> None:
        p.add_argument("--harness-url", metavar="URL",
                       help=f"control URL of a running 'up --control' (default ${HARNESS_URL_VARIABLE})")

    drill_options(sub.add_parser("drill", help="run a scenario with a live display and write reports"))
    drill_options(sub.add_parser("gate", help="run a scenario for CI: exit 0 pass, 1 fail, 2 error, 3 inconclusive"))
    sub.add_parser("list", help="list built-in scenarios, every fault with its options' units and meanings, and the actions")
    p = sub.add_parser("validate", help="check a scenario file without running it")
    p.add_argument("scenario")
    p = sub.add_parser("up", help="start the harness and print its addresses until Ctrl-C")
    p.add_argument("scenario", nargs="?", default="us-east-1-2025-10-20", help="shapes the harness (setup)")
    p.add_argument("--no-app", action="store_true", help="do not start the sample app")
    p.add_argument("--control", metavar="HOST:PORT", help="serve the control API here (port 0: a free one)")
    p.add_argument("--bind", metavar="HOST", help="address the DNS server listens on; a non-loopback one "
                   "such as 0.0.0.0 is allowed here (containers)")
    p.add_argument("--expose-control", action="store_true", help="allow a non-loopback --control address "
                   "such as 0.0.0.0 (prints a warning; the token is still required)")
    p.add_argument("--token", metavar="TOKEN", default=os.environ.get(TOKEN_VARIABLE),
                   help=f"control API token (default ${TOKEN_VARIABLE}; unset: a new random one)")
    p.add_argument("--token-file", metavar="PATH", default=os.environ.get(TOKEN_FILE_VARIABLE),
                   help=f"write the control API token here, mode 0600 (default ${TOKEN_FILE_VARIABLE}, "
                        "else a per-port file under $XDG_RUNTIME_DIR/chaos-harness or ~/.cache/chaos-harness)")
    p.add_argument("--dns-port", type=int, default=0, metavar="PORT", help="DNS server port (default: a free one)")
    p.add_argument("--dynamodb-port", type=int, default=0, metavar="PORT",
                   help="port of every DynamoDB endpoint node (default: a free one)")
    p.add_argument("--toxiproxy-url", metavar="URL", help="use the Toxiproxy at URL (it must answer)")
    p.add_argument("--moto-url", metavar="URL", default=os.environ.get(MOTO_URL_VARIABLE),
                   help=f"use the moto server at URL (it must answer), e.g. http://127.0.0.1:5000 "
                        f"(default ${MOTO_URL_VARIABLE}; unset: moto in process)")
    p = sub.add_parser("inject", help="inject a fault into a running harness: inject FAULT key=value ...")
    p.add_argument("fault", help="fault name, e.g. dns.empty_answer")
    p.add_argument("options", nargs="*", metavar="key=value", help="fault options (values read as YAML)")
    harness_url_option(p)
    p = sub.add_parser("clear", help="clear one fault (by id) or every fault in a running harness")
    p.add_argument("id", nargs="?", type=int, help="fault id printed by 'inject' (default: all)")
    harness_url_option(p)
    p = sub.add_parser("status", help="show a running harness's addresses and active faults")
    harness_url_option(p)
    p = sub.add_parser("create-tables", help="create app.tables of a scenario or app file in a running harness")
    p.add_argument("file", help="scenario or app file whose app.tables lists CreateTable requests")
    harness_url_option(p)
    p = sub.add_parser("run", help="run a command in a sandbox whose DNS is the harness")
    p.add_argument("--scenario", help="run this scenario's whole method while the command runs, and create its "
                   f"app tables (default: no faults; the harness is shaped like {DEFAULT_RUN_SCENARIO})")
    p.add_argument("--publish", action="append", default=[], metavar="[HOST:]PORT",
                   help="serve PORT on this machine (127.0.0.1 unless HOST), relayed to the same port inside "
                        "the sandbox, so curl or a drill reaches a server the command runs (repeatable)")
    harness_url_option(p)
    p.add_argument("argv", nargs=argparse.REMAINDER, metavar="-- COMMAND", help="the command and its arguments")
    export_command.add_parser(sub)
    return parser


COMMANDS: dict[str, Callable[[argparse.Namespace], int]] = {
    "list": cmd_list,
    "validate": cmd_validate,
    "drill": lambda a: cmd_drill(a, live=True),
    "gate": lambda a: cmd_drill(a, live=False),
    "up": cmd_up,
    "run": cmd_run,
    "inject": cmd_inject,
    "clear": cmd_clear,
    "status": cmd_status,
    "create-tables": cmd_create_tables,
    "export": lambda a: export_command.run(a),
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
