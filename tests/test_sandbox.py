"""Programs that are not Python (getent, curl) resolve through the harness inside the sandbox."""

from __future__ import annotations

import http.server
import os
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from conftest import require_tool
from harness.errors import NamespaceUnavailableError, TimeoutExpired
from harness.resolver import ResolverOptions
from harness.sandbox import Sandbox, SandboxError, run_command
from harness_dns_env import NAME, DnsEnv, require_namespaces

OPTIONS = ResolverOptions(timeout=1, attempts=1)


class _Hello(http.server.BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        body = b"hello from the harness\n"
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def http_service(dns_env: DnsEnv) -> Iterator[tuple[str, int]]:
    server = http.server.ThreadingHTTPServer((dns_env.pool.take("web"), 0), _Hello)
    thread = threading.Thread(target=server.serve_forever, name="http-service")
    thread.start()
    try:
        yield server.server_address[:2]
    finally:
        server.shutdown()
        server.server_close()
        thread.join()


@pytest.fixture
def sandbox(dns_env: DnsEnv, http_service: tuple[str, int]) -> Sandbox:
    require_namespaces()
    dns_env.topology.set(NAME, [http_service[0]])
    return Sandbox(dns_env.server, forwards=[http_service], options=OPTIONS)


def open_fds() -> int:
    return len(os.listdir("/proc/self/fd"))


def test_getent_and_curl_reach_the_forwarded_service_by_name(sandbox: Sandbox, http_service, dns_env: DnsEnv) -> None:
    require_tool("getent")
    curl = require_tool("curl")
    threads, fds = threading.active_count(), open_fds()
    getent = sandbox.run(["getent", "ahosts", NAME])
    assert getent.returncode == 0, getent.stderr
    assert getent.stdout.split()[0] == http_service[0]
    fetched = sandbox.run([curl, "-sS", "--max-time", "5", f"http://{NAME}:{http_service[1]}/"])
    assert (fetched.returncode, fetched.stdout) == (0, "hello from the harness\n"), fetched.stderr
    assert dns_env.server.log.count(NAME, "A") == 2
    assert (threading.active_count(), open_fds()) == (threads, fds)


@pytest.mark.parametrize("fault", ["dns.nxdomain", "dns.empty_answer"])
def test_resolution_failures_inside_the_sandbox(sandbox: Sandbox, http_service, dns_env: DnsEnv, fault: str) -> None:
    require_tool("getent")
    curl = require_tool("curl")
    with dns_env.chaos.inject(fault):
        getent = sandbox.run(["getent", "ahosts", NAME])
        fetched = sandbox.run([curl, "-sS", "--max-time", "5", f"http://{NAME}:{http_service[1]}/"])
    assert getent.returncode == 2 and getent.stdout == ""  # getent: "key could not be found"
    assert fetched.returncode == 6  # CURLE_COULDNT_RESOLVE_HOST
    assert "Could not resolve host" in fetched.stderr


def test_resolv_conf_is_replaced_only_inside(sandbox: Sandbox) -> None:
    before = Path("/etc/resolv.conf").read_text()
    inside = sandbox.run(["cat", "/etc/resolv.conf"])
    assert inside.stdout == "nameserver 127.0.0.53\noptions timeout:1 attempts:1\n"
    hosts_line = sandbox.run(["grep", "^hosts:", "/etc/nsswitch.conf"])
    assert hosts_line.stdout == "hosts: files dns\n"
    assert Path("/etc/resolv.conf").read_text() == before


def test_environment_exit_status_and_uncaptured_output(sandbox: Sandbox, capfd) -> None:
    result = sandbox.run(["sh", "-c", 'echo "$GREETING"; exit 3'], env={"GREETING": "hi", "PATH": os.environ["PATH"]})
    assert (result.returncode, result.stdout) == (3, "hi\n")
    streamed = run_command(["sh", "-c", "echo streamed"], dns_server=sandbox.dns_server, forwards=sandbox.forwards)
    assert streamed.returncode == 0 and streamed.stdout is None
    assert "streamed" in capfd.readouterr().out


def test_bad_commands_give_one_line_errors(sandbox: Sandbox) -> None:
    with pytest.raises(SandboxError, match="cannot run 'no-such-command-xyz': No such file or directory"):
        sandbox.run(["no-such-command-xyz"])
    with pytest.raises(SandboxError, match="non-empty list"):
        sandbox.run([])
    with pytest.raises(SandboxError, match="non-empty list"):
        sandbox.run("echo hi")  # type: ignore[arg-type]


def test_timeout_kills_the_command_and_leaks_nothing(sandbox: Sandbox) -> None:
    threads, fds = threading.active_count(), open_fds()
    with pytest.raises(TimeoutExpired, match="did not finish within 0.5 s"):
        sandbox.run(["sh", "-c", "sleep 30 & sleep 30"], timeout=0.5)
    assert (threading.active_count(), open_fds()) == (threads, fds)
    leftovers = [p for p in Path("/proc").iterdir() if p.name.isdigit() and _cmdline(p) == "sleep\x0030\x00"]
    assert leftovers == []


def _cmdline(proc: Path) -> str:
    try:
        return (proc / "cmdline").read_text()
    except OSError:
        return ""


def test_unavailable_namespaces_are_one_clear_error(dns_env: DnsEnv, monkeypatch: pytest.MonkeyPatch) -> None:
    import harness.sandbox as sandbox_module

    monkeypatch.setattr(sandbox_module, "namespaces_available", lambda: (False, "user namespaces are disabled"))
    with pytest.raises(NamespaceUnavailableError) as info:
        Sandbox(dns_env.server).run(["true"])
    assert str(info.value) == "cannot run 'true' in a sandbox: user namespaces are disabled"
