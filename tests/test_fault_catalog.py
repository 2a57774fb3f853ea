"""Fault options carry their unit and meaning; ``chaos-harness list`` and the README show them."""

from __future__ import annotations

import dataclasses
import re
from pathlib import Path

import pytest

from faults import fault_class, fault_names
from faults.catalog import markdown_table
from harness import cli

README = Path(__file__).resolve().parents[1] / "README.md"


@pytest.mark.parametrize("name", fault_names())
def test_every_option_says_what_it_means(name):
    for f in dataclasses.fields(fault_class(name)):
        if f.init:
            assert f.metadata.get("help"), f"{name}: option {f.name!r} has no meaning (faults.base.option)"


def test_list_prints_each_option_with_its_unit_and_meaning(capsys):
    assert cli.main(["list"]) == 0
    out = capsys.readouterr().out
    block = out[out.index("network.latency "):].split("\nnetwork.", 1)[0]  # network.latency's own lines
    assert re.search(r"^\s+latency \(ms\)\s+delay added to data through the nodes \[default 1000\]$", block, re.M)
    assert re.search(r"^\s+latency \(s\)\s+how late the answer comes", out, re.M)  # dns.delay: seconds
    assert re.search(r"^\s+period \(s\)\s+length of one failing\+passing cycle", out, re.M)


def test_list_shows_each_fault_and_action_with_its_summary(capsys):
    assert cli.main(["list"]) == 0
    out = capsys.readouterr().out
    for name in fault_names():  # the summary is the first line of the fault class's docstring
        summary = fault_class(name).__doc__.strip().splitlines()[0].rstrip(".")
        assert re.search(rf"^{re.escape(name)}\s+{re.escape(summary)}$", out, re.M), name
    actions = out[out.index("\nactions"):]
    assert re.search(r"^pause_replication\s+stop global-table replication between regions$", actions, re.M)
    assert re.search(r"^clear_faults\s+clear every active fault$", actions, re.M)


def test_the_readme_fault_table_is_the_generated_one():
    text = README.read_text(encoding="utf-8")
    start = text.index("<!-- fault table:")
    body = text[text.index("\n", start) + 1:text.index("<!-- end of fault table -->")]
    assert body == markdown_table(), "README fault table is stale: paste the output of `python -m faults.catalog`"
