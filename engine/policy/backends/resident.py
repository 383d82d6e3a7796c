"""The resident local OPA: one official `opa run --server` per policy bundle, kept across
commands so that a commit pays for neither compiling the policies nor loading lock files.

Each server lives in its own folder under the user's state directory (engine.statedir),
keyed by the policy-bundle digest: a repo whose policies differ gets its own server, and a
server can only ever answer for the bundle it was loaded with. The folders are private (0700,
the user's own); servers listen on 127.0.0.1 only and demand a random bearer token (OPA's
token authentication with a system.authz policy), so another local user can neither query
nor reload them.

A server is started under a flock (two commits at once start one server), is parented by
engine.policy.backends.opa_supervisor (which stops it after GOVOPS_OPA_IDLE seconds unused,
900 by default), and is replaced when it died or when the `opa` binary found now is not the
one it was started from.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import fcntl
import json
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass
from pathlib import Path

from engine.errors import EngineError
from engine.policy.backends.opa_rest import Endpoint, OpaUnreachable, request
from engine.policy.backends.opa_supervisor import PIDS, RECORD, USED
from engine.statedir import private_folder, state_base

BINARY_ENV = "GOVOPS_OPA"
IDLE_ENV = "GOVOPS_OPA_IDLE"
DEFAULT_IDLE = 900.0
START_TIMEOUT = 30.0


@dataclass(frozen=True)
class Binary:
    """An `opa` executable and what identifies this build of it (a rebuilt or upgraded
    binary at the same path is a different identity, so its servers are replaced)."""

    path: str
    identity: str

    @classmethod
    def at(cls, path: str) -> Binary:
        real = os.path.realpath(path)
        st = os.stat(real)
        return cls(real, f"{st.st_size}:{st.st_mtime_ns}:{st.st_ino}")


def find_binary() -> Binary | None:
    """GOVOPS_OPA when set (an error if it is not an executable), else `opa` on PATH."""
    configured = os.environ.get(BINARY_ENV)
    if configured:
        if not (os.path.isfile(configured) and os.access(configured, os.X_OK)):
            raise EngineError(f"{BINARY_ENV}={configured} is not an executable")
        return Binary.at(configured)
    found = shutil.which("opa")
    return Binary.at(found) if found else None


@dataclass(frozen=True)
class Resident:
    """The record (server.json) of a running resident server."""

    bundle: str
    port: int
    token: str
    opa: int
    supervisor: int
    binary: str
    binary_id: str
    version: str
    started: str

    @property
    def endpoint(self) -> Endpoint:
        return Endpoint(f"http://127.0.0.1:{self.port}", self.token)


@dataclass(frozen=True)
class ServerStatus:
    folder: Path
    record: Resident | None
    running: bool
    idle_seconds: float | None


def state_root() -> Path:
    return private_folder(state_base() / "opa")


def server_folder(bundle: str) -> Path:
    return private_folder(state_root() / bundle.split(":")[-1][:24])


def _read(folder: Path) -> Resident | None:
    try:
        raw = json.loads((folder / RECORD).read_text())
        return Resident(**raw)
    except (OSError, ValueError, TypeError):
        return None


def _state(pid: int) -> str | None:
    """The process state letter (None when there is no such process); a zombie is 'Z'."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        try:
            os.kill(pid, 0)
        except (ProcessLookupError, PermissionError):
            return None
        return "?"
    return stat.rpartition(")")[2].split()[0]


def _runs(pid: int, binary: str) -> bool:
    """Whether pid is alive and (where /proc tells) runs `binary`: a recycled pid is not ours."""
    if _state(pid) in (None, "Z"):
        return False
    if not Path("/proc").is_dir():  # no /proc to ask: alive is all we can know
        return True
    try:
        return os.path.realpath(f"/proc/{pid}/exe", strict=True) == binary
    except OSError:  # another user's process (permission denied), or gone
        return False


def _current(folder: Path, bundle: str, binary: Binary) -> Resident | None:
    record = _read(folder)
    if (record is None or record.bundle != bundle or record.binary_id != binary.identity
            or not _runs(record.opa, record.binary)):
        return None
    return record


def touch(folder: Path) -> None:
    (folder / USED).touch()


@contextlib.contextmanager
def _locked(folder: Path) -> Iterator[None]:
    with open(folder / "lock", "w") as guard:
        fcntl.flock(guard, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(guard, fcntl.LOCK_UN)


def ensure(bundle: str, binary: Binary, load: Callable[[Endpoint], None], *,
           restart: bool = False) -> Resident:
    """A running server holding `bundle`: the recorded one when it is alive and from
    `binary` (no lock, no request: the hot path), else a new one loaded by `load`.
    `restart` replaces the recorded server whatever it says (it stopped answering, or
    answered for another bundle)."""
    folder = server_folder(bundle)
    stale = _read(folder) if restart else None
    if not restart:
        found = _current(folder, bundle, binary)
        if found is not None:
            touch(folder)
            return found
    with _locked(folder):
        found = _current(folder, bundle, binary)
        if found is not None and (stale is None or found.opa != stale.opa):
            touch(folder)
            return found
        _stop(folder)
        return _start(folder, bundle, binary, load)


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def _version(binary: Binary) -> str:
    run = subprocess.run([binary.path, "version"], capture_output=True, text=True,
                         timeout=30, check=False)
    for line in run.stdout.splitlines():
        if line.startswith("Version:"):
            return line.split(":", 1)[1].strip()
    raise EngineError(f"{binary.path} is not OPA: `opa version` printed "
                      f"{(run.stdout + run.stderr).strip()[:120]!r}")


def _write_private(path: Path, text: str) -> None:
    tmp = path.with_name(f".{path.name}.{os.getpid()}")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as handle:
        handle.write(text)
    os.replace(tmp, path)


def _start(folder: Path, bundle: str, binary: Binary, load: Callable[[Endpoint], None]
           ) -> Resident:
    version = _version(binary)
    token = secrets.token_urlsafe(32)
    authz = folder / "authz.rego"
    _write_private(authz, "package system.authz\n\nimport rego.v1\n\ndefault allow := false\n\n"
                          f'allow if input.identity == "{token}"\n')
    idle = float(os.environ.get(IDLE_ENV) or DEFAULT_IDLE)
    for _ in range(3):  # another process may take the free port before OPA binds it
        port = _free_port()
        command = [binary.path, "run", "--server", "--addr", f"127.0.0.1:{port}",
                   "--authentication=token", "--authorization=basic",
                   "--skip-version-check", "--log-level=error",
                   "--optimize-store-for-read-speed", "--shutdown-grace-period=1", str(authz)]
        (folder / PIDS).unlink(missing_ok=True)
        # -P and a private cwd: `python -m` would otherwise put the working directory (the
        # governed repo) first on sys.path, so a committed engine/ package would run instead.
        subprocess.Popen(
            [sys.executable, "-P", "-m", "engine.policy.backends.opa_supervisor", str(folder),
             str(idle), "--", *command],
            cwd=folder, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL, start_new_session=True, close_fds=True)
        endpoint = Endpoint(f"http://127.0.0.1:{port}", token)
        pids = _wait_ready(folder, endpoint)
        if pids is not None:
            break
    else:
        raise EngineError(f"the resident OPA did not start: {_log_tail(folder)}")
    try:
        load(endpoint)
    except BaseException:
        _stop(folder)  # a server that could not take the bundle answers for nothing
        raise
    record = Resident(bundle=bundle, port=port, token=token, opa=pids[0], supervisor=pids[1],
                      binary=binary.path, binary_id=binary.identity, version=version,
                      started=dt.datetime.now(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ"))
    _write_private(folder / RECORD, json.dumps(asdict(record)))
    touch(folder)
    return record


def _pids(folder: Path) -> tuple[int, int] | None:
    try:
        raw = json.loads((folder / PIDS).read_text())
        return int(raw["opa"]), int(raw["supervisor"])
    except (OSError, ValueError, KeyError, TypeError):
        return None


def _wait_ready(folder: Path, endpoint: Endpoint) -> tuple[int, int] | None:
    """(opa pid, supervisor pid) once OPA answers; None when it exited (e.g. port taken)."""
    deadline = time.monotonic() + START_TIMEOUT
    while time.monotonic() < deadline:
        pids = _pids(folder)
        if pids is not None:
            if _state(pids[0]) in (None, "Z"):
                return None
            if _listens(pids[0], endpoint.address[1]):
                try:
                    request(endpoint, "GET", "/health", timeout=2)
                    return pids
                except OpaUnreachable:
                    pass
        time.sleep(0.02)
    pids = _pids(folder)
    if pids is not None:
        _signal(pids[1], signal.SIGTERM)
    raise EngineError(f"the resident OPA did not answer within {START_TIMEOUT:.0f} s: "
                      f"{_log_tail(folder)}")


def _listens(pid: int, port: int) -> bool:
    """Whether `pid` holds the socket listening on 127.0.0.1:port. Checked before a single
    byte (the token, the policies) goes to the port: between choosing a free port and OPA
    binding it, another local user could have bound it. Without /proc there is nothing to
    ask, and the port is trusted as before."""
    if not Path("/proc/net/tcp").exists():
        return True
    wanted = f"0100007F:{port:04X}"
    inodes = set()
    with contextlib.suppress(OSError):
        for line in Path("/proc/net/tcp").read_text().splitlines()[1:]:
            fields = line.split()
            if fields[1] == wanted and fields[3] == "0A":  # local address, LISTEN
                inodes.add(fields[9])
    if not inodes:
        return False
    try:
        fds = os.listdir(f"/proc/{pid}/fd")
    except OSError:  # not ours to look at, or gone
        return False
    links = set()
    for fd in fds:
        with contextlib.suppress(OSError):  # closed meanwhile
            links.add(os.readlink(f"/proc/{pid}/fd/{fd}"))
    return any(f"socket:[{inode}]" in links for inode in inodes)


def _log_tail(folder: Path) -> str:
    try:
        lines = (folder / "opa.log").read_text(errors="replace").strip().splitlines()
    except OSError:
        return "no log"
    return lines[-1][:300] if lines else "its log is empty"


def _signal(pid: int, signum: int) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.kill(pid, signum)


def _stop(folder: Path) -> Resident | None:
    """Stop the folder's server (through its supervisor, or directly if that is gone) and
    remove its record; only processes that are what the folder says they are get a signal."""
    record = _read(folder)
    pids = _pids(folder)
    opa, supervisor = pids if pids else ((record.opa, record.supervisor) if record else (0, 0))
    binary = record.binary if record else None
    if supervisor and _is_supervisor(supervisor):
        _signal(supervisor, signal.SIGTERM)
    deadline = time.monotonic() + 6
    while opa and _state(opa) not in (None, "Z") and time.monotonic() < deadline:
        time.sleep(0.02)
    if opa and _state(opa) not in (None, "Z") and (binary is None or _runs(opa, binary)):
        _signal(opa, signal.SIGKILL)
    for name in (RECORD, PIDS):
        (folder / name).unlink(missing_ok=True)
    return record


def _is_supervisor(pid: int) -> bool:
    try:
        return b"engine.policy.backends.opa_supervisor" in Path(
            f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return _state(pid) is not None


def statuses() -> list[ServerStatus]:
    found = []
    for folder in sorted(p for p in state_root().iterdir() if p.is_dir()):
        record = _read(folder)
        try:
            idle: float | None = time.time() - (folder / USED).stat().st_mtime
        except OSError:
            idle = None
        running = record is not None and _runs(record.opa, record.binary)
        if record is not None or running:
            found.append(ServerStatus(folder, record, running, idle))
    return found


def stop_all() -> list[Resident]:
    stopped = []
    for folder in sorted(p for p in state_root().iterdir() if p.is_dir()):
        with _locked(folder):
            record = _stop(folder)
        if record is not None:
            stopped.append(record)
    return stopped
