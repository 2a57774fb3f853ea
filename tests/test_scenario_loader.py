"""Scenario files: what loads, and the one-line file:line: field errors for what does not."""

from __future__ import annotations

import pytest

from harness.scenario import ScenarioError, builtin_scenarios, load_scenario, parse_scenario
from harness.scenario.timeline import parse_clock_range, parse_clock, parse_duration, TimeFormatError

VALID = """\
title: test
time_scale: 60
load: {duration: 10m, rps: 10}
steady_state:
  - success_rate: {min: 99%}
method:
  - fault: dns.empty_answer
    at: 1m
    for: 2m
    options: {qname: dynamodb.us-east-1.amazonaws.com}
"""


def error_of(text: str) -> str:
    with pytest.raises(ScenarioError) as info:
        parse_scenario(text, "s.yaml")
    message = str(info.value)
    assert "\n" not in message
    return message


@pytest.mark.parametrize("text, seconds", [
    (90, 90.0), (1.5, 1.5), ("250ms", 0.25), ("90s", 90.0), ("15m", 900.0), ("2h30m", 9000.0), ("1h1m1s", 3661.0),
])
def test_durations(text, seconds):
    assert parse_duration(text) == seconds


@pytest.mark.parametrize("bad", ["15 minutes", "m", "", "-5s", True, [1]])
def test_bad_durations(bad):
    with pytest.raises(TimeFormatError):
        parse_duration(bad)


def test_clock_range_wraps_past_midnight():
    origin = parse_clock("23:30")
    assert parse_clock_range("23:48-02:25", origin) == (18 * 60.0, (2 * 3600 + 55 * 60.0))


def test_valid_scenario_scales_time():
    sc = parse_scenario(VALID, "s.yaml")
    assert sc.wall_duration == 10.0
    step = sc.method[0]
    assert (sc.wall(step.at), sc.wall(step.end)) == (1.0, 3.0)
    assert step.options == {"qname": "dynamodb.us-east-1.amazonaws.com"}


def test_every_builtin_loads_and_the_outage_replay_fits_in_a_minute():
    names = set(builtin_scenarios())
    assert {"us-east-1-2025-10-20", "us-east-1-2025-10-20-nxdomain", "dns-empty-answer", "health-flap",
            "network-partition", "dynamodb-unavailable"} <= names
    for name in names:
        assert load_scenario(name).steady_state
    replay = load_scenario("us-east-1-2025-10-20")
    assert replay.wall_duration <= 45  # leaves room for startup inside 60 s
    dns = replay.method[0]
    assert dns.name == "dns.empty_answer"
    # 23:48-02:25 PDT with the load starting 23:30, compressed 1800x
    assert replay.wall(dns.at) == pytest.approx(0.6)
    assert replay.wall(dns.end) == pytest.approx(10500 / 1800)
    assert load_scenario("us-east-1-2025-10-20-nxdomain").method[0].name == "dns.nxdomain"


@pytest.mark.parametrize("old, new, expected", [
    ("  - fault: dns.empty_answer", "  - fault: dns.foo",
     "s.yaml:7: method[0].fault: unknown fault 'dns.foo'"),
    ("options: {qname: dynamodb.us-east-1.amazonaws.com}", "options: {qnme: x}",
     "s.yaml:10: method[0].options.qnme: dns.empty_answer: unknown option 'qnme'"),
    ("    for: 2m", "    for: 20m", "s.yaml:9: method[0].for: ends at 21m, after the end of the load (10m)"),
    ("    at: 1m", "    at: -1m", "s.yaml:8: method[0].at: a step cannot start before the load does"),
    ("    at: 1m", "    at: 11m", "s.yaml:8: method[0].at: starts at 11m, at or after the end of the load"),
    ("    at: 1m", "    at: soon", "s.yaml:8: method[0].at: expected a duration like 90s"),
    ("title: test", "title: test\ncolour: red", "s.yaml:2: colour: unknown field; known fields: title"),
    ("title: test\n", "", "s.yaml:1: scenario: missing required field 'title'"),
    ("{min: 99%}", "{min: 120%}", "s.yaml:5: steady_state[0].success_rate.min: a percentage must be between"),
    ("  - success_rate: {min: 99%}", "  - uptime: 5", "s.yaml:5: steady_state[0].uptime: unknown objective"),
    ("time_scale: 60", "time_scale: 0", "s.yaml:2: time_scale: must be more than 0"),
    ("time_scale: 60", "time_scale: 0.001", "s.yaml:3: load: the load would run"),
    ("    at: 1m\n    for: 2m", "    window: 23:48-02:25", "s.yaml:8: method[0].window: a clock window needs"),
])
def test_errors_name_file_line_and_field(old, new, expected):
    assert old in VALID
    assert error_of(VALID.replace(old, new)).startswith(expected)


def test_unknown_fault_lists_the_known_ones():
    message = error_of(VALID.replace("dns.empty_answer", "dns.empty_anwser"))
    assert "known faults:" in message and "dns.nxdomain" in message


def test_instantaneous_action_cannot_be_held():
    text = VALID + "  - action: resume_replication\n    at: 1m\n    for: 1m\n"
    assert error_of(text).startswith("s.yaml:13: method[1].for: action resume_replication is instantaneous")


def test_overlapping_identical_faults_are_rejected_but_other_targets_are_fine():
    same = VALID + "  - fault: dns.empty_answer\n    at: 2m\n    options: {qname: dynamodb.us-east-1.amazonaws.com}\n"
    assert error_of(same).startswith("s.yaml:11: method[1]: dns.empty_answer overlaps method[0] (line 7)")
    other = VALID + "  - fault: dns.empty_answer\n    at: 2m\n    options: {qname: dynamodb.us-west-2.amazonaws.com}\n"
    assert len(parse_scenario(other, "s.yaml").method) == 2
    back_to_back = VALID + "  - fault: dns.empty_answer\n    at: 3m\n    options: {qname: dynamodb.us-east-1.amazonaws.com}\n"
    assert len(parse_scenario(back_to_back, "s.yaml").method) == 2


def test_clock_windows_need_a_clock_and_resolve_against_it():
    text = VALID.replace("    at: 1m\n    for: 2m", "    window: \"00:01-00:03\"").replace("title: test", "title: test\nclock: \"00:00\"")
    step = parse_scenario(text, "s.yaml").method[0]
    assert (step.at, step.duration) == (60.0, 120.0)


def test_invalid_yaml_and_empty_files():
    assert error_of("title: [unclosed\n").startswith("s.yaml:2: invalid YAML")
    assert error_of("") == "s.yaml:1: scenario: the file is empty"


def test_rollbacks_take_actions_only():
    text = VALID + "rollbacks:\n  - fault: dns.nxdomain\n"
    assert error_of(text).startswith("s.yaml:12: rollbacks[0].fault: rollbacks take actions only")


def test_unknown_names_and_files():
    with pytest.raises(ScenarioError, match="no scenario file or built-in scenario named 'nope'; built-ins: "):
        load_scenario("nope")


def test_app_profile_and_overrides_are_checked():
    assert error_of(VALID + "app: clever\n").startswith("s.yaml:11: app: unknown app profile 'clever'")
    assert error_of(VALID + "app: {profile: naive, colour: 1}\n").startswith("s.yaml:11: app.colour: unknown app setting")
    sc = parse_scenario(VALID + "app: {profile: naive, cache_ttl: 5}\n", "s.yaml")
    assert (sc.app.profile, sc.app.overrides) == ("naive", {"cache_ttl": 5})


def test_builtin_scenarios_describe_the_sample_app_like_any_app() -> None:
    """Their traffic/writes sections are what load.mix stands for: one description, no drift."""
    from harness.scenario import builtin_scenarios, load_scenario
    from harness.scenario.session_traffic import session_traffic

    for name in builtin_scenarios():
        sc = load_scenario(name)
        weights = {r.name: r.weight for r in sc.traffic.requests}
        assert (sc.traffic, sc.writes) == session_traffic(weights, sc.traffic.users), name
        assert sc.app.region_header == "X-Served-By-Region"


def test_traffic_with_load_mix_is_rejected_by_line() -> None:
    text = """\
title: t
load: {duration: 2s, mix: {login: 1}}
traffic:
  requests: [{method: GET, path: /}]
steady_state: [lost_writes: 0]
method: []
"""
    with pytest.raises(ScenarioError, match=r"t.yaml:2: load.mix: load.mix and load.users are the sample app's"):
        parse_scenario(text, "t.yaml")


# -- hostile files (issue 12) ---------------------------------------------------------------------
LAUGHS = "".join(f"{chr(97 + i + 1)}: &{chr(97 + i + 1)} [{', '.join([f'*{chr(97 + i)}'] * 9)}]\n" for i in range(8))


def test_an_alias_bomb_is_refused_before_it_expands():
    text = "a: &a [lol, lol, lol, lol, lol, lol, lol, lol, lol]\n" + LAUGHS + "title: *i\n"
    assert len(text) < 800  # the 758-byte file that once took 99 s and 2.5 GB
    message = error_of(text)
    assert message.startswith("s.yaml:") and "aliases are expanded" in message and len(message) < 200


def test_many_aliases_are_refused_even_when_small():
    text = VALID + "description: &d x\nrollbacks: [" + ", ".join(["{action: resume_replication, note: *d}"] * 101) + "]\n"
    assert "more than 100 YAML aliases" in error_of(text)


def test_a_few_aliases_still_work():
    text = VALID.replace("options: {qname: dynamodb.us-east-1.amazonaws.com}", "options: &o {qname: dynamodb.us-east-1.amazonaws.com}")
    text += "  - fault: dns.empty_answer\n    at: 5m\n    options: *o\n"
    assert parse_scenario(text, "s.yaml").method[1].options == {"qname": "dynamodb.us-east-1.amazonaws.com"}


@pytest.mark.parametrize("text, where, words", [
    ("title: " + "[" * 5000 + "]" * 5000, "s.yaml:1:", "nested more than"),
    (VALID.replace("qname: dynamodb", "seed: " + "9" * 5000 + ", qname: dynamodb"), "s.yaml:10: method[0].options.seed:", "cannot read value"),
    (VALID.replace("qname: dynamodb", "seed: " + "9" * 400 + ", qname: dynamodb"), "s.yaml:10: method[0].options.seed:", "1329-bit integer"),
    (VALID.replace("qname: dynamodb", "seed: 1e999, qname: dynamodb"), "s.yaml:10: method[0].options.seed:", "must be"),
    (VALID.replace("at: 1m", "at: " + "9" * 400), "s.yaml:8: method[0].at:", "duration"),
    (VALID.replace("rps: 10", "rps: " + "9" * 400), "s.yaml:3: load.rps:", "expected a number"),
    (VALID.replace("    at: 1m\n", ""), "s.yaml:7: method[0]:", "missing required field 'at'"),
    (VALID.replace("title: test", "title: [" + "x, " * 5000 + "x]"), "s.yaml:1: title:", "expected text"),
])
def test_hostile_values_are_short_one_line_errors(text, where, words):
    message = error_of(text)
    assert message.startswith(where) and words in message and len(message) < 300, message


def test_non_utf8_files_name_the_line(tmp_path):
    path = tmp_path / "latin1.yaml"
    path.write_bytes(VALID.replace("title: test", "title: caf\xe9").encode("latin-1"))
    with pytest.raises(ScenarioError, match=rf"^{path}:1: not UTF-8 text: byte 0xe9"):
        load_scenario(str(path))


def test_setup_resolver_is_wall_time_and_checked():
    text = VALID.replace("load:", "setup:\n  resolver: {timeout: 1s, attempts: 1}\nload:")
    setup = parse_scenario(text, "s.yaml").setup
    assert (setup.resolver_timeout, setup.resolver_attempts) == (1.0, 1)  # not divided by time_scale 60
    assert parse_scenario(VALID, "s.yaml").setup.resolver_timeout is None  # default: the host's glibc
    assert "glibc waits at most 30s per attempt" in error_of(text.replace("timeout: 1s", "timeout: 1m"))
    assert "resolver.attempts" in error_of(text.replace("attempts: 1", "attempts: 9"))


def test_the_resolver_a_scenario_asks_for_is_what_its_harness_uses():
    from harness.environment import Harness

    scenario = parse_scenario(VALID.replace("load:", "setup:\n  resolver: {timeout: 2s}\nload:"), "s.yaml")
    with Harness.for_scenario(scenario, with_app=False) as harness:
        options = harness.resolver.options
    assert options.timeout == 2.0 and "setup.resolver" in options.source


@pytest.mark.parametrize("option, value, expected", [
    ("probability", "2", "s.yaml:12: method[0].options.probability: dns.empty_answer: probability must be between 0 and 1"),
    ("qtype", "[A, BOGUS]", "s.yaml:12: method[0].options.qtype: dns.empty_answer: option 'qtype' has unknown record type"),
    ("soa", "maybe", "s.yaml:12: method[0].options.soa: dns.empty_answer: option 'soa' must be true or false"),
])
def test_a_bad_fault_option_is_reported_at_its_own_line(option, value, expected):
    """The fault says which option is wrong (``FaultOptionError.option``), not only in its message."""
    text = VALID.replace("options: {qname: dynamodb.us-east-1.amazonaws.com}",
                         f"options:\n      qname: dynamodb.us-east-1.amazonaws.com\n      {option}: {value}")
    assert error_of(text).startswith(expected)
