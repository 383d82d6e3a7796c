"""A chain of flat file records on a git ref (the ledger's storage), kept apart from the
snapshot code: one commit per record whose tree holds the record's files, appended with
compare-and-swap so concurrent writers never lose a record.

An append writes the commit object first (unreferenced until the ref moves), then, holding an
advisory lock on the ref's guard file (`engine.workdir`), locks the ref in a libgit2
transaction, re-reads its tip and moves it only if the tip is still the parent the record was
built on. Two things make this necessary rather than `create_commit(ref, ...)`: libgit2 skips
its first-parent check when the ref does not exist yet (racing first records would overwrite
each other), and a writer
killed while holding `<ref>.lock` leaves that file behind for ever. The guard is an flock, which
the kernel releases when its holder dies; so a ref lock found while holding the guard, and older
than a few seconds, was left by a dead govops writer and is removed.
"""

from __future__ import annotations

import errno
import fcntl
import os
import time
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import cast

import pygit2

from engine.errors import GovopsError
from engine.workdir import WorkDir

STALE_LOCK_SECONDS = 5.0
# What libgit2 says when the file system, not another writer, refuses a ref update.
_UNWRITABLE = ("Read-only file system", "Permission denied", "No space left on device",
               "Disk quota exceeded", "File too large")
_UNWRITABLE_ERRNOS = (errno.EROFS, errno.EACCES, errno.EPERM, errno.ENOSPC, errno.EDQUOT,
                      errno.EFBIG)


def _reason(exc: Exception) -> str:
    if isinstance(exc, OSError) and exc.strerror:
        return exc.strerror
    return " ".join(str(exc).split()) or type(exc).__name__


def _cannot_write(exc: Exception) -> bool:
    """The file system refuses (no retry will help), rather than another writer holding the
    ref's lock (`... .lock': File exists`, which a retry outlasts)."""
    if isinstance(exc, OSError) and exc.errno in _UNWRITABLE_ERRNOS:
        return True
    return any(reason in str(exc) for reason in _UNWRITABLE)


class RefMoved(GovopsError):
    """Another writer moved the ref (or held its lock) first: re-read the tip and retry."""


@dataclass(frozen=True)
class Record:
    commit: str
    parents: tuple[str, ...]
    files: Mapping[str, bytes]
    message: str
    others: tuple[str, ...] = ()  # tree entries that are not plain files (never written by us)


class RecordStore:
    """Read and append records on one ref of a repository."""

    def __init__(self, repo: pygit2.Repository, ref: str) -> None:
        self._repo = repo
        self.ref = ref

    def tip(self) -> str | None:
        try:
            return str(self._repo.references[self.ref].target)
        except (KeyError, pygit2.InvalidSpecError):
            return None

    def read(self, commit: str) -> Record:
        try:
            obj = cast(pygit2.Commit, self._repo[commit])
        except (KeyError, ValueError):
            raise GovopsError(f"{self.ref}: object {commit} is missing") from None
        if not isinstance(obj, pygit2.Commit):
            raise GovopsError(f"{self.ref}: {commit} is not a commit")
        files, others = {}, []
        for entry in obj.tree:  # pygit2 yields the objects themselves (no second lookup)
            if isinstance(entry, pygit2.Blob) and entry.filemode == pygit2.GIT_FILEMODE_BLOB:
                files[str(entry.name)] = entry.data
            else:
                others.append(str(entry.name))
        return Record(commit, tuple(str(p) for p in obj.parent_ids), files, obj.message,
                      tuple(others))

    def messages(self) -> Iterator[tuple[str, str]]:
        """(commit, message) of every record from the tip back by first parent, without
        reading their trees: a reader looking for a few records skips the rest cheaply."""
        commit = self.tip()
        while commit is not None:
            try:
                obj = self._repo[commit]
            except (KeyError, ValueError):
                raise GovopsError(f"{self.ref}: object {commit} is missing") from None
            if not isinstance(obj, pygit2.Commit):
                raise GovopsError(f"{self.ref}: {commit} is not a commit")
            yield commit, obj.message
            commit = str(obj.parent_ids[0]) if obj.parent_ids else None

    def append(self, files: Mapping[str, bytes], parent: str | None, message: str,
               seconds: int) -> str:
        """Write the record and move the ref to it iff the ref still points at `parent`."""
        return self.append_chain([(files, message, seconds)], parent)[0]

    def append_chain(self, records: Sequence[tuple[Mapping[str, bytes], str, int]],
                     parent: str | None) -> list[str]:
        """Write the records as a chain of commits on `parent` (files, message, time each),
        then move the ref to the last iff it still points at `parent`: all of them become
        part of the ref at once, or none does. RefMoved when another writer got there first;
        a GovopsError naming the repository when git cannot store objects at all (a full disk,
        a read-only or forbidden .git), which no retry would cure."""
        commits: list[str] = []
        try:
            for files, message, seconds in records:
                builder = self._repo.TreeBuilder()
                for name, data in sorted(files.items()):
                    builder.insert(name, self._repo.create_blob(data), pygit2.GIT_FILEMODE_BLOB)
                tree = builder.write()
                signature = pygit2.Signature("govops ledger", "ledger@govops.invalid", seconds, 0)
                base = commits[-1] if commits else parent
                commit = self._repo.create_commit(None, signature, signature, message, tree,
                                                  [base] if base else [])
                commits.append(str(commit))
        except (pygit2.GitError, OSError) as exc:
            raise GovopsError(f"{self._git_dir}: cannot write to {self.ref}: "
                              f"{_reason(exc)}") from None
        try:
            with self._guard():
                self._clear_stale_lock()
                with self._repo.transaction() as transaction:
                    transaction.lock_ref(self.ref)
                    if self.tip() != parent:
                        raise RefMoved(f"{self.ref} moved while appending")
                    # pygit2 1.21 cannot pass a signature here (a cffi type error); the
                    # reflog takes git's default identity, which records nothing we rely on.
                    transaction.set_target(self.ref, commits[-1], message=records[-1][1])
        except (pygit2.GitError, OSError) as exc:
            if _cannot_write(exc):
                raise GovopsError(f"{self._git_dir}: cannot update {self.ref}: "
                                  f"{_reason(exc)}") from None
            raise RefMoved(f"{self.ref} could not be updated now: {exc}") from None
        return commits

    @property
    def _git_dir(self) -> str:
        return str(Path(self._repo.path))

    @property
    def _lock_path(self) -> Path:
        return Path(self._repo.path) / f"{self.ref}.lock"

    @contextmanager
    def _guard(self) -> Iterator[None]:
        path = WorkDir(Path(self._repo.path)).ref_guard(self.ref)
        path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
            yield
        finally:
            os.close(fd)  # releases the flock

    def _clear_stale_lock(self) -> None:
        """Called holding the guard: a ref lock this old belongs to no live govops writer."""
        try:
            age = time.time() - self._lock_path.stat().st_mtime
        except FileNotFoundError:
            return
        if age > STALE_LOCK_SECONDS:
            self._lock_path.unlink(missing_ok=True)

    def reset(self, commit: str) -> None:
        """Point the ref at `commit` unconditionally (tests and repair tools only)."""
        self._repo.references.create(self.ref, commit, force=True)
