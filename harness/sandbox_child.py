"""The part of the sandbox that runs inside the new user+network+mount namespace.

``harness.sandbox`` starts this file as ``unshare -rnm -- python -I -S sandbox_child.py FD SPEC``.
Sockets stay in the network namespace they were created in, so the listening sockets the command
must reach (the DNS server on port 53 and every forwarded TCP service) are created *here* and handed
to the parent over the inherited Unix socket ``FD`` (SCM_RIGHTS); the parent serves them from its
own namespace. Only the standard library is used (no harness import) so start-up stays fast and the
file works whatever ``sys.path`` the command gets.

Protocol on ``FD`` (SOCK_SEQPACKET): child sends ``{"ready": true}`` with the fds (DNS UDP, DNS
TCP, then one per forward in order, then the connector's end) or ``{"error": "..."}``; the parent
answers ``go``; the child starts the connector and execs the command. The fd is close-on-exec, so the parent sees EOF when the exec succeeded and an
``{"error": ...}`` message when it failed.
"""

from __future__ import annotations

import ctypes
import fcntl
import json
import os
import socket
import struct
import sys

SIOCGIFFLAGS = 0x8913
SIOCSIFFLAGS = 0x8914
IFF_UP = 0x1
MS_BIND = 0x1000


def loopback_up() -> None:
    """``ip link set lo up`` without needing the ip tool: a new netns starts with lo down."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        request = struct.pack("16sh", b"lo", 0)
        flags = struct.unpack("16sh", fcntl.ioctl(sock, SIOCGIFFLAGS, request))[1]
        fcntl.ioctl(sock, SIOCSIFFLAGS, struct.pack("16sh", b"lo", flags | IFF_UP))


def bind_mount(source: str, target: str) -> None:
    libc = ctypes.CDLL(None, use_errno=True)
    if libc.mount(source.encode(), target.encode(), None, MS_BIND, None) != 0:
        err = ctypes.get_errno()
        raise OSError(err, f"cannot bind-mount {source} over {target}: {os.strerror(err)}")


def listen(host: str, port: int, kind: int) -> socket.socket:
    """Bind (and for TCP listen) inside the sandbox. ``harness.loopback.bind_socket`` binds the same
    way, but this file imports nothing from the harness (see the module docstring)."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, kind)
    try:
        if kind == socket.SOCK_STREAM:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((host, port))
        if kind == socket.SOCK_STREAM:
            sock.listen(128)
    except OSError as exc:
        sock.close()
        raise OSError(exc.errno, f"cannot listen on {host}:{port} inside the sandbox: {exc.strerror}") from None
    return sock


def prepare(spec: dict) -> list[socket.socket]:
    """Set up the namespace as ``spec`` says and return the sockets for the parent."""
    loopback_up()
    for source, target in spec["mounts"]:
        bind_mount(source, target)
    host = spec["nameserver"]
    socks = [listen(host, 53, socket.SOCK_DGRAM), listen(host, 53, socket.SOCK_STREAM)]
    for fwd_host, fwd_port in spec["forwards"]:
        socks.append(listen(fwd_host, fwd_port, socket.SOCK_STREAM))
    return socks


def serve_connections(channel: socket.socket) -> None:
    """The connector: connect inside the namespace on the parent's request and hand the socket out.

    Traffic from the host to a server in the sandbox (the app under test) cannot be relayed by a
    listener created here: the server is not listening yet. So the parent asks, per accepted
    connection, ``{"host", "port"}``; we connect from inside and send back the connected socket
    (or ``{"error"}``). Runs until the parent closes its end.
    """
    while True:
        request = channel.recv(4096)
        if not request:
            return
        target = json.loads(request)
        try:
            sock = socket.create_connection((target["host"], target["port"]), timeout=5)
        except OSError as exc:
            send(channel, {"error": exc.strerror or str(exc)})
            continue
        send(channel, {"ok": True}, [sock.fileno()])
        sock.close()


def start_connector(channel: socket.socket, exec_channel: socket.socket) -> None:
    """Double-fork the connector so the command (exec'd in this process) never has to reap it."""
    pid = os.fork()
    if pid:
        os.waitpid(pid, 0)
        channel.close()
        return
    if os.fork():
        os._exit(0)
    try:
        exec_channel.close()  # the parent must see EOF when the command's exec succeeds
        null = os.open(os.devnull, os.O_RDWR)
        for fd in (0, 1, 2):  # never hold the command's output pipes open
            os.dup2(null, fd)
        serve_connections(channel)
    finally:
        os._exit(0)


def send(channel: socket.socket, message: dict, fds: list[int] = ()) -> None:
    socket.send_fds(channel, [json.dumps(message).encode()], list(fds))


def main(argv: list[str]) -> int:
    channel = socket.socket(fileno=int(argv[1]))
    channel.set_inheritable(False)  # closes on exec: EOF tells the parent the exec worked
    spec = json.loads(argv[2])
    command = argv[3:]
    try:
        socks = prepare(spec)
    except OSError as exc:
        send(channel, {"error": exc.strerror or str(exc)})
        return 1
    ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
    send(channel, {"ready": True}, [s.fileno() for s in socks] + [theirs.fileno()])
    for sock in [*socks, theirs]:  # the parent holds duplicates; the command must not inherit them
        sock.close()
    if channel.recv(16) != b"go":
        return 1  # the parent gave up (timeout, error): nothing to run
    start_connector(ours, channel)
    try:
        os.execvp(command[0], command)
    except OSError as exc:
        send(channel, {"error": f"cannot run {command[0]!r}: {exc.strerror}", "errno": exc.errno})
        return 127
    return 0  # not reached: execvp replaced this process


if __name__ == "__main__":
    sys.exit(main(sys.argv))
