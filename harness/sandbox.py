"""Run any program (curl, getent, a JVM app) against the harness's DNS, unmodified.

The in-process hook (``harness.resolver``) only reaches Python code. Everything else resolves
through glibc, which reads ``/etc/resolv.conf`` and talks to port 53. ``Sandbox`` runs the command
in an unprivileged user+network+mount namespace (``unshare -rnm``) where:

- loopback is up and ``/etc/resolv.conf`` (its real target, symlinks resolved) is bind-mounted over
  with ``nameserver <loopback> / options timeout:N attempts:N``; ``nsswitch.conf``'s hosts line is
  pinned to ``files dns`` so an nss module talking to a host daemon cannot bypass the harness;
- the harness DNS server answers on that address's port 53, and every ``forwards`` service is
  reachable at the same ``host:port`` as outside.

Sockets belong to the namespace they are created in, so ``harness/sandbox_child.py`` creates the
listeners inside and passes them to us over a Unix socket; we relay them on the DNS server's
asyncio loop: the port-53 pair to the DNS server's own address, the others to the real services.
(Relaying rather than ``DnsServer.serve_sockets`` keeps the per-run sockets' lifetime ours: they
are closed when the command ends, not when the harness stops.) Everything is torn
down when the command exits, times out or the caller is interrupted (the command's process group is
killed).
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import json
import os
import select
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from harness.errors import HarnessError, NamespaceUnavailableError, TimeoutExpired
from harness.interrupts import interrupts_deferred
from harness.loop_thread import LoopThread
from harness.loopback import require_loopback
from harness.resolver import ResolverOptions
from harness.sandbox_relay import TcpForward, UdpForward

_CHILD = Path(__file__).with_name("sandbox_child.py")
_READY_TIMEOUT = 15.0


class SandboxError(HarnessError):
    """The sandbox could not be set up, or the command could not be started in it."""


@functools.cache
def namespaces_available() -> tuple[bool, str]:
    """Whether ``unshare -rnm`` works here, and a one-line reason either way (probed once)."""
    unshare = shutil.which("unshare")
    if unshare is None:
        return False, "the 'unshare' tool (util-linux) is not installed"
    try:
        probe = subprocess.run([unshare, "-rnm", "true"], capture_output=True, text=True, timeout=10)
    except (OSError, subprocess.TimeoutExpired) as exc:
        return False, f"'unshare -rnm true' could not run: {exc}"
    if probe.returncode != 0:
        detail = (probe.stderr.strip().splitlines() or [f"exit status {probe.returncode}"])[-1]
        return False, f"unprivileged user+network+mount namespaces are not permitted here ({detail})"
    return True, "unprivileged user+network+mount namespaces are available"


def _nsswitch_text() -> str:
    """The host's nsswitch.conf with ``hosts: files dns`` so glibc's DNS stub does the lookups."""
    try:
        lines = Path("/etc/nsswitch.conf").read_text().splitlines()
    except OSError:
        lines = []
    kept = [line for line in lines if not line.strip().startswith("hosts:")]
    return "\n".join([*kept, "hosts: files dns"]) + "\n"


@dataclass(frozen=True)
class DnsAddress:
    """Where the harness DNS answers, for a sandbox whose harness runs in another process."""

    address: tuple[str, int]


class Sandbox:
    """Runs commands whose DNS is the harness's server and whose ``forwards`` reach the harness.

    ``dns_server`` needs ``address`` (host, port) and, unless ``loop`` is passed, ``loop`` (the
    ``LoopThread`` the relays run on).
    """

    def __init__(
        self,
        dns_server: Any,
        forwards: Sequence[tuple[str, int]] = (),
        nameserver: str = "127.0.0.53",
        options: ResolverOptions | None = None,
        *,
        loop: LoopThread | None = None,
    ) -> None:
        self.dns_server = dns_server
        self.forwards = [(require_loopback(h, what="sandbox forward"), int(p)) for h, p in forwards]
        self.nameserver = require_loopback(nameserver, what="sandbox nameserver")
        self.options = options or ResolverOptions()
        self.loop = loop or dns_server.loop

    def run(
        self,
        argv: Sequence[str],
        timeout: float | None = None,
        env: Mapping[str, str] | None = None,
        capture: bool = True,
    ) -> subprocess.CompletedProcess:
        """Run ``argv`` inside the sandbox until it exits; output is captured as text when ``capture``."""
        pipe = subprocess.PIPE if capture else None
        running = self.start(argv, env=env, stdin=subprocess.DEVNULL if capture else None, stdout=pipe, stderr=pipe)
        try:
            stdout, stderr = running.proc.communicate(timeout=timeout)
        except subprocess.TimeoutExpired:
            raise TimeoutExpired(f"sandboxed command {running.argv[0]!r} did not finish within {timeout:g} s; killed it") from None
        finally:
            running.close()  # also on errors/KeyboardInterrupt: nothing it started is left running
        return subprocess.CompletedProcess(running.argv, running.proc.returncode, _text(stdout), _text(stderr))

    def start(
        self,
        argv: Sequence[str],
        *,
        env: Mapping[str, str] | None = None,
        cwd: str | None = None,
        stdin: Any = subprocess.DEVNULL,
        stdout: Any = None,
        stderr: Any = None,
    ) -> "SandboxedProcess":
        """Start ``argv`` inside the sandbox and return at once (servers: the app under test).

        The caller owns the handle: ``close()`` (or ``stop()``) ends the command's whole process
        group and every relay. ``publish()`` makes a port inside reachable from the host.
        """
        argv = _check_argv(argv)
        available, reason = namespaces_available()
        if not available:
            raise NamespaceUnavailableError(f"cannot run {argv[0]!r} in a sandbox: {reason}")
        tmp = tempfile.TemporaryDirectory(prefix="chaos-sandbox-")  # the mounted files live as long as the command
        spec = {"nameserver": self.nameserver, "forwards": self.forwards, "mounts": self._mount_files(Path(tmp.name))}
        parent, child = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
        command = [shutil.which("unshare") or "unshare", "-rnm", "--", sys.executable, "-I", "-S", str(_CHILD),
                   str(child.fileno()), json.dumps(spec), *argv]
        try:
            proc = subprocess.Popen(command, pass_fds=[child.fileno()], stdin=stdin, stdout=stdout, stderr=stderr,
                                    env=None if env is None else dict(env), cwd=cwd, start_new_session=True)
        except OSError as exc:
            parent.close()
            tmp.cleanup()
            raise SandboxError(f"cannot start the sandbox for {argv[0]!r}: {exc.strerror or exc}") from None
        finally:
            child.close()
        running = SandboxedProcess(proc, argv, self.loop, tmp)
        try:
            with parent:
                parent.settimeout(_READY_TIMEOUT)
                sockets = self._receive_sockets(parent, proc, argv)
                running.serve(self, sockets)
                parent.sendall(b"go")
                _expect_exec(parent, proc, argv)
        except BaseException:
            running.close()
            raise
        return running

    def _mount_files(self, tmp: Path) -> list[tuple[str, str]]:
        resolv = tmp / "resolv.conf"
        resolv.write_text(f"nameserver {self.nameserver}\n{self.options.resolv_conf_options()}\n")
        nsswitch = tmp / "nsswitch.conf"
        nsswitch.write_text(_nsswitch_text())
        mounts = [(str(resolv), os.path.realpath("/etc/resolv.conf"))]
        if os.path.exists("/etc/nsswitch.conf"):
            mounts.append((str(nsswitch), os.path.realpath("/etc/nsswitch.conf")))
        return mounts

    def _receive_sockets(self, channel: socket.socket, proc: subprocess.Popen, argv: list[str]) -> list[socket.socket]:
        expected = 3 + len(self.forwards)  # DNS UDP, DNS TCP, the forwards, the connector
        try:
            message, fds, _flags, _addr = socket.recv_fds(channel, 65536, expected)
        except TimeoutError:
            raise SandboxError(f"sandbox for {argv[0]!r} did not get ready within {_READY_TIMEOUT:g} s") from None
        sockets = [socket.socket(fileno=fd) for fd in fds]
        if not message:
            proc.wait()
            raise SandboxError(f"sandbox for {argv[0]!r} exited during set-up with status {proc.returncode}")
        reply = json.loads(message)
        if "error" in reply or len(sockets) != expected:
            for sock in sockets:
                sock.close()
            raise SandboxError(f"sandbox set-up failed: {reply.get('error', 'wrong number of sockets')}")
        return sockets


class Connector:
    """Asks the sandbox's connector for a socket connected, inside the namespace, to ``host:port``."""

    def __init__(self, channel: socket.socket) -> None:
        self.channel = channel
        self._lock = threading.Lock()

    def connect(self, host: str, port: int) -> socket.socket:
        with self._lock:
            self.channel.sendall(json.dumps({"host": host, "port": port}).encode())
            message, fds, _flags, _addr = socket.recv_fds(self.channel, 4096, 1)
        if not message:
            raise ConnectionRefusedError(f"the sandbox is gone; cannot reach {host}:{port} in it")
        if not fds:
            raise ConnectionRefusedError(f"{host}:{port} inside the sandbox: {json.loads(message)['error']}")
        return socket.socket(fileno=fds[0])

    def close(self) -> None:
        self.channel.close()


class SandboxedProcess:
    """A command running in a sandbox, its relays on the harness loop, and its published ports."""

    def __init__(self, proc: subprocess.Popen, argv: list[str], loop: LoopThread,
                 files: tempfile.TemporaryDirectory) -> None:
        self.proc = proc
        self.files = files
        self.argv = argv
        self.loop = loop
        self.relays: list[UdpForward | TcpForward] = []
        self.published: dict[tuple[str, int], TcpForward] = {}
        self.connector: Connector | None = None
        self._pending: list[socket.socket] = []

    @property
    def pid(self) -> int:
        return self.proc.pid

    def serve(self, sandbox: Sandbox, sockets: list[socket.socket]) -> None:
        """Relay the DNS pair and every forward; keep the connector for ``publish``."""
        self._pending = list(sockets)
        self.connector = Connector(sockets[-1])
        self._pending.remove(sockets[-1])
        dns = tuple(sandbox.dns_server.address)
        targets = [dns, dns, *sandbox.forwards]
        kinds = [UdpForward, TcpForward] + [TcpForward] * len(sandbox.forwards)
        for kind, sock, target in zip(kinds, sockets, targets):
            relay = kind(sock, target)
            self.loop.run(relay.start())
            self.relays.append(relay)
            self._pending.remove(sock)

    def publish(self, host: str, port: int, inner: tuple[str, int]) -> tuple[str, int]:
        """Serve ``host:port`` on this machine, relayed to ``inner`` inside the sandbox; the bound address."""
        from harness.loopback import bind_socket

        assert self.connector is not None
        listener = bind_socket(require_loopback(host, what="published port"), port, what="published port")
        listener.listen(128)
        connector = self.connector

        async def connect_inside() -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
            sock = await asyncio.to_thread(connector.connect, *inner)
            return await asyncio.open_connection(sock=sock)

        relay = TcpForward(listener, inner, connect=connect_inside)
        address = listener.getsockname()[:2]
        self.loop.run(relay.start())
        self.published[address] = relay
        return address

    def unpublish(self, address: tuple[str, int]) -> None:
        """Close a published port (its connections end; the port refuses until published again)."""
        relay = self.published.pop(tuple(address), None)
        if relay is not None:
            self.loop.run(relay.close())

    def stop(self, grace: float) -> int | None:
        """SIGTERM the command, SIGKILL its group after ``grace`` seconds; its exit status."""
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.proc.pid, signal.SIGTERM)
        with contextlib.suppress(subprocess.TimeoutExpired):
            self.proc.wait(grace)
        self.close()
        return self.proc.returncode

    def close(self) -> None:
        """Kill the whole process group, close every relay, published port and socket (idempotent).

        A Ctrl-C meanwhile waits until this is done: an interrupted close would leave the command
        running in its own session with nobody to stop it.
        """
        with interrupts_deferred():
            _kill_group(self.proc)
            for address in list(self.published):
                self.unpublish(address)
            for relay in self.relays:
                self.loop.run(relay.close())
            self.relays = []
            if self.connector is not None:
                self.connector.close()
                self.connector = None
            for sock in self._pending:
                sock.close()
            self._pending = []
            self.files.cleanup()


def _check_argv(argv: Sequence[str]) -> list[str]:
    if isinstance(argv, str) or not argv or not all(isinstance(a, str) for a in argv):
        raise SandboxError(f"sandbox needs the command as a non-empty list of strings, got {argv!r}")
    return list(argv)


def _expect_exec(channel: socket.socket, proc: subprocess.Popen, argv: list[str]) -> None:
    """EOF on the channel means the exec succeeded; a message means it failed (e.g. not found)."""
    try:
        message = channel.recv(65536)
    except TimeoutError:
        raise SandboxError(f"sandbox did not start {argv[0]!r} within {_READY_TIMEOUT:g} s") from None
    if message:
        proc.wait()
        raise SandboxError(f"sandbox {json.loads(message)['error']}")


def _kill_group(proc: subprocess.Popen) -> None:
    """Kill the command's whole process group and wait until every member has exited."""
    with contextlib.suppress(ProcessLookupError):
        os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()
    for pipe in (proc.stdout, proc.stderr):
        if pipe is not None:
            pipe.close()
    for pid in _group_members(proc.pid):
        _wait_exited(pid, _READY_TIMEOUT)


def _group_members(pgid: int) -> list[int]:
    members = []
    for entry in os.scandir("/proc"):
        if entry.name.isdigit():
            try:
                stat = Path(entry.path, "stat").read_text()
            except OSError:
                continue  # exited meanwhile
            if int(stat.rsplit(")", 1)[1].split()[2]) == pgid:
                members.append(int(entry.name))
    return members


def _wait_exited(pid: int, timeout: float) -> None:
    """Block until ``pid`` has exited (its pidfd turns readable); SIGKILL is delivered asynchronously."""
    try:
        pidfd = os.pidfd_open(pid)
    except ProcessLookupError:
        return
    try:
        poller = select.poll()  # not select(): descriptors above 1023 are common in a busy harness
        poller.register(pidfd, select.POLLIN)
        poller.poll(timeout * 1000)
    finally:
        os.close(pidfd)


def _text(data: bytes | None) -> str | None:
    return None if data is None else data.decode("utf-8", errors="replace")


def run_command(
    argv: Sequence[str],
    *,
    dns_server: Any,
    forwards: Sequence[tuple[str, int]] = (),
    timeout: float | None = None,
    env: Mapping[str, str] | None = None,
    capture: bool = False,
    nameserver: str = "127.0.0.53",
    options: ResolverOptions | None = None,
    loop: LoopThread | None = None,
) -> subprocess.CompletedProcess:
    """What ``chaos-harness run -- COMMAND...`` calls: run the command in a sandbox wired to the harness.

    Output goes straight to the terminal unless ``capture``; the caller exits with ``returncode``.
    """
    sandbox = Sandbox(dns_server, forwards, nameserver, options, loop=loop)
    return sandbox.run(argv, timeout=timeout, env=env, capture=capture)
