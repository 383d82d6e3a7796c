"""Concurrent appends to the ledger from real OS processes on a real git repository.

Acceptance: 8 processes x 25 appends at once give 200 entries, seq 1..200 without gaps, and a
valid chain. The companions show why: a writer whose view of the tip is stale, or that finds
the ref locked by another writer, cannot move the ref and is told to retry (RefMoved); and of
several writers racing for the very first record exactly one wins.
"""

from __future__ import annotations

import collections
import itertools
import multiprocessing
import os
import subprocess
import time
from pathlib import Path

import pytest

from engine.attest.signers import KeySigner
from engine.ledger.chain import verify_chain
from engine.ledger.entry import ENTRY_FILE, ENTRY_RECEIPT, Draft
from engine.ledger.store import LEDGER_REF, Ledger
from engine.repo import open_repo
from engine.repo.ref_store import STALE_LOCK_SECONDS, RefMoved
from tests.support.ledger_worker import (
    NOW,
    ROOT,
    LedgerSetup,
    command,
    environment,
    make_ledger_repo,
    payload,
    race_first_records,
)

WORKERS = 8
APPENDS = 25


def _wait_until_ready(procs: list[subprocess.Popen[bytes]], ready: list[Path],
                      errors: list[Path]) -> None:
    deadline = time.monotonic() + 60
    while not all(path.exists() for path in ready):
        for number, proc in enumerate(procs):
            if proc.poll() is not None:
                pytest.fail(f"worker {number} exited ({proc.returncode}) before it was ready: "
                            f"{errors[number].read_text(encoding='utf-8')[-2000:]}")
        if time.monotonic() > deadline:
            pytest.fail("the workers were not ready within 60 s")
        time.sleep(0.005)


def _draft(setup: LedgerSetup, worker: int, index: int) -> Draft:
    files, details = payload(worker, index)
    return Draft(type="decision", revision=setup.revision, files=files, details=details)


def test_eight_processes_append_25_entries_each_at_once(tmp_path: Path) -> None:
    setup = make_ledger_repo(tmp_path)
    go = tmp_path / "go"
    ready = [tmp_path / f"ready-{w}" for w in range(WORKERS)]
    outs = [tmp_path / f"worker-{w}.out" for w in range(WORKERS)]
    errs = [tmp_path / f"worker-{w}.err" for w in range(WORKERS)]
    procs: list[subprocess.Popen[bytes]] = []
    try:
        for w in range(WORKERS):
            with outs[w].open("wb") as out, errs[w].open("wb") as err:
                procs.append(subprocess.Popen(
                    command(setup, w, APPENDS, ready=ready[w], go=go),
                    stdout=out, stderr=err, cwd=ROOT, env=environment()))
        _wait_until_ready(procs, ready, errs)
        go.touch()  # all eight start appending now
        for proc in procs:
            proc.wait(timeout=180)
    finally:
        for proc in procs:
            if proc.poll() is None:
                proc.kill()
                proc.wait()

    # Every worker finished all of its appends without an error.
    claimed: dict[tuple[int, int], tuple[int, str, str]] = {}
    retries = []
    for w, proc in enumerate(procs):
        assert proc.returncode == 0, (
            f"worker {w} failed ({proc.returncode}):\n{errs[w].read_text(encoding='utf-8')}")
        lines = outs[w].read_text(encoding="utf-8").splitlines()
        assert lines[0] == "ready" and lines[-1].startswith("finished "), lines
        done = [line.split() for line in lines if line.startswith("done ")]
        assert [int(d[1]) for d in done] == list(range(APPENDS))
        seqs = [int(d[2]) for d in done]
        assert seqs == sorted(seqs) and len(set(seqs)) == APPENDS  # its own appends, in order
        for _, index, seq, commit, digest in done:
            claimed[(w, int(index))] = (int(seq), commit, digest)
        retries.append(int(lines[-1].split()[1]))

    ledger = Ledger(open_repo(setup.repo))
    entries = ledger.entries()
    assert len(entries) == WORKERS * APPENDS == 200
    assert [e.entry.seq for e in entries] == list(range(1, 201))
    assert entries[0].entry.prev is None
    for before, after in itertools.pairwise(entries):
        assert after.entry.prev == before.hash
    assert len({e.hash for e in entries}) == 200

    # Every (worker, index) is there exactly once, whole, where its worker was told it was.
    seen = collections.Counter(
        (e.entry.details["worker"], e.entry.details["index"]) for e in entries)
    assert seen == collections.Counter(
        {(w, i): 1 for w in range(WORKERS) for i in range(APPENDS)})
    for item in entries:
        worker, index = item.entry.details["worker"], item.entry.details["index"]
        files, details = payload(worker, index)
        assert item.recorded == files
        assert dict(item.entry.details) == details
        assert item.entry.actor == f"worker-{worker}"
        assert item.entry.revision == setup.revision
        assert set(item.files) == {"note.txt", ENTRY_FILE, ENTRY_RECEIPT}
        assert claimed[(worker, index)] == (item.entry.seq, item.commit, item.hash)

    # The writers really ran at once: their entries interleave (one after the other would
    # give exactly 8 runs of 25).
    runs = 1 + sum(a.entry.actor != b.entry.actor
                   for a, b in itertools.pairwise(entries))
    assert runs > WORKERS

    report = verify_chain(ledger, lambda _moment: setup.trust, lambda: None, entry_checks=())
    assert report.problem is None, str(report.problem)
    assert (report.verified, report.signatures) == (200, 200)
    assert report.tip is not None and report.tip.commit == entries[-1].commit
    checkpoint = ledger.checkpoint()
    assert checkpoint is not None
    assert (checkpoint.seq, checkpoint.hash) == (200, entries[-1].hash)
    assert not (setup.git_dir / "refs" / "govops" / "ledger.lock").exists()
    print(f"\n8 x 25 appends: {runs} runs of one writer; compare-and-swap retries per worker: "
          f"{retries} (total {sum(retries)})")


def test_a_stale_writer_cannot_move_the_ref(tmp_path: Path) -> None:
    setup = make_ledger_repo(tmp_path)
    signer = KeySigner(setup.key)
    ours, theirs = open_repo(setup.repo), open_repo(setup.repo)  # two writers' handles
    first = Ledger(ours).append(_draft(setup, 0, 0), signer, "worker-0", NOW)
    second = Ledger(ours).append(_draft(setup, 0, 1), signer, "worker-0", NOW)
    store = theirs.records(LEDGER_REF)
    ref_file = setup.git_dir / "refs" / "govops" / "ledger"
    assert ref_file.read_text(encoding="utf-8").strip() == second.commit

    # A writer that read the tip before `second` landed: its parent is no longer the tip.
    with pytest.raises(RefMoved):
        store.append({"note.txt": b"stale\n"}, first.commit, "stale", 1_790_000_000)
    assert store.tip() == second.commit
    # A writer that still believes the ledger is empty.
    with pytest.raises(RefMoved):
        store.append({"note.txt": b"stale\n"}, None, "stale", 1_790_000_000)
    assert store.tip() == second.commit
    assert ref_file.read_text(encoding="utf-8").strip() == second.commit

    ledger = Ledger(theirs)
    assert [(e.entry.seq, e.commit) for e in ledger.entries()] == [
        (1, first.commit), (2, second.commit)]
    report = verify_chain(ledger, lambda _moment: setup.trust, lambda: None, entry_checks=())
    assert report.problem is None and report.verified == 2

    # The Ledger re-reads the tip, so the same stale handle appends #3 on top of #2.
    third = ledger.append(_draft(setup, 1, 0), signer, "worker-1", NOW)
    assert (third.entry.seq, third.entry.prev) == (3, second.hash)
    assert store.tip() == third.commit
    assert verify_chain(ledger, lambda _moment: setup.trust, lambda: None, entry_checks=()).problem is None


def test_a_writer_that_finds_the_ref_locked_is_told_to_retry(tmp_path: Path) -> None:
    """While another writer holds git's lock on the ref (refs/govops/ledger.lock, between
    taking it and renaming it into place) an append must fail with RefMoved, as its docstring
    promises, so that Ledger.append retries instead of crashing."""
    setup = make_ledger_repo(tmp_path)
    signer = KeySigner(setup.key)
    first = Ledger(open_repo(setup.repo)).append(_draft(setup, 0, 0), signer, "worker-0", NOW)
    store = open_repo(setup.repo).records(LEDGER_REF)
    lock = setup.git_dir / "refs" / "govops" / "ledger.lock"
    lock.write_text(first.commit + "\n", encoding="utf-8")  # what the other writer holds

    with pytest.raises(RefMoved):
        store.append({"note.txt": b"while locked\n"}, first.commit, "locked", 1_790_000_000)
    assert store.tip() == first.commit
    assert lock.read_text(encoding="utf-8") == first.commit + "\n"  # not ours to remove

    lock.unlink()  # the other writer is done
    commit = store.append({"note.txt": b"after\n"}, first.commit, "after", 1_790_000_000)
    assert store.tip() == commit


def test_a_lock_left_by_a_killed_writer_is_cleared(tmp_path: Path) -> None:
    """A ref lock older than STALE_LOCK_SECONDS, found while holding the guard (which the
    kernel releases when a writer dies), belongs to no live writer: the append clears it."""
    setup = make_ledger_repo(tmp_path)
    signer = KeySigner(setup.key)
    first = Ledger(open_repo(setup.repo)).append(_draft(setup, 0, 0), signer, "worker-0", NOW)
    store = open_repo(setup.repo).records(LEDGER_REF)
    lock = setup.git_dir / "refs" / "govops" / "ledger.lock"
    lock.write_text("", encoding="utf-8")  # what a SIGKILL mid-update leaves
    old = time.time() - STALE_LOCK_SECONDS - 1
    os.utime(lock, (old, old))
    commit = store.append({"note.txt": b"after a crash\n"}, first.commit, "after", 1_790_000_000)
    assert store.tip() == commit and not lock.exists()


def test_racing_first_records_leave_exactly_one(tmp_path: Path) -> None:
    """8 processes race for the first record of a fresh ref, 150 times: in every round
    exactly one append succeeds, it is the tip, and every other writer gets RefMoved."""
    import pygit2

    procs_count, rounds = 8, 150
    path = tmp_path / "race.git"
    pygit2.init_repository(str(path), bare=True)
    context = multiprocessing.get_context("spawn")
    barrier = context.Barrier(procs_count)
    results = context.Queue()
    procs = [context.Process(target=race_first_records,
                             args=(str(path), rounds, barrier, results))
             for _ in range(procs_count)]
    try:
        for proc in procs:
            proc.start()
        outcomes = [results.get(timeout=120) for _ in range(procs_count * rounds)]
        for proc in procs:
            proc.join(timeout=60)
    finally:
        for proc in procs:
            if proc.is_alive():
                proc.kill()
                proc.join()
    assert [proc.exitcode for proc in procs] == [0] * procs_count

    repo = pygit2.Repository(str(path))
    by_round: dict[int, list[tuple[str, str]]] = collections.defaultdict(list)
    for number, _pid, outcome, detail in outcomes:
        by_round[number].append((outcome, detail))
    kinds = collections.Counter(outcome for outcome, _ in
                                (o for results_ in by_round.values() for o in results_))
    bad = []
    for number in range(rounds):
        tip = str(repo.references[f"refs/govops/race/{number}"].target)
        winners = [detail for outcome, detail in by_round[number] if outcome == "ok"]
        others = [(outcome, detail) for outcome, detail in by_round[number] if outcome != "ok"]
        if winners != [tip] or any(outcome != "RefMoved" for outcome, _ in others):
            bad.append((number, len(winners), [o for o in others if o[0] != "RefMoved"][:2]))
    assert bad == [], (f"{len(bad)} of {rounds} rounds went wrong (outcomes {dict(kinds)}); "
                       f"first: {bad[:3]}")
    assert kinds == {"ok": rounds, "RefMoved": rounds * (procs_count - 1)}


def test_checkpoint_temp_files_of_killed_writers_are_removed(tmp_path: Path) -> None:
    setup = make_ledger_repo(tmp_path)
    ledger = Ledger(open_repo(setup.repo))
    signer = KeySigner(setup.key)
    ledger.append(_draft(setup, 0, 0), signer, "worker-0", NOW)
    orphan = ledger.checkpoint_path.parent / f".{ledger.checkpoint_path.name}.abc123"
    fresh = ledger.checkpoint_path.parent / f".{ledger.checkpoint_path.name}.def456"
    orphan.write_text("{")
    fresh.write_text("{")
    old = time.time() - 120
    os.utime(orphan, (old, old))
    ledger.append(_draft(setup, 0, 1), signer, "worker-0", NOW)
    assert not orphan.exists()
    assert fresh.exists()  # may belong to a live writer
    assert ledger.checkpoint() is not None and ledger.checkpoint().seq == 2  # type: ignore[union-attr]
