"""The resident govops process: runs `govops check` for the console script, with every import
already done. Importing click, pygit2, the stages and the trust-root libraries is 0.3 s of a
0.45 s pre-commit hook; this process pays it once.

`python -m engine.cli.daemon FOLDER IDLE_SECONDS`, started by engine.cli.daemon_client. It
serves one request at a time on FOLDER/s: the client's argv, working directory and whole
environment, applied for that request and restored after; the command runs exactly as it
would in the client (the same click group, fresh state: every cache in the engine is keyed by
content), and its stdout, stderr and exit code go back. It exits after IDLE_SECONDS without a
request, when its socket is removed, or on SIGTERM (`govops engine stop`).
"""

from __future__ import annotations

import contextlib
import gc
import io
import json
import os
import signal
import socket
import sys
import time
from pathlib import Path
from typing import Any

from engine.cli.daemon_client import SOCKET, receive_all

PID = "pid"
SERVED = "served"  # how many checks it answered (govops engine status)


def _warm() -> None:
    """The imports of a check, the Sigstore-free verification path and the OPA client."""
    import engine.approvals.collect
    import engine.attest.trust_config
    import engine.cli.main
    import engine.commands.check
    import engine.commands.trust
    import engine.policy.backends.opa_server
    import engine.policy.backends.resident
    import engine.report.text  # noqa: F401 - loaded for the requests, not used here
    from engine.catalog.load import keep_decoded
    from engine.policy.input import keep_packages

    keep_decoded()  # content-addressed: the same for every repository and request
    keep_packages()


def run_request(request: dict[str, Any]) -> dict[str, Any]:
    """Run one command as the client asked. The cyclic collector is off while it runs (a cold
    10,000-object check spent 1 s in it, walking what the check builds and keeps) and back on
    once the answer is sent (serve)."""
    from engine.cli.main import main

    gc.disable()
    saved_env, saved_cwd = dict(os.environ), os.getcwd()
    out, err = io.StringIO(), io.StringIO()
    code = 0
    try:
        os.environ.clear()
        os.environ.update({str(k): str(v) for k, v in dict(request["env"]).items()})
        os.chdir(str(request["cwd"]))
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            try:
                main.main(args=[str(a) for a in request["argv"]], prog_name="govops")
            except SystemExit as exc:
                code = exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)
    finally:
        os.environ.clear()
        os.environ.update(saved_env)
        os.chdir(saved_cwd)
    return {"stdout": out.getvalue(), "stderr": err.getvalue(), "code": code}


def _collect() -> None:
    """After a request: collect its cyclic garbage, then freeze what survives (mostly the
    content-keyed memos) so that no later collection walks it again."""
    gc.enable()
    gc.collect()
    gc.freeze()


def serve(folder: Path, idle: float) -> int:
    path = folder / SOCKET
    server = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        if path.exists():
            with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as probe:
                try:
                    probe.connect(str(path))
                    return 0  # another daemon of this installation already answers
                except OSError:
                    path.unlink()  # left by one that died
        server.bind(str(path))
    except OSError:
        return 0  # another one won the race, or the path does not fit: no daemon, no harm
    os.chmod(path, 0o600)
    (folder / PID).write_text(str(os.getpid()))
    server.listen(8)  # a check arriving while the imports below run waits in the backlog
    _warm()  # after winning the socket: a daemon that lost the race exits without them
    server.settimeout(min(5.0, max(0.2, idle / 10)))
    stopping = False

    def stop(_signum: int, _frame: object) -> None:
        nonlocal stopping
        stopping = True

    signal.signal(signal.SIGTERM, stop)
    last = time.monotonic()
    served = 0
    try:
        while not stopping and time.monotonic() - last < idle and path.exists():
            try:
                conn, _ = server.accept()
            except TimeoutError:
                continue
            with conn:
                try:
                    conn.settimeout(60)
                    raw = receive_all(conn)
                    try:
                        answer = run_request(json.loads(raw))
                    except Exception:  # a bug here: the client runs the command itself
                        answer = {"fallback": True}
                    conn.sendall(json.dumps(answer).encode())
                except OSError:  # the client went away: it runs the check itself
                    continue
                finally:
                    _collect()
            served += 1
            (folder / SERVED).write_text(str(served))
            last = time.monotonic()
    finally:
        server.close()
        with contextlib.suppress(OSError):
            if (folder / PID).read_text() == str(os.getpid()):
                path.unlink(missing_ok=True)
                (folder / PID).unlink(missing_ok=True)
    return 0


def main(argv: list[str]) -> int:
    if len(argv) != 2:  # only engine.cli.daemon_client runs this, with these arguments
        return 2
    return serve(Path(argv[0]), float(argv[1]))


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
