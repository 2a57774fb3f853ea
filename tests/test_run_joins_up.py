"""``chaos-harness run`` against a harness that is already up, with faults from another terminal.

Three processes as a user would have them: ``up`` in one shell, a sandboxed program started with
``run --harness-url`` in another, ``inject``/``clear`` in a third. The program looks the DynamoDB
endpoint up with glibc (getent) each time the test asks, so the test waits on its answers only.
"""

from __future__ import annotations

import http.client
import os
import socket
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from cli_process import Process, harness_up
from conftest import require_tool
from harness_dns_env import require_namespaces

CLI = [str(Path(sys.executable).parent / "chaos-harness")]
EAST = "dynamodb.us-east-1.amazonaws.com"
# Answers each line on stdin with whether glibc resolves the endpoint right now.
LOOKUP_LOOP = f"while read _; do if getent hosts {EAST} >/dev/null; then echo resolved; else echo failed; fi; done"


@pytest.fixture(scope="module")
def up():
    require_namespaces()
    require_tool("getent")
    with harness_up("dns-empty-answer", "--no-app") as url:
        yield url


def cli(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(CLI + list(args), capture_output=True, text=True, timeout=60, env={**os.environ, **(env or {})})


def ask(program: Process) -> str:
    assert program.proc.stdin is not None
    program.proc.stdin.write("check\n")
    program.proc.stdin.flush()
    return program.wait_line(r"^(resolved|failed)$").group(1)


@pytest.mark.parametrize("via", ["--harness-url", "CHAOS_HARNESS_URL"])
def test_inject_and_clear_from_another_shell_reach_the_sandboxed_program(up: str, via: str) -> None:
    flag = ["--harness-url", up] if via == "--harness-url" else []
    env = {"CHAOS_HARNESS_URL": up} if via == "CHAOS_HARNESS_URL" else {}
    program = Process(CLI + ["run", *flag, "--", "sh", "-c", LOOKUP_LOOP], env, stdin=subprocess.PIPE)
    try:
        assert ask(program) == "resolved"
        injected = cli("inject", "dns.empty_answer", f"qname={EAST}", "--harness-url", up)
        assert injected.returncode == 0, injected.stderr
        assert ask(program) == "failed"
        assert cli("clear", "--harness-url", up).returncode == 0
        assert ask(program) == "resolved"
    finally:
        cli("clear", "--harness-url", up)
        assert program.proc.stdin is not None
        program.proc.stdin.close()
    assert program.proc.wait(timeout=60) == 0  # end of input: the program, and so run, exit 0
    program.stop()


def test_run_creates_the_scenario_tables_in_the_running_harness(up: str, tmp_path: Path) -> None:
    scenario = tmp_path / "orders.yaml"
    scenario.write_text(textwrap.dedent("""\
        title: orders table only
        app:
          tables:
            - {TableName: orders, KeySchema: [{AttributeName: id, KeyType: HASH}],
               AttributeDefinitions: [{AttributeName: id, AttributeType: S}], BillingMode: PAY_PER_REQUEST}
        load: {duration: 1s}
        steady_state: [lost_writes: 0]
        method: []
        """))
    done = cli("run", "--harness-url", up, "--scenario", str(scenario), "--", "true")
    assert done.returncode == 0, done.stderr
    from harness.control import RemoteHarness

    with RemoteHarness(up) as remote:
        assert "orders" in remote.state()["tables"]
        assert remote.item_in_regions("orders", {"id": "nothing"}) == {"us-east-1": None, "us-west-2": None}
    again = cli("create-tables", str(scenario), "--harness-url", up)
    assert (again.returncode, again.stdout.strip()) == (0, "every table already exists")
    missing = cli("create-tables", str(tmp_path / "nope.yaml"), "--harness-url", up)
    assert missing.returncode == 2 and missing.stderr.count("\n") == 1 and "cannot read" in missing.stderr


def test_run_scenario_runs_the_method_while_the_program_runs(tmp_path: Path) -> None:
    require_namespaces()
    require_tool("getent")
    scenario = tmp_path / "blip.yaml"
    scenario.write_text(textwrap.dedent(f"""\
        title: a one-second DNS blip
        load: {{duration: 4s}}
        steady_state: [lost_writes: 0]
        method:
          - fault: dns.empty_answer
            at: 1s
            for: 1s
            options: {{qname: {EAST}}}
        """))
    # Waits for the record to go, then for it to come back: exits only if the method really ran.
    script = f"until ! getent hosts {EAST} >/dev/null; do :; done; echo gone; " \
             f"until getent hosts {EAST} >/dev/null; do :; done; echo back"
    done = subprocess.run(CLI + ["run", "--scenario", str(scenario), "--", "sh", "-c", script],
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert done.stdout.split() == ["gone", "back"]
    assert "start fault dns.empty_answer" in done.stderr and "clear all faults" in done.stderr


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def test_a_server_in_the_sandbox_is_reachable_from_the_host_while_run_lasts() -> None:
    require_namespaces()
    port = free_port()
    server = [sys.executable, "-u", "-m", "http.server", str(port), "--bind", "127.0.0.1"]
    program = Process(CLI + ["run", "--publish", str(port), "--", *server])
    try:
        program.wait_line(rf"published 127\.0\.0\.1:{port} -> port {port} inside the sandbox")
        program.wait_line(r"Serving HTTP on 127\.0\.0\.1")  # the server inside is listening
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
        try:
            conn.request("GET", "/")
            assert conn.getresponse().status == 200
        finally:
            conn.close()
    finally:
        program.stop()
    with pytest.raises(OSError):  # the port is closed with the run
        socket.create_connection(("127.0.0.1", port), timeout=2).close()
