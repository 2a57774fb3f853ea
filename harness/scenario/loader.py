"""Reading scenario YAML into a validated ``Scenario``, or a one-line error naming file:line: field.

The file is composed (not just loaded) with PyYAML so every value keeps the line it came from;
validation walks those nodes and reports the first problem as
``ScenarioError("drill.yaml:12: method[2].fault: unknown fault 'dns.foo'; known faults: ...")``.
Faults are built with ``faults.create_fault`` here, at load time, so a typo in a fault option
fails before any server starts, and impossible timelines (negative times, steps past the end of
the load, the same fault overlapping itself) are rejected the same way.

Scenario files are written by hand and shared, so reading one is bounded (``_BoundedLoader``):
few YAML aliases, a bounded size once aliases are expanded (a 758-byte "billion laughs" file once
took 99 s and 2.5 GB), bounded nesting; and values in messages are shown cut short (``shown``).
"""

from __future__ import annotations

import dataclasses
import math
import re
from collections.abc import Callable
from importlib import resources
from pathlib import Path
from typing import Any, TypeVar

import yaml
from yaml.constructor import ConstructorError, SafeConstructor

from harness.errors import FaultOptionError, HarnessError, UnknownFaultError, shown
from harness.scenario.actions import ACTIONS, action_names
from harness.scenario.app_reader import APP_FIELDS, read_process, read_tables, read_traffic, read_url, read_writes
from harness.scenario.session_traffic import REGION_HEADER, session_traffic
from harness.scenario.model import (
    APP_PROFILES,
    OPERATIONS,
    SLO_KINDS,
    AppSpec,
    LoadProfile,
    Scenario,
    ScenarioError,
    SetupSpec,
    SLOSpec,
    Step,
)
from harness.scenario.timeline import (
    TimeFormatError,
    format_duration,
    parse_clock,
    parse_clock_range,
    parse_duration,
)

T = TypeVar("T")

APP_SECTIONS = ("app", "traffic", "writes")
MAX_WALL_SECONDS = 3600.0  # a drill is a rehearsal, not a soak test; raise time_scale instead
MAX_REQUESTS = 200_000
MAX_WORKERS = 64
MAX_ALIASES = 100  # uses of *alias in one file
MAX_EXPANDED_NODES = 20_000  # YAML nodes once every alias is expanded (built-ins have a few hundred)
MAX_DEPTH = 50  # nesting of mappings and lists
# Options that identify "the same fault on the same target" when checking overlaps.
_NON_IDENTITY_OPTIONS = ("seed", "probability", "duration")


class Node:
    """A YAML node with its location, so every validation error can say file:line: field."""

    def __init__(self, node: yaml.Node, path: str, file: str) -> None:
        self.node = node
        self.path = path
        self.file = file

    @property
    def line(self) -> int:
        return self.node.start_mark.line + 1

    def error(self, message: str) -> ScenarioError:
        return ScenarioError(f"{self.file}:{self.line}: {self.path or 'scenario'}: {message}")

    @property
    def value(self) -> Any:
        try:
            return SafeConstructor().construct_object(self.node, deep=True)
        except ConstructorError as exc:
            raise self.error(str(exc.problem)) from None
        except (ValueError, OverflowError) as exc:  # int() of a 5,000-digit number, say
            raise self.error(f"cannot read value: {' '.join(str(exc).split())[:100]}") from None

    def _child_path(self, key: str | int) -> str:
        if isinstance(key, int):
            return f"{self.path}[{key}]"
        return f"{self.path}.{key}" if self.path else key

    def mapping(self, known: tuple[str, ...] | None = None) -> dict[str, "Node"]:
        if not isinstance(self.node, yaml.MappingNode):
            raise self.error(f"expected a mapping of fields, got {_kind(self.node)}")
        out: dict[str, Node] = {}
        for key_node, value_node in self.node.value:
            key = Node(key_node, self.path, self.file).value
            if not isinstance(key, str):
                raise Node(key_node, self.path, self.file).error(f"field names must be text, got {shown(key)}")
            child = Node(value_node, self._child_path(key), self.file)
            if key in out:
                raise child.error("given twice")
            if known is not None and key not in known:
                raise Node(key_node, child.path, self.file).error(f"unknown field; known fields: {', '.join(known)}")
            out[key] = child
        return out

    def sequence(self) -> list["Node"]:
        if not isinstance(self.node, yaml.SequenceNode):
            raise self.error(f"expected a list, got {_kind(self.node)}")
        return [Node(item, self._child_path(i), self.file) for i, item in enumerate(self.node.value)]

    # -- typed readers -------------------------------------------------------------------------
    def text(self) -> str:
        value = self.value
        if not isinstance(value, str) or not value.strip():
            raise self.error(f"expected text, got {shown(value)}")
        return value.strip()

    def integer(self, minimum: int | None = None, maximum: int | None = None) -> int:
        value = self.value
        if isinstance(value, bool) or not isinstance(value, int):
            raise self.error(f"expected a whole number, got {shown(value)}")
        self._check_range(value, minimum, maximum)
        return value

    def number(self, minimum: float | None = None, maximum: float | None = None, *, exclusive: bool = False) -> float:
        value = self.value
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not _finite(value):
            raise self.error(f"expected a number, got {shown(value)}")
        if exclusive and minimum is not None and value <= minimum:
            raise self.error(f"must be more than {minimum:g}, got {shown(value)}")
        self._check_range(value, minimum, maximum)
        return float(value)

    def duration(self, *, positive: bool = False) -> float:
        try:
            seconds = parse_duration(self.value)
        except TimeFormatError as exc:
            raise self.error(str(exc)) from None
        if positive and seconds <= 0:
            raise self.error(f"must be longer than zero, got {shown(self.value)}")
        return seconds

    def fraction(self) -> float:
        """``95%``, ``99.5 %`` or ``0.95`` -> 0.95."""
        value = self.value
        if isinstance(value, str) and value.strip().endswith("%"):
            try:
                number = float(value.strip()[:-1]) / 100
            except ValueError:
                raise self.error(f"expected a percentage like 99.5%, got {shown(value)}") from None
        elif isinstance(value, (int, float)) and not isinstance(value, bool) and 0 <= value <= 1:
            number = float(value)
        else:
            raise self.error(f"expected a percentage like 99.5% or a fraction like 0.995, got {shown(value)}")
        if not 0 <= number <= 1:
            raise self.error(f"a percentage must be between 0% and 100%, got {shown(value)}")
        return number

    def _check_range(self, value: float, minimum: float | None, maximum: float | None) -> None:
        if minimum is not None and value < minimum:
            raise self.error(f"must be at least {minimum:g}, got {shown(value)}")
        if maximum is not None and value > maximum:
            raise self.error(f"must be at most {maximum:g}, got {shown(value)}")


def _finite(value: float) -> bool:
    """Finite and within a float's range (``math.isfinite(10**400)`` raises instead)."""
    try:
        return math.isfinite(value)
    except OverflowError:
        return False


def _kind(node: yaml.Node) -> str:
    if isinstance(node, yaml.MappingNode):
        return "a mapping"
    if isinstance(node, yaml.SequenceNode):
        return "a list"
    return shown(node.value)


def _opt(fields: dict[str, Node], key: str, read: Callable[[Node], T], default: T) -> T:
    return read(fields[key]) if key in fields else default


def _resolver_timeout(node: Node) -> float:
    """A resolver timeout in wall seconds, within glibc's limit (``RES_MAXRETRANS``)."""
    from harness.resolver.options import MAX_TIMEOUT

    seconds = node.duration(positive=True)
    if seconds > MAX_TIMEOUT:
        raise node.error(f"glibc waits at most {MAX_TIMEOUT:g}s per attempt, got {node.value!r}")
    return seconds


# -- built-in library ------------------------------------------------------------------------------

def builtin_dir() -> Path:
    return Path(str(resources.files("harness") / "scenarios"))


def builtin_scenarios() -> dict[str, Path]:
    """Built-in scenario names (file stems) -> paths, sorted by name."""
    return {p.stem: p for p in sorted(builtin_dir().glob("*.yaml"))}


def resolve_scenario(name_or_path: str) -> Path:
    """A scenario file path from a path or a built-in name."""
    path = Path(name_or_path)
    if path.is_file():
        return path
    builtins = builtin_scenarios()
    if name_or_path in builtins:
        return builtins[name_or_path]
    raise ScenarioError(
        f"no scenario file or built-in scenario named {name_or_path!r}; built-ins: {', '.join(builtins)}"
    )


def _read(path: Path, what: str) -> str:
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise ScenarioError(f"{path}: cannot read {what}: {exc.strerror or exc}") from None
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = data[:exc.start].count(b"\n") + 1
        raise ScenarioError(f"{path}:{line}: not UTF-8 text: byte {data[exc.start]:#04x} cannot be decoded") from None


def load_scenario(name_or_path: str, *, app_file: str | None = None) -> Scenario:
    """A scenario by path or built-in name; ``app_file`` (``app``/``traffic``/``writes`` sections in
    a YAML file of their own) replaces the scenario's app, so a built-in scenario drills any app."""
    path = resolve_scenario(name_or_path)
    sections = None
    if app_file is not None:
        app_root = _compose(_read(Path(app_file), "app file"), app_file)
        sections = app_root.mapping(APP_SECTIONS)
        if "app" not in sections:
            raise app_root.error("an app file needs an 'app' section (and 'traffic', and usually 'writes')")
    return parse_scenario(_read(path, "scenario file"), str(path), name=path.stem, sections=sections)


class _LimitExceeded(yaml.MarkedYAMLError):
    """A bound of ``_BoundedLoader``; reported like any YAML error, with its line."""


class _BoundedLoader(yaml.SafeLoader):
    """``SafeLoader`` whose composer refuses alias bombs and deep nesting before anything expands."""

    def __init__(self, stream: str) -> None:
        super().__init__(stream)
        self._aliases = 0
        self._depth = 0
        self._sizes: dict[int, int] = {}  # id(node) -> nodes under it with aliases expanded

    def compose_node(self, parent: yaml.Node | None, index: Any) -> yaml.Node:
        mark = self.peek_event().start_mark
        if self.check_event(yaml.AliasEvent):
            self._aliases += 1
            if self._aliases > MAX_ALIASES:
                raise _LimitExceeded(problem=f"more than {MAX_ALIASES} YAML aliases (*name)", problem_mark=mark)
        self._depth += 1
        if self._depth > MAX_DEPTH:
            raise _LimitExceeded(problem=f"nested more than {MAX_DEPTH} levels deep", problem_mark=mark)
        try:
            node = super().compose_node(parent, index)
        finally:
            self._depth -= 1
        if id(node) not in self._sizes:
            self._sizes[id(node)] = 1 + sum(self._sizes.get(id(child), 1) for child in _children(node))
        if self._sizes[id(node)] > MAX_EXPANDED_NODES:
            raise _LimitExceeded(problem=f"more than {MAX_EXPANDED_NODES} values once aliases are expanded",
                                 problem_mark=mark)
        return node


def _children(node: yaml.Node) -> list[yaml.Node]:
    if isinstance(node, yaml.SequenceNode):
        return node.value
    if isinstance(node, yaml.MappingNode):
        return [part for pair in node.value for part in pair]
    return []


def _compose(text: str, file: str) -> Node:
    try:
        root = yaml.compose(text, Loader=_BoundedLoader)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line = f"{mark.line + 1}:" if mark else ""
        raise ScenarioError(f"{file}:{line} invalid YAML: {exc.problem or exc.context}") from None
    except yaml.YAMLError as exc:
        raise ScenarioError(f"{file}: invalid YAML: {exc}") from None
    if root is None:
        raise ScenarioError(f"{file}:1: scenario: the file is empty")
    return Node(root, "", file)


def parse_scenario(text: str, file: str = "scenario.yaml", *, name: str | None = None,
                   sections: dict[str, Node] | None = None) -> Scenario:
    """Validate scenario YAML text; ``file`` is used in error messages."""
    return _Reader(_compose(text, file), name or Path(file).stem, sections).scenario()


class _Reader:
    TOP = ("title", "description", "seed", "time_scale", "clock", "app", "setup", "steady_state", "load",
           "traffic", "writes", "method", "rollbacks")

    def __init__(self, root: Node, name: str, sections: dict[str, Node] | None = None) -> None:
        self.root = root
        self.name = name
        self.sections = sections or {}
        self.clock: float | None = None

    def scenario(self) -> Scenario:
        f = self.root.mapping(self.TOP)
        if self.sections:  # an app file's app/traffic/writes replace the scenario's own
            for key in APP_SECTIONS:
                f.pop(key, None)
            f.update(self.sections)
        for required in ("title", "load", "method", "steady_state"):
            if required not in f:
                raise self.root.error(f"missing required field {required!r}")
        time_scale = _opt(f, "time_scale", lambda n: n.number(0, exclusive=True), 1.0)
        if "clock" in f:
            self.clock = self._clock(f["clock"])
        load = self.load(f["load"])
        wall = load.duration / time_scale
        if wall > MAX_WALL_SECONDS:
            raise f["load"].error(
                f"the load would run {format_duration(wall)} of wall time (duration {format_duration(load.duration)}"
                f" / time_scale {time_scale:g}); at most {format_duration(MAX_WALL_SECONDS)} — raise time_scale"
            )
        if load.rps * wall > MAX_REQUESTS:
            raise f["load"].error(f"{load.rps * wall:.0f} requests is more than the bound of {MAX_REQUESTS}")
        method = tuple(self.step(n, i, load.duration, faults_allowed=True) for i, n in enumerate(f["method"].sequence()))
        self.check_overlaps(method, load.duration)
        rollbacks = tuple(
            self.step(n, i, load.duration, faults_allowed=False) for i, n in enumerate(f["rollbacks"].sequence())
        ) if "rollbacks" in f else ()
        steady = tuple(self.slo(n) for n in f["steady_state"].sequence())
        if not steady:
            raise f["steady_state"].error("list at least one objective; known objectives: " + ", ".join(SLO_KINDS))
        traffic = read_traffic(f["traffic"]) if "traffic" in f else None
        if traffic is not None:
            shorthand = [k for k in ("mix", "users") if k in f["load"].mapping()]
            if shorthand:
                raise f["load"].mapping()[shorthand[0]].error(
                    "load.mix and load.users are the sample app's traffic in short; with a 'traffic' section "
                    "give weights on its requests and traffic.users")
        writes = read_writes(f["writes"], traffic) if "writes" in f else None
        app = _opt(f, "app", self.app, AppSpec())
        if app.process is not None or app.url is not None:
            if traffic is None:
                raise f.get("app", self.root).error("an app given by 'command' or 'url' needs a 'traffic' section "
                                                    "(the requests its users send)")
        elif traffic is None:  # the sample app, described by load.mix: the same traffic as data
            traffic, writes = session_traffic(load.mix, load.users)
            app = app if app.region_header else dataclasses.replace(app, region_header=REGION_HEADER)
        return Scenario(
            name=self.name,
            title=f["title"].text(),
            description=_opt(f, "description", Node.text, ""),
            seed=_opt(f, "seed", lambda n: n.integer(0), 0),
            time_scale=time_scale,
            clock=self.clock,
            app=app,
            traffic=traffic,
            writes=writes,
            setup=_opt(f, "setup", self.setup, SetupSpec()),
            steady_state=steady,
            load=load,
            method=method,
            rollbacks=rollbacks,
            path=self.root.file,
        )

    @staticmethod
    def _clock(node: Node) -> float:
        try:
            return parse_clock(node.value)
        except TimeFormatError as exc:
            raise node.error(str(exc)) from None

    # -- app and setup ------------------------------------------------------------------------
    def app(self, node: Node) -> AppSpec:
        if isinstance(node.node, yaml.ScalarNode):
            fields = {"profile": node}
        else:
            fields = node.mapping()
        own = {k: fields.pop(k) for k in APP_FIELDS if k in fields}
        tables = read_tables(own["tables"]) if "tables" in own else ()
        header = own["region_header"].text() if "region_header" in own else None
        process, url = read_process(own, node.file), read_url(own)
        if process is not None or url is not None:
            if fields:
                key = next(iter(fields))
                raise fields[key].error("sample-app settings do not apply to an app given by 'command' or 'url'")
            return AppSpec(process=process, url=url, tables=tables, region_header=header)
        profile = fields.pop("profile", None)
        name = profile.text() if profile else "resilient"
        if name not in APP_PROFILES:
            raise (profile or node).error(f"unknown app profile {shown(name)}; known profiles: {', '.join(APP_PROFILES)}")
        known = _app_config_fields()
        for key, child in fields.items():
            if known is not None and key not in known:
                raise child.error(f"unknown app setting; known settings: profile, {', '.join(sorted(known))}")
        return AppSpec(name, {k: v.value for k, v in fields.items()}, tables=tables, region_header=header)

    def setup(self, node: Node) -> SetupSpec:
        f = node.mapping(("regions", "nodes", "app_replicas", "dns_cache", "replication_lag", "connection_max_age",
                                 "resolver"))
        regions = SetupSpec.regions
        if "regions" in f:
            regions = tuple(n.text() for n in f["regions"].sequence())
            if not regions:
                raise f["regions"].error("list at least one region")
            if len(set(regions)) != len(regions):
                raise f["regions"].error("a region is listed twice")
            for n, region in zip(f["regions"].sequence(), regions):
                if not re.fullmatch(r"[a-z]{2}(-[a-z]+)+-\d", region):
                    raise n.error(f"{shown(region)} does not look like an AWS region name (e.g. us-east-1)")
        cache = f["dns_cache"].mapping(("max_ttl", "negative_ttl")) if "dns_cache" in f else {}
        resolver = f["resolver"].mapping(("timeout", "attempts")) if "resolver" in f else {}
        return SetupSpec(
            regions=regions,
            nodes=_opt(f, "nodes", lambda n: n.integer(1, 50), SetupSpec.nodes),
            app_replicas=_opt(f, "app_replicas", lambda n: n.integer(1, 16), SetupSpec.app_replicas),
            dns_max_ttl=_opt(cache, "max_ttl", Node.duration, None),
            dns_negative_ttl=_opt(cache, "negative_ttl", Node.duration, None),
            replication_lag=_opt(f, "replication_lag", Node.duration, None),
            connection_max_age=_opt(f, "connection_max_age", Node.duration, None),
            resolver_timeout=_opt(resolver, "timeout", _resolver_timeout, None),
            resolver_attempts=_opt(resolver, "attempts", lambda n: n.integer(1, 5), None),
        )

    # -- load ---------------------------------------------------------------------------------
    def load(self, node: Node) -> LoadProfile:
        f = node.mapping(("rps", "duration", "users", "workers", "mix", "request_timeout", "lag_budget"))
        if "duration" not in f:
            raise node.error("missing required field 'duration'")
        mix = LoadProfile().mix
        if "mix" in f:
            items = f["mix"].mapping(OPERATIONS)
            mix = {op: items[op].number(0) if op in items else 0.0 for op in OPERATIONS}
            if mix["login"] <= 0:
                raise f["mix"].error("login must have a weight above 0 (other operations need a session)")
        return LoadProfile(
            rps=_opt(f, "rps", lambda n: n.number(0, 2000, exclusive=True), LoadProfile.rps),
            duration=f["duration"].duration(positive=True),
            users=_opt(f, "users", lambda n: n.integer(1, 100_000), LoadProfile.users),
            workers=_opt(f, "workers", lambda n: n.integer(1, MAX_WORKERS), LoadProfile.workers),
            mix=mix,
            request_timeout=_opt(f, "request_timeout", lambda n: n.duration(positive=True), LoadProfile.request_timeout),
            lag_budget=_opt(f, "lag_budget", lambda n: n.duration(positive=True), LoadProfile.lag_budget),
        )

    # -- steady state -------------------------------------------------------------------------
    def slo(self, node: Node) -> SLOSpec:
        f = node.mapping()
        if len(f) != 1:
            raise node.error(f"each objective is one of: {', '.join(SLO_KINDS)}")
        kind, body = next(iter(f.items()))
        if kind not in SLO_KINDS:
            raise Node(body.node, body.path, body.file).error(
                f"unknown objective; known objectives: {', '.join(SLO_KINDS)}"
            )
        where = f"{body.file}:{body.line}"
        if kind == "success_rate":
            g = body.mapping(("min", "window", "min_requests"))
            if "min" not in g:
                raise body.error("missing required field 'min' (e.g. min: 99%)")
            return SLOSpec(kind, g["min"].fraction(), _opt(g, "window", lambda n: n.duration(positive=True), 1.0),
                           _opt(g, "min_requests", lambda n: n.integer(1), 5), where)
        if isinstance(body.node, yaml.ScalarNode):
            threshold = body
        else:
            g = body.mapping(("max",))
            if "max" not in g:
                raise body.error("missing required field 'max'")
            threshold = g["max"]
        if kind in ("lost_writes", "duplicate_writes"):
            return SLOSpec(kind, float(threshold.integer(0)), where=where)
        return SLOSpec(kind, threshold.duration(positive=True), where=where)

    # -- method and rollbacks -----------------------------------------------------------------
    def step(self, node: Node, index: int, load_duration: float, *, faults_allowed: bool) -> Step:
        f = node.mapping(("fault", "action", "at", "for", "window", "options", "note"))
        if ("fault" in f) == ("action" in f):
            what = "'fault' (a fault name) or 'action'" if faults_allowed else "'action'"
            raise node.error(f"each step needs exactly one of {what}")
        options = f["options"].mapping() if "options" in f else {}
        plain = {k: v.value for k, v in options.items()}
        if "fault" in f:
            if not faults_allowed:
                raise f["fault"].error("rollbacks take actions only; every fault is cleared anyway")
            kind, name = "fault", self.fault(f["fault"], f.get("options", node), options, plain)
        else:
            kind, name = "action", f["action"].text()
            action = ACTIONS.get(name)
            if action is None:
                raise f["action"].error(f"unknown action {shown(name)}; known actions: {', '.join(action_names())}")
            try:
                plain = action.validate(plain)
            except ValueError as exc:
                raise f.get("options", node).error(str(exc)) from None
        if not faults_allowed:
            timed = [k for k in ("at", "for", "window") if k in f]
            if timed:
                raise f[timed[0]].error("rollbacks run in order after the method; they take no time")
            return Step(index, kind, name, plain, 0.0, None, f"{node.file}:{node.line}", _opt(f, "note", Node.text, ""))
        at, duration = self.when(f, node)
        if kind == "action" and duration is not None and ACTIONS[name].undo is None:
            raise f["for"].error(f"action {name} is instantaneous; only actions that can be undone take 'for'")
        if at >= load_duration:
            raise (f.get("at") or f.get("window") or node).error(
                f"starts at {format_duration(at)}, at or after the end of the load ({format_duration(load_duration)})"
            )
        if duration is not None and at + duration > load_duration + 1e-9:
            raise (f.get("for") or f.get("window")).error(
                f"ends at {format_duration(at + duration)}, after the end of the load ({format_duration(load_duration)})"
            )
        note = _opt(f, "note", Node.text, "")
        return Step(index, kind, name, plain, at, duration, f"{node.file}:{node.line}", note)

    @staticmethod
    def fault(name_node: Node, options_node: Node, options: dict[str, Node], plain: dict[str, Any]) -> str:
        from faults import create_fault

        name = name_node.text()
        if "duration" in plain:
            raise options["duration"].error("use the step's 'for' instead of a duration option")
        try:
            create_fault(name, plain)
        except UnknownFaultError as exc:
            raise name_node.error(str(exc)) from None
        except FaultOptionError as exc:  # at the option to blame when the fault names one
            blamed = options.get(exc.option) if exc.option is not None else None
            raise (blamed or options_node).error(str(exc)) from None
        except HarnessError as exc:
            raise options_node.error(str(exc)) from None
        return name

    def when(self, f: dict[str, Node], node: Node) -> tuple[float, float | None]:
        if "window" in f:
            if "at" in f or "for" in f:
                raise f["window"].error("give either a clock 'window' or 'at'/'for', not both")
            if self.clock is None:
                raise f["window"].error("a clock window needs the scenario's 'clock' (the time the load starts)")
            try:
                start, end = parse_clock_range(f["window"].value, self.clock)
            except TimeFormatError as exc:
                raise f["window"].error(str(exc)) from None
            return start, end - start
        if "at" not in f:
            raise node.error("missing required field 'at' (when the step starts, e.g. at: 0s)")
        at = self.moment(f["at"])
        duration = _opt(f, "for", lambda n: n.duration(positive=True), None)
        return at, duration

    def moment(self, node: Node) -> float:
        """``at``: a duration after the load starts, or a clock time when the scenario has a clock."""
        value = node.value
        if isinstance(value, str) and ":" in value:
            if self.clock is None:
                raise node.error("a clock time needs the scenario's 'clock' (the time the load starts)")
            try:
                return (parse_clock(value) - self.clock) % (24 * 3600)
            except TimeFormatError as exc:
                raise node.error(str(exc)) from None
        if isinstance(value, (int, float)) and not isinstance(value, bool) and value < 0:
            raise node.error(f"a step cannot start before the load does, got {shown(value)}")
        if isinstance(value, str) and value.strip().startswith("-"):
            raise node.error(f"a step cannot start before the load does, got {shown(value)}")
        return node.duration()

    @staticmethod
    def check_overlaps(method: tuple[Step, ...], load_duration: float) -> None:
        """Reject the same fault with the same target options active twice at once."""
        def identity(step: Step) -> tuple:
            opts = {k: v for k, v in step.options.items() if k not in _NON_IDENTITY_OPTIONS}
            return step.name, repr(sorted(opts.items()))

        faults = [s for s in method if s.kind == "fault"]
        for i, a in enumerate(faults):
            for b in faults[i + 1:]:
                if identity(a) != identity(b):
                    continue
                a_end = a.end if a.end is not None else load_duration
                b_end = b.end if b.end is not None else load_duration
                if a.at < b_end and b.at < a_end:
                    raise ScenarioError(
                        f"{b.where}: method[{b.index}]: {b.name} overlaps method[{a.index}] (line {a.where.rsplit(':', 1)[1]})"
                        " with the same options; merge them or change the window"
                    )


def _app_config_fields() -> set[str] | None:
    """Settings the bundled app accepts as overrides (None if it is not installed: not checked)."""
    from harness.app_provider import bundled_app

    provider = bundled_app()
    return None if provider is None else provider.settings()
