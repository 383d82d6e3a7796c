"""Append to and read the ledger on `refs/govops/ledger`.

An append reads the tip, builds and signs the next entry (seq + 1, prev = the tip's hash) and
moves the ref only if it still points at that tip; if another writer got there first it starts
over, so concurrent appends never lose an entry nor leave a gap in `seq`. Until the ref moves,
nothing observable has changed: a process killed mid-append leaves the ledger as it was.

The checkpoint (`.git/govops/ledger-checkpoint.json`) remembers the last tip known to be good,
so a ref that is later reset or rewritten, however consistently, no longer contains it.
"""

from __future__ import annotations

import contextlib
import json
import os
import random
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from engine.atomic import write_atomically
from engine.attest import statement as st
from engine.clock import epoch, instant
from engine.errors import GovopsError
from engine.ledger.entry import ENTRY_FILE, ENTRY_RECEIPT, Draft, Entry, StoredEntry, sha256
from engine.ledger.reference import is_hex, pick
from engine.repo import GitRepo
from engine.repo.ref_store import Record, RecordStore, RefMoved
from engine.workdir import WorkDir

if TYPE_CHECKING:  # reading the ledger must not import the Sigstore stack (plan reads it)
    from engine.attest.signers import Signer

LEDGER_REF = "refs/govops/ledger"
_ATTEMPTS = 500


class LedgerError(GovopsError):
    """The ledger cannot be read as a chain of entries (use `govops audit verify`)."""


@dataclass(frozen=True)
class Checkpoint:
    seq: int
    hash: str
    commit: str


def stored(record: Record) -> StoredEntry:
    """The entry a ledger commit holds; LedgerError when the commit is not one govops wrote
    (no entry.json, or a tree entry that is not a plain file: a directory, a symlink, an
    executable, a gitlink to another repository's commit), for every reader alike."""
    if record.others:
        raise LedgerError(f"ledger commit {record.commit}: holds {', '.join(record.others)}, "
                          "which no entry writes (directories, links or executables)")
    data = record.files.get(ENTRY_FILE)
    if data is None:
        raise LedgerError(f"ledger commit {record.commit} holds no {ENTRY_FILE}")
    try:
        entry = Entry.decode(data)
    except ValueError as exc:
        raise LedgerError(f"ledger commit {record.commit}: {exc}") from None
    return StoredEntry(entry, sha256(data), record.commit, dict(record.files))


def _not_before(now: str, tip: StoredEntry | None) -> str:
    """The entry's time: the writer's clock, but never before the entry it follows, so the
    chain stays in time order (which `audit verify` requires) when clocks drift or writers
    race."""
    if tip is not None and instant(now) < instant(tip.entry.time):
        return tip.entry.time
    return now


class Ledger:
    def __init__(self, repo: GitRepo) -> None:
        self._repo = repo
        self._store: RecordStore = repo.records(LEDGER_REF)
        self.checkpoint_path: Path = WorkDir(repo.git_dir).ledger_checkpoint

    @property
    def repository(self) -> str:
        return self._repo.name

    def holds_commit(self, revision: str) -> bool:
        """Whether `revision` is the full sha of a commit of this repository: an entry about
        any other revision was recorded somewhere else (engine.ledger.chain refuses it)."""
        if len(revision) != 40 or not is_hex(revision):
            return False
        try:
            return str(self._repo.resolve(revision).id) == revision
        except GovopsError:  # RevisionError: not an object here, or not a commit
            return False

    @property
    def shallow(self) -> bool:
        """A shallow clone lacks the older commits entries are about: said when it matters.
        (git lists a shallow clone's boundary commits in `.git/shallow`.)"""
        return (self._repo.git_dir / "shallow").is_file()

    def tip_commit(self) -> str | None:
        return self._store.tip()

    def read(self, commit: str) -> StoredEntry:
        return stored(self._store.read(commit))

    def records(self) -> Iterator[Record]:
        """Every record from the tip back to the first, by first parent."""
        return self.records_from(self._store.tip())

    def records_from(self, commit: str | None) -> Iterator[Record]:
        """Every record from `commit` back to the first, by first parent: also a chain the
        ref no longer points at, while its commits are still in the repository."""
        while commit is not None:
            record = self._store.read(commit)
            yield record
            commit = record.parents[0] if record.parents else None

    def entries(self) -> list[StoredEntry]:
        """Every entry, first to last (raises LedgerError on an unreadable one)."""
        return [stored(r) for r in reversed(list(self.records()))]

    def entries_of(self, kind: str) -> list[StoredEntry]:
        """The entries of one type, first to last, reading only their records. The commit
        message picks them; the entry read back must then say the same, so a message can hide
        an entry from this reader but never pass one off as another type."""
        found = []
        for commit, message in self._store.messages():
            if message.rstrip("\n").endswith(f": {kind}"):
                item = self.read(commit)
                if item.entry.type == kind:
                    found.append(item)
        return found[::-1]

    def find(self, reference: str) -> StoredEntry:
        """The entry ENTRY names (engine.ledger.reference); QueryError when none or several."""
        return pick(self.entries(), reference)

    def append(self, draft: Draft, signer: Signer, actor: str, now: str,
               vet: Callable[[StoredEntry], None] | None = None) -> StoredEntry:
        """Append `draft`, signed; `vet` sees the entry exactly as it will be stored, before
        the ref moves, and may refuse it (raise): then nothing is written."""
        return self.append_all([draft], signer, actor, now, vet)[0]

    def append_all(self, drafts: Sequence[Draft], signer: Signer, actor: str, now: str,
                   vet: Callable[[StoredEntry], None] | None = None) -> list[StoredEntry]:
        """Append `drafts` as consecutive entries, all or none: their commits are written
        first and the ref moves once, to the last. A crash or a full disk part-way leaves
        unreferenced objects and the ledger as it was, never a decision without its AIBOM."""
        for attempt in range(_ATTEMPTS):
            tip_commit = self._store.tip()
            tip = self.read(tip_commit) if tip_commit else None
            built, previous = [], tip
            for draft in drafts:
                entry, files = self._signed(draft, previous, signer, actor, now)
                if vet is not None:
                    vet(StoredEntry(entry, sha256(files[ENTRY_FILE]), "-" * 40, files))
                built.append((entry, files))
                previous = StoredEntry(entry, sha256(files[ENTRY_FILE]), "-" * 40, files)
            records = [(files, f"govops ledger #{entry.seq}: {entry.type}", epoch(entry.time))
                       for entry, files in built]
            try:
                commits = self._store.append_chain(records, tip_commit)
            except RefMoved:
                time.sleep(random.uniform(0, 0.002 * min(attempt + 1, 20)))
                continue
            results = [StoredEntry(entry, sha256(files[ENTRY_FILE]), commit, files)
                       for (entry, files), commit in zip(built, commits, strict=True)]
            # The entries are in: a checkpoint that cannot be written now (a full disk) is
            # moved by the next `audit verify`, and must not make this append look failed.
            with contextlib.suppress(GovopsError):
                self._extend_checkpoint(tip, results[-1])
            return results
        raise LedgerError(f"could not append to {LEDGER_REF} after {_ATTEMPTS} attempts: "
                          "other writers kept moving it")

    def _signed(self, draft: Draft, tip: StoredEntry | None, signer: Signer, actor: str,
                now: str) -> tuple[Entry, dict[str, bytes]]:
        """The entry that follows `tip` and the files of its record, signed."""
        entry = Entry(
            seq=tip.entry.seq + 1 if tip else 1, type=draft.type, time=_not_before(now, tip),
            actor=actor,
            revision=draft.revision, stack=draft.stack,
            digests={name: sha256(data) for name, data in sorted(draft.files.items())},
            links=dict(draft.links), details=dict(draft.details),
            prev=tip.hash if tip else None)
        data = entry.encode()
        receipt = signer.sign(st.payload(st.statement(
            st.LEDGER_ENTRY, entry.as_json(), self.repository, entry.revision,
            [st.Covered(ENTRY_FILE, data)])))
        return entry, {**draft.files, ENTRY_FILE: data, ENTRY_RECEIPT: receipt.encode()}

    # -- the checkpoint -------------------------------------------------------------------

    def checkpoint(self) -> Checkpoint | None:
        try:
            raw: dict[str, Any] = json.loads(self.checkpoint_path.read_text(encoding="utf-8"))
            return Checkpoint(int(raw["seq"]), str(raw["hash"]), str(raw["commit"]))
        except FileNotFoundError:
            return None
        except (OSError, ValueError, KeyError, TypeError, RecursionError):
            raise LedgerError(f"{self.checkpoint_path}: unreadable checkpoint; delete it only "
                              "if you trust the ledger as it is now") from None

    def save_checkpoint(self, tip: StoredEntry, *, replace: bool = False) -> None:
        """Remember `tip` as verified; never moves back, unless `replace` (a rewrite the
        operator accepted after verifying it)."""
        current = self.checkpoint()
        if current is not None and current.seq > tip.entry.seq and not replace:
            return
        os.makedirs(self.checkpoint_path.parent, exist_ok=True)
        write_atomically(self.checkpoint_path, json.dumps(
            {"seq": tip.entry.seq, "hash": tip.hash, "commit": tip.commit}) + "\n")

    def forget_checkpoint(self) -> None:
        """An accepted rewrite down to an empty ledger: nothing is vouched for any more."""
        self.checkpoint_path.unlink(missing_ok=True)

    def _extend_checkpoint(self, previous: StoredEntry | None, appended: StoredEntry) -> None:
        """Our own signed entry on top of the verified tip is verified too."""
        current = self.checkpoint()
        extends = (previous is None and current is None) or (
            previous is not None and current is not None and current.hash == previous.hash)
        if extends:
            self.save_checkpoint(appended)
