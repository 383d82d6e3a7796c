"""SIGKILL a process that is appending to the ledger, at random moments, 50 times.

Acceptance: after each kill the ledger verifies and holds only whole entries; the test process
can append to it at once and it still verifies. The trials share one repository (the ledger
just grows) and are seeded, so the plan of kills is the same on every run; where each kill
lands (start-up, mid-append before or after the ref moved, between appends) is read from the
worker's own progress lines and the ledger, and printed (pytest -s shows it).

Also checked after every kill: the checkpoint file is whole and names an entry of the chain,
and no lock file but the ref's own is left. A kill while git holds the ref's lock leaves
`refs/govops/ledger.lock` behind (git never removes a lock it did not take): such trials are
recorded, and the append that follows must still succeed and leave no lock. Temporary files
a kill leaves (`.ledger-checkpoint.json.*`, `objects/**/tmp_obj_*`) are counted and reported;
every check runs with them in place.
"""

from __future__ import annotations

import collections
import json
import os
import random
import select
import signal
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

import pytest

from engine.attest.signers import KeySigner
from engine.ledger.chain import verify_chain
from engine.ledger.entry import ENTRY_FILE, ENTRY_RECEIPT, Draft, Entry, StoredEntry
from engine.ledger.store import Ledger
from engine.repo import open_repo
from tests.support.ledger_worker import (
    NOW,
    ROOT,
    LedgerSetup,
    command,
    environment,
    make_ledger_repo,
    payload,
)

SEED = 20261120
TRIALS = 50
FIRST_WORKER = 100  # trial N's worker writes as worker FIRST_WORKER + N


@dataclass(frozen=True)
class Plan:
    kind: str  # "start-up": delay from spawn; "early"/"running": delay after "ready"
    delay: float


def plans(rng: random.Random) -> list[Plan]:
    """Kill moments spread over the phases: a fifth while Python starts (about 0.25 s), a
    fifth within a millisecond of being ready, the rest up to 40 ms (about 12 appends) in."""
    out = []
    for _ in range(TRIALS):
        kind = rng.choices(("start-up", "early", "running"), weights=(2, 2, 6))[0]
        longest = {"start-up": 0.3, "early": 0.001, "running": 0.04}[kind]
        out.append(Plan(kind, rng.uniform(0.0, longest)))
    return out


def _read_until_ready(proc: subprocess.Popen[bytes], timeout: float = 60) -> bytes:
    assert proc.stdout is not None
    fd, seen = proc.stdout.fileno(), b""
    deadline = time.monotonic() + timeout
    while b"ready\n" not in seen:
        remaining = deadline - time.monotonic()
        assert remaining > 0, "the worker was not ready within 60 s"
        readable, _, _ = select.select([fd], [], [], remaining)
        if readable:
            chunk = os.read(fd, 65536)
            if not chunk:  # it exited before being ready; the caller reports how
                break
            seen += chunk
    return seen


def _run_and_kill(setup: LedgerSetup, worker: int, plan: Plan, err: Path) -> tuple[int, list[str]]:
    """Start a worker appending without end, SIGKILL it as planned; its exit code and lines."""
    with err.open("wb") as stderr:
        proc = subprocess.Popen(command(setup, worker, -1), stdout=subprocess.PIPE,
                                stderr=stderr, cwd=ROOT, env=environment())
    try:
        seen = b""
        if plan.kind != "start-up":
            seen = _read_until_ready(proc)
        time.sleep(plan.delay)
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=60)
        assert proc.stdout is not None
        seen += proc.stdout.read()
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        if proc.stdout is not None:
            proc.stdout.close()
    text = seen.decode()
    assert text == "" or text.endswith("\n"), text[-200:]  # each line is one write()
    return proc.returncode, text.splitlines()


def _phase(lines: list[str], landed: int) -> str:
    if not lines:
        return "start-up"
    last = lines[-1].split()
    if last == ["ready"]:
        return "before the first append"
    if last[0] == "done":
        return "between appends"
    assert last[0] == "begin", lines[-3:]
    index = int(last[1])
    assert landed in (index, index + 1), (lines[-3:], landed)
    return "mid-append, ref not moved" if landed == index else "mid-append, ref moved"


def _leftovers(setup: LedgerSetup) -> tuple[list[Path], list[Path], list[Path]]:
    git_dir = setup.git_dir
    locks = sorted(git_dir.rglob("*.lock"))
    temps = sorted((git_dir / "govops").glob(".ledger-checkpoint.json.*"))
    objects = sorted((git_dir / "objects").rglob("tmp_obj_*"))
    return locks, temps, objects


def _check_whole(item: StoredEntry, expected_files: dict[str, bytes]) -> None:
    assert set(item.files) == {*expected_files, ENTRY_FILE, ENTRY_RECEIPT}
    assert item.recorded == expected_files
    assert Entry.decode(item.files[ENTRY_FILE]) == item.entry
    receipt = json.loads(item.files[ENTRY_RECEIPT])
    assert receipt["mediaType"] == "application/vnd.dev.sigstore.bundle.v0.3+json"


def test_sigkill_at_random_moments_leaves_whole_entries(tmp_path: Path) -> None:
    started = time.monotonic()
    setup = make_ledger_repo(tmp_path)
    signer = KeySigner(setup.key)
    ref_lock = setup.git_dir / "refs" / "govops" / "ledger.lock"
    total = 0  # entries in the ledger
    old_entries: list[StoredEntry] = []
    signed_from = 1  # entries before this one had their signatures verified already
    rows = []
    temps_seen: set[Path] = set()
    objects_seen: set[Path] = set()
    lagging = 0
    locked: list[tuple[int, str, bytes]] = []  # trials whose kill left the ref's lock file

    for trial, plan in enumerate(plans(random.Random(SEED))):
        worker = FIRST_WORKER + trial
        code, lines = _run_and_kill(setup, worker, plan, tmp_path / f"trial-{trial}.err")
        assert code == -signal.SIGKILL, (
            f"trial {trial}: the worker ended by itself ({code}) before the kill:\n"
            f"{(tmp_path / f'trial-{trial}.err').read_text(encoding='utf-8')[-3000:]}")

        locks, temps, objects = _leftovers(setup)
        assert set(locks) <= {ref_lock}, locks
        if locks:
            locked.append((trial, lines[-1] if lines else "", ref_lock.read_bytes()))
        temps_seen.update(temps)
        objects_seen.update(objects)

        ledger = Ledger(open_repo(setup.repo))
        checkpoint = ledger.checkpoint()  # raises LedgerError if half-written
        entries = ledger.entries()  # raises LedgerError on an entry that is not whole
        assert [e.entry.seq for e in entries] == list(range(1, len(entries) + 1))
        assert entries[:total] == old_entries  # nothing before the trial changed
        new = entries[total:]
        landed = len(new)
        for index, item in enumerate(new):
            files, details = payload(worker, index)
            assert dict(item.entry.details) == details
            _check_whole(item, files)
        done = [line.split() for line in lines if line.startswith("done ")]
        assert landed in (len(done), len(done) + 1), (landed, lines[-3:])
        for _, index, seq, commit, digest in done:  # every append it was told of is there
            item = entries[int(seq) - 1]
            assert (item.entry.details["worker"], item.entry.details["index"]) == (
                worker, int(index))
            assert (item.commit, item.hash) == (commit, digest)
        phase = _phase(lines, landed)

        if checkpoint is not None:  # whole, and names an entry of the chain
            assert 1 <= checkpoint.seq <= len(entries)
            at = entries[checkpoint.seq - 1]
            assert (checkpoint.hash, checkpoint.commit) == (at.hash, at.commit)
            lagging += checkpoint.seq < len(entries)
        else:
            assert total == 0 and landed == 0

        report = verify_chain(ledger, lambda _moment: setup.trust, lambda: None, from_seq=signed_from, entry_checks=())
        assert report.problem is None, f"trial {trial} ({phase}): {report.problem}"
        assert report.verified == len(entries)
        assert report.signatures == len(entries) - signed_from + 1

        # The test process appends at once, and the ledger still verifies.
        draft = Draft(type="verify", revision=setup.revision,
                      files={"note.txt": f"after trial {trial}\n".encode()},
                      details={"trial": trial})
        try:
            mine = ledger.append(draft, signer, "test", NOW)
        except Exception as exc:
            if not locks:
                raise
            pytest.fail(f"trial {trial}: the SIGKILL ({plan}, {phase}, last worker line "
                        f"{lines[-1]!r}) left {ref_lock} holding {ref_lock.read_bytes()!r}; "
                        f"the next Ledger.append fails: {type(exc).__name__}: {exc}")
        assert (mine.entry.seq, mine.entry.prev) == (
            len(entries) + 1, entries[-1].hash if entries else None)
        assert not ref_lock.exists()
        report = verify_chain(ledger, lambda _moment: setup.trust, lambda: None, from_seq=mine.entry.seq, entry_checks=())
        assert report.problem is None, f"trial {trial}, after our append: {report.problem}"
        assert report.verified == mine.entry.seq and report.signatures == 1
        checkpoint = ledger.checkpoint()
        assert checkpoint is not None and checkpoint.hash == mine.hash

        old_entries = [*entries, mine]
        total = mine.entry.seq
        signed_from = total + 1
        rows.append((trial, plan.kind, round(plan.delay * 1000, 1), phase, landed))

    # The whole ledger, every signature, once more from a fresh handle.
    ledger = Ledger(open_repo(setup.repo))
    report = verify_chain(ledger, lambda _moment: setup.trust, lambda: None, entry_checks=())
    assert report.problem is None, str(report.problem)
    worker_entries = sum(row[4] for row in rows)
    assert report.verified == report.signatures == total == worker_entries + TRIALS
    phases = collections.Counter(row[3] for row in rows)
    # The seeded plan puts kills in start-up, before or in the first append, and mid-run.
    assert phases["start-up"] >= 1
    assert sum(1 for row in rows if row[4] == 0) >= 5
    assert sum(1 for row in rows if row[4] >= 3) >= 10
    assert phases["mid-append, ref not moved"] + phases["mid-append, ref moved"] >= 10

    print(f"\n{TRIALS} SIGKILL trials in {time.monotonic() - started:.1f} s, seed {SEED}; "
          f"{total} entries ({worker_entries} by the killed workers)")
    print("phases:", dict(phases))
    print("entries per trial:", dict(sorted(collections.Counter(r[4] for r in rows).items())))
    print(f"checkpoint behind the tip after a kill: {lagging} trials; "
          f".ledger-checkpoint.json.* temp files left: {len(temps_seen)}; "
          f"tmp_obj_* files left: {len(objects_seen)}; "
          f"kills that left refs/govops/ledger.lock: {locked}")
    for row in rows:
        print("  trial {:2d}  {:8s} {:6.1f} ms  {:26s} {:3d} entries".format(*row))
