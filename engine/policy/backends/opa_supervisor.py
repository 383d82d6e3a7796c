"""The parent of one resident `opa run --server`: stops it after an idle time, reaps it.

Run by engine.policy.backends.resident as `python -m engine.policy.backends.opa_supervisor
FOLDER IDLE_SECONDS -- OPA_COMMAND...` in its own session, with no terminal and no pipes (a
pre-commit run would otherwise wait for it). OPA has no idle timeout of its own; every check
touches FOLDER/used, and once that is older than IDLE_SECONDS the server is stopped and its
record removed, so a forgotten server does not hold memory for ever. When OPA dies the
record goes too, and the next check starts a new one. Standard library only: it runs
alongside every resident server.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

RECORD = "server.json"
USED = "used"
PIDS = "pids.json"


def _idle_for(folder: Path) -> float:
    try:
        return time.time() - (folder / USED).stat().st_mtime
    except FileNotFoundError:
        return float("inf")


def _still_ours(folder: Path, pid: int) -> bool:
    """False once another server replaced this one in the folder (a restart)."""
    try:
        return int(json.loads((folder / PIDS).read_text())["opa"]) == pid
    except (OSError, ValueError, KeyError, TypeError):
        return False


def supervise(folder: Path, idle: float, command: list[str]) -> int:
    with open(folder / "opa.log", "wb") as log:
        # Nothing of the committer's environment: repo policies can read OPA's through
        # opa.runtime().env, and tokens live there.
        opa = subprocess.Popen(command, stdin=subprocess.DEVNULL, stdout=log,
                               stderr=subprocess.STDOUT, close_fds=True,
                               env={"HOME": str(folder)}, cwd=folder)
    pids = folder / PIDS
    tmp = folder / f".{PIDS}.{os.getpid()}"
    tmp.write_text(json.dumps({"opa": opa.pid, "supervisor": os.getpid()}))
    os.replace(tmp, pids)
    (folder / USED).touch()
    stopping = False

    def stop(_signum: int, _frame: object) -> None:
        nonlocal stopping
        stopping = True

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    tick = max(0.2, min(idle / 10, 5.0))
    checked = 0.0
    while opa.poll() is None and not stopping:
        if time.monotonic() - checked >= tick:
            if _idle_for(folder) > idle or not _still_ours(folder, opa.pid):
                break
            checked = time.monotonic()
        time.sleep(0.1)  # short: a SIGTERM (govops engine stop) is answered at once
    if opa.poll() is None:
        opa.terminate()
        try:
            opa.wait(timeout=5)
        except subprocess.TimeoutExpired:
            opa.kill()
            opa.wait()
    if _still_ours(folder, opa.pid):
        for name in (RECORD, PIDS):
            (folder / name).unlink(missing_ok=True)
    return 0


def main(argv: list[str]) -> int:
    if len(argv) < 4 or argv[2] != "--":  # only resident.py runs this, with these arguments
        return 2
    return supervise(Path(argv[0]), float(argv[1]), argv[3:])


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
