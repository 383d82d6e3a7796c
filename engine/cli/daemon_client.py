"""The client side of the resident govops process (engine.cli.daemon): hand it one `govops
check`, or say there is none. Standard library only (and engine.statedir): this runs before
click, pygit2 or any stage is imported, which is the whole point.

Which daemon: one per govops installation and interpreter, identified by the interpreter and
the size and mtime of every file of the engine package (its code, policies and stacks), so a
changed govops is never answered by a daemon running the old one. It listens on a unix socket
in a private folder (engine.statedir): only this user can talk to it.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import signal
import socket
import struct
import sys
import time
from pathlib import Path
from typing import Any

from engine.statedir import private_folder, state_base

DAEMON_ENV = "GOVOPS_DAEMON"  # "0": never use or start one
IDLE_ENV = "GOVOPS_DAEMON_IDLE"  # seconds unused before it exits (default 900)
SOCKET = "s"  # short: a unix socket path must fit in 107 bytes
TIMEOUT = 120.0  # seconds a check may take in the daemon before it is deemed stuck
_SKIP = {"__pycache__"}


def identity(package: Path | None = None) -> str:
    """A digest of the interpreter and of every file of the engine package (name, size,
    mtime): a rebuilt, upgraded or edited govops gets a daemon of its own."""
    package = package or Path(__file__).resolve().parents[1]
    digest = hashlib.sha256(f"{sys.executable}\n{sys.version}\n{package}\n".encode())
    for top, dirs, files in os.walk(package, followlinks=True):
        dirs[:] = sorted(d for d in dirs if d not in _SKIP)
        for name in sorted(files):
            st = os.stat(os.path.join(top, name))
            digest.update(f"{top}/{name}:{st.st_size}:{st.st_mtime_ns}\n".encode())
    return digest.hexdigest()[:16]


def folder(ident: str | None = None) -> Path:
    return private_folder(private_folder(state_base() / "daemon") / (ident or identity()))


def forwardable(argv: list[str]) -> bool:
    """Only `check` without --record/--key/--keyless: a read-only command that can simply be
    run again here if the daemon fails halfway (a recording one could append twice)."""
    if argv[:1] != ["check"] or os.environ.get(DAEMON_ENV, "1") == "0":
        return False
    return not any(a in ("--record", "--keyless", "-h", "--help") or a.startswith("--key")
                   for a in argv[1:])


def forward(argv: list[str]) -> tuple[str, str, int] | None:
    """(stdout, stderr, exit code) of the command run by the daemon; None when there is no
    daemon to answer (the caller runs the command itself)."""
    try:
        path = folder() / SOCKET
    except Exception:  # no usable state folder: no daemon
        return None
    request = {"argv": argv, "cwd": os.getcwd(), "env": dict(os.environ)}
    try:
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as conn:
            conn.settimeout(TIMEOUT)
            conn.connect(str(path))
            if not _ours(conn):
                return None
            conn.sendall(json.dumps(request).encode() + b"\n")
            conn.shutdown(socket.SHUT_WR)
            raw = receive_all(conn)
    except TimeoutError:
        _replace(path.parent)  # stuck: it must not hold every later commit
        return None
    except OSError:
        return None
    try:
        answer: dict[str, Any] = json.loads(raw)
        return str(answer["stdout"]), str(answer["stderr"]), int(answer["code"])
    except (ValueError, KeyError, TypeError):
        return None  # it died halfway or cannot run this: run it here


def receive_all(conn: socket.socket) -> bytes:
    """Everything the other end sends until it closes its side (both ends speak this way)."""
    chunks = []
    while chunk := conn.recv(1 << 16):
        chunks.append(chunk)
    return b"".join(chunks)


def start() -> None:
    """Start a daemon for this installation in the background (its own session, no terminal,
    no pipes: a pre-commit run would wait for an inherited pipe); the first one to bind the
    socket wins, the others exit."""
    try:
        where = folder()
    except Exception:  # no usable state folder: run without a daemon
        return
    if len(os.fsencode(where / SOCKET)) > 100:  # no unix socket fits: no daemon, every time
        return
    import subprocess

    idle = os.environ.get(IDLE_ENV) or "900"
    # -P and a private cwd: `python -m` would otherwise put the working directory (the governed
    # repo, whose files anyone who can commit controls) first on sys.path, ahead of govops.
    subprocess.Popen([sys.executable, "-P", "-m", "engine.cli.daemon", str(where), idle],
                     cwd=where, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                     stderr=subprocess.DEVNULL, start_new_session=True, close_fds=True)


def _ours(conn: socket.socket) -> bool:
    """Whether the process at the other end runs as this user (SO_PEERCRED, Linux): a state
    folder someone else could swap (under /tmp) must not get our environment."""
    if not hasattr(socket, "SO_PEERCRED"):
        return True
    raw = conn.getsockopt(socket.SOL_SOCKET, socket.SO_PEERCRED, struct.calcsize("3i"))
    _, uid, _ = struct.unpack("3i", raw)
    return bool(uid == os.getuid())


def _replace(where: Path) -> None:
    """Kill a daemon that stopped answering and free its socket for the next one."""
    pid = _pid(where)
    if pid is not None:
        with contextlib.suppress(OSError):
            # Its whole process group (it leads its own session): forked workers of a check
            # it was running must not live on as orphans waiting for work.
            if os.getpgid(pid) == pid:
                os.killpg(pid, signal.SIGKILL)
            else:
                os.kill(pid, signal.SIGKILL)
    (where / SOCKET).unlink(missing_ok=True)


def _pid(where: Path) -> int | None:
    try:
        pid = int((where / "pid").read_text())
        cmdline = Path(f"/proc/{pid}/cmdline").read_bytes()
    except (OSError, ValueError):
        return None
    return pid if b"engine.cli.daemon" in cmdline else None


def running() -> list[tuple[Path, int, int]]:
    """(folder, pid, checks served) of every daemon of this user."""
    base = state_base() / "daemon"
    found = []
    for where in sorted(p for p in base.iterdir() if p.is_dir()) if base.is_dir() else []:
        pid = _pid(where)
        if pid is not None:
            try:
                served = int((where / "served").read_text())
            except (OSError, ValueError):
                served = 0
            found.append((where, pid, served))
    return found


def stop_all() -> int:
    """Stop every daemon of this user (SIGTERM; each removes its socket); how many."""
    stopped = 0
    for where, pid, _ in running():
        try:
            os.kill(pid, signal.SIGTERM)
        except OSError:
            continue
        deadline = time.monotonic() + 10
        while _pid(where) == pid and time.monotonic() < deadline:
            time.sleep(0.02)
        stopped += 1
    return stopped
