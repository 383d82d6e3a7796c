"""`attest --record` records the decision and its AIBOM as one: 50 SIGKILLs and 50 full disks
at every point of the append, and every ledger verifies and holds both or neither.

The faults are put exactly where they matter by tests/support/attest_fault.py: before each
object git writes for the two entries (so between the decision's commit and the AIBOM's),
after the ref moved, and (full disk only) in each of the four output files. The kill trials
also SIGKILL at seeded random moments of the whole command. The trials share one repository
whose ledger grows with the trials that got through.
"""

from __future__ import annotations

import errno
import os
import random
import signal
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path
from typing import Any

import pytest

from engine.ledger.store import Ledger
from engine.repo import open_repo
from engine.repo.scripted import Step
from tests.support.attest_fault import faults
from tests.support.cli import govops
from tests.support.ledger_worker import ROOT, environment
from tests.support.repos import NOW, make_repo
from tests.support.samples import GOOD
from tests.support.trust import trusted

TRIALS = 50
SEED = 20261205
FILES = ("decision.json", "decision.sigstore.json", "aibom.cdx.json", "aibom.sigstore.json")


def _setup(tmp: Path) -> tuple[Path, Path]:
    """A small governed repo whose trust root trusts the key `ci`."""
    assert govops("keygen", "--output", str(tmp / "ci")).exit_code == 0
    repo = tmp / "repo"
    make_repo(repo, Step("good", GOOD))
    trusted(repo, tmp / "trust", tmp / "ci.pub")
    return repo, tmp / "ci.key"


def _args(repo: Path, key: Path, output: Path) -> list[str]:
    return ["attest", "--repo", str(repo), "--key", str(key), "--output", str(output),
            "--now", NOW, "--engine", "opa", "--record"]


def _types(repo: Path) -> list[tuple[str, str]]:
    return [(e.entry.type, e.entry.revision or "") for e in Ledger(open_repo(repo)).entries()]


def _writes(repo: Path, key: Path, tmp: Path) -> int:
    """How many objects one append of `attest --record` writes (blobs, trees, commits)."""
    run = subprocess.run([sys.executable, str(ROOT / "tests/support/attest_fault.py"), "count",
                          "0", *_args(repo, key, tmp / "counted")], capture_output=True,
                         text=True, env={**environment(), "GOVOPS_DAEMON": "0"}, check=False)
    assert run.returncode == 0, run.stderr
    return int(run.stderr.split("writes ")[1].split()[0])


def _assert_whole(repo: Path, before: list[tuple[str, str]], output: Path) -> str:
    """The ledger verifies and grew by nothing or by exactly the decision and AIBOM of HEAD;
    the output holds all four files or none of them. Returns which."""
    verified = govops("audit", "verify", "--repo", str(repo))
    assert verified.exit_code == 0, verified.stdout + verified.stderr
    after = _types(repo)
    head = str(open_repo(repo).resolve("HEAD").id)
    assert after[:len(before)] == before
    grown = after[len(before):]
    assert grown in ([], [("decision", head), ("aibom", head)]), grown
    present = [name for name in FILES if (output / name).exists()]
    assert present in ([], list(FILES)), present
    return "both" if grown else "neither"


def test_sigkill_anywhere_in_attest_record_leaves_both_or_neither(tmp_path: Path) -> None:
    repo, key = _setup(tmp_path)
    started = time.monotonic()
    writes = _writes(repo, key, tmp_path)
    whole_run = time.monotonic() - started  # the whole command in its own process
    assert writes >= 6  # two entries: at least a blob, a tree and a commit each
    rng = random.Random(SEED)
    points: list[str] = [str(n) for n in range(1, writes + 1)] + ["after-ref"]
    outcomes: Counter[str] = Counter()
    for trial in range(TRIALS):
        before, output = _types(repo), tmp_path / f"out-{trial}"
        at = points[trial] if trial < len(points) else "never"
        proc = subprocess.Popen(
            [sys.executable, str(ROOT / "tests/support/attest_fault.py"), "kill", at,
             *_args(repo, key, output)], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
            env={**environment(), "GOVOPS_DAEMON": "0"})
        if at == "never":  # a seeded moment of the whole command, start-up to the end
            try:
                proc.wait(timeout=rng.uniform(0.1, 1.2 * whole_run))
            except subprocess.TimeoutExpired:
                proc.send_signal(signal.SIGKILL)
        _, err = proc.communicate(timeout=120)
        assert proc.returncode in (0, -signal.SIGKILL), err
        whole = _assert_whole(repo, before, output)
        outcomes[f"{whole}/{proc.returncode}"] += 1
        if at != "never":
            # Killed at an object write: nothing moved. Killed after the ref moved: both.
            assert proc.returncode == -signal.SIGKILL
            assert whole == ("neither" if at.isdigit() else "both")
    print(dict(outcomes))
    assert sum(outcomes.values()) == TRIALS
    before = _types(repo)
    assert govops(*_args(repo, key, tmp_path / "last")).exit_code == 0
    assert _assert_whole(repo, before, tmp_path / "last") == "both"


def test_a_full_disk_anywhere_in_attest_record_leaves_both_or_neither(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    repo, key = _setup(tmp_path)
    writes = _writes(repo, key, tmp_path)
    points = [f"ledger {n}" for n in range(1, writes + 1)] + [
        "ledger after-ref", *(f"file {n}" for n in range(1, len(FILES) + 1))]
    outcomes: Counter[str] = Counter()
    for trial in range(TRIALS):
        before, output = _types(repo), tmp_path / f"out-{trial}"
        where, at = points[trial % len(points)].split()
        with monkeypatch.context() as patch:
            if where == "ledger":
                for target, name, replacement in faults("enospc", at):
                    patch.setattr(target, name, replacement)
            else:
                _full_disk_at_file(patch, output, int(at))
            run = govops(*_args(repo, key, output))
        whole = _assert_whole(repo, before, output)
        outcomes[f"{whole}/{run.exit_code}"] += 1
        if at == "after-ref":  # the entries are in; only the checkpoint could not move
            assert (run.exit_code, whole) == (0, "both"), run.stderr
        else:
            assert (run.exit_code, whole) == (2, "neither"), run.stdout + run.stderr
            lines = run.stderr.strip().splitlines()
            assert len(lines) == 1 and "No space left on device" in lines[0], run.stderr
            assert not output.exists() or not any(output.iterdir())
    print(dict(outcomes))
    assert outcomes["neither/2"] == TRIALS - outcomes["both/0"]


def _full_disk_at_file(patch: pytest.MonkeyPatch, output: Path, nth: int) -> None:
    """fsync of the `nth` file written into `output` fails as on a full disk."""
    real, seen = os.fsync, {"files": 0}

    def fsync(fd: Any) -> None:
        if str(output) in os.readlink(f"/proc/self/fd/{fd}"):
            seen["files"] += 1
            if seen["files"] == nth:
                raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
        real(fd)

    patch.setattr(os, "fsync", fsync)
