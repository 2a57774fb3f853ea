"""Chaos Toolkit drives a running harness: the example experiment with the real ``chaos run``,
the extension's actions and probes, and the control-API routes they read.

A ``chaos-harness up --no-app --control 127.0.0.1:0`` process is the harness; the tests find its URL
in its output and wait for "harness is up" (no sleeps).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from chaoslib.exceptions import ActivityFailed

from harness.chaostoolkit import actions, probes
from harness.errors import HarnessError
from cli_process import harness_up
from harness.resolver import use_harness_dns

ROOT = Path(__file__).resolve().parent.parent
EXPERIMENT = ROOT / "examples" / "chaostoolkit" / "experiment.json"
CHAOS = str(Path(sys.executable).parent / "chaos")
EAST = "dynamodb.us-east-1.amazonaws.com"
WEST = "dynamodb.us-west-2.amazonaws.com"


@pytest.fixture(scope="module")
def up():
    with harness_up("dns-empty-answer", "--no-app") as url:
        yield url


def test_example_experiment_completes_and_its_rollback_clears_the_fault(up, remote, tmp_path):
    journal_path = tmp_path / "journal.json"
    env = {**os.environ, "CHAOS_HARNESS_URL": up}
    done = subprocess.run([CHAOS, "--no-version-check", "--log-file", str(tmp_path / "chaostoolkit.log"), "run",
                           "--journal-path", str(journal_path), str(EXPERIMENT)],
                          capture_output=True, text=True, env=env, cwd=tmp_path, timeout=120)
    assert done.returncode == 0, done.stdout + done.stderr
    journal = json.loads(journal_path.read_text())
    assert journal["status"] == "completed" and journal["deviated"] is False
    assert journal["steady_states"]["before"]["steady_state_met"] is True
    assert journal["steady_states"]["after"]["steady_state_met"] is True
    runs = {r["activity"]["name"]: r for r in journal["run"]}
    assert all(r["status"] == "succeeded" for r in runs.values()), runs
    injected = runs["empty-the-primary-endpoint-record"]["output"]
    assert injected["fault"] == "dns.empty_answer" and injected["options"]["qname"] == [EAST]
    # During the method the primary endpoint really answered NOERROR with no addresses ...
    assert runs["what-clients-get-for-the-primary-endpoint"]["output"]["rcode"] == "NOERROR"
    assert runs["what-clients-get-for-the-primary-endpoint"]["output"]["answers"] == []
    assert runs["queries-for-the-primary-endpoint"]["output"]["rcodes"] == {"NOERROR": 1}
    assert [f["id"] for f in runs["faults-active-during-the-method"]["output"]] == [injected["id"]]
    # ... and the rollback, not the harness, took it away: it reports the id it cleared.
    (rollback,) = journal["rollbacks"]
    assert rollback["status"] == "succeeded" and rollback["output"] == [injected["id"]]
    assert remote.state()["faults"] == []
    assert len(remote.resolve(EAST)["answers"]) == 3


def test_actions_inject_and_clear_by_name_or_id(up, remote):
    config = {"harness_url": up}
    east = actions.inject_fault("dns.nxdomain", {"qname": EAST}, configuration=config)
    west = actions.inject_fault("dns.servfail", {"qname": WEST}, configuration=config)
    assert probes.count_active_faults(configuration=config) == 2
    assert probes.resolve(EAST, configuration=config)["rcode"] == "NXDOMAIN"
    assert probes.name_resolves(WEST, configuration=config) is False
    assert actions.clear_fault("dns.nxdomain", configuration=config) == [east["id"]]
    assert [f["fault"] for f in probes.active_faults(configuration=config)] == ["dns.servfail"]
    assert probes.name_resolves(EAST, configuration=config) is True
    assert actions.clear_fault(fault_id=west["id"], configuration=config) == [west["id"]]
    assert actions.clear_fault("dns.servfail", configuration=config) == []  # already gone: not an error
    assert probes.count_active_faults(configuration=config) == 0


def test_harness_url_from_the_environment_and_errors_as_activity_failures(up, remote, monkeypatch):
    monkeypatch.setenv("CHAOS_HARNESS_URL", up)
    assert probes.count_active_faults() == 0
    with pytest.raises(ActivityFailed, match="unknown fault 'dns.nope'"):
        actions.inject_fault("dns.nope")
    with pytest.raises(ActivityFailed, match="unknown option 'colour'"):
        actions.inject_fault("dns.empty_answer", {"colour": "red"})
    monkeypatch.delenv("CHAOS_HARNESS_URL")
    with pytest.raises(ActivityFailed, match="no harness to talk to: set configuration 'harness_url'"):
        probes.active_faults(configuration={})


def test_resolve_needs_a_name(remote):
    with pytest.raises(HarnessError, match=r"GET /v1/dns/resolve needs \?name=<domain name>"):
        remote.client.request("GET", "/dns/resolve")


def test_dropped_queries_resolve_as_timeout_and_are_counted(up, remote):
    config = {"harness_url": up}
    remote.chaos.inject("dns.timeout", {"qname": EAST})
    assert probes.resolve(EAST, configuration=config) == {"name": EAST, "qtype": "A", "rcode": "TIMEOUT", "answers": []}
    remote.chaos.clear_all()
    probes.resolve(EAST, "AAAA", configuration=config)
    counts = probes.dns_query_counts(EAST, configuration=config)
    assert counts["total"] == 2 and counts["rcodes"] == {"DROPPED": 1, "NOERROR": 1}
    assert probes.dns_query_counts(EAST, "AAAA", configuration=config)["total"] == 1


def test_replication_lag_grows_while_paused_and_is_zero_once_caught_up(up, remote):
    config = {"harness_url": up}
    assert probes.replication_lag(configuration=config) == 0.0
    with use_harness_dns(remote.dns_address, remote.zones):
        import boto3

        client = boto3.client("dynamodb", region_name="us-east-1", endpoint_url=remote.dynamodb.endpoints["us-east-1"],
                              aws_access_key_id="testing", aws_secret_access_key="testing")
        table = client.list_tables()["TableNames"][0]
        key = {a["AttributeName"]: {"S": "ctk"} for a in client.describe_table(TableName=table)["Table"]["KeySchema"]}
        remote.dynamodb.replication.pause()
        client.put_item(TableName=table, Item=key)
    state = remote.replication_state()
    assert state["paused"] is True and state["pending"] >= 1
    first = probes.replication_lag(configuration=config)
    assert 0 < first <= probes.replication_lag(configuration=config)
    remote.dynamodb.replication.resume()
    remote.dynamodb.replication.wait_caught_up(10)
    assert probes.replication_lag(configuration=config) == 0.0
    assert remote.replication_state()["pending"] == 0
