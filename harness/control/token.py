"""The control API's bearer token: made by the server, found by every client the same way.

Loopback is reachable by every local user and by any web page, so the control API (which injects
faults) requires ``Authorization: Bearer <token>``. ``chaos-harness up`` makes a random token and
writes it to a file only its user can read; clients (``RemoteHarness``, the CLI, the pytest
plugin) look in env ``CHAOS_HARNESS_TOKEN``, else the file named by env
``CHAOS_HARNESS_TOKEN_FILE``, else the file a harness on that port wrote (``default_token_path``).
Files are per port, so two harnesses on one machine do not overwrite each other's token.
"""

from __future__ import annotations

import os
import secrets
from pathlib import Path

from harness.errors import ConfigError

TOKEN_VARIABLE = "CHAOS_HARNESS_TOKEN"
TOKEN_FILE_VARIABLE = "CHAOS_HARNESS_TOKEN_FILE"


def new_token() -> str:
    return secrets.token_urlsafe(32)


def token_dir() -> Path:
    """``$XDG_RUNTIME_DIR/chaos-harness`` (per user, tmpfs), else ``~/.cache/chaos-harness``."""
    runtime = os.environ.get("XDG_RUNTIME_DIR")
    base = Path(runtime) if runtime else Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache")
    return base / "chaos-harness"


def default_token_path(port: int) -> Path:
    return token_dir() / f"{port}.token"


def write_token(path: Path, token: str) -> None:
    """Write ``token`` to ``path`` with mode 0600 (its directory made 0700 if missing)."""
    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as out:
            os.fchmod(out.fileno(), 0o600)  # an existing file keeps its mode on open: force it
            out.write(token + "\n")
    except OSError as exc:
        raise ConfigError(f"cannot write the control API token to {path}: {exc.strerror or exc}") from None


def remove_token(path: Path, token: str) -> None:
    """Delete the token file if it still holds ``token`` (another harness may have replaced it)."""
    try:
        if path.read_text().strip() == token:
            path.unlink()
    except OSError:
        pass


def read_token(path: Path) -> str:
    try:
        token = path.read_text().strip()
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"cannot read the control API token from {path}: {getattr(exc, 'strerror', None) or exc}") from None
    if not token:
        raise ConfigError(f"the control API token file {path} is empty")
    return token


def find_token(port: int) -> str | None:
    """The token for the harness on ``port``: env, env-named file, or that port's token file."""
    token = os.environ.get(TOKEN_VARIABLE, "").strip()
    if token:
        return token
    named = os.environ.get(TOKEN_FILE_VARIABLE)
    if named:
        return read_token(Path(named))
    default = default_token_path(port)
    return read_token(default) if default.exists() else None
