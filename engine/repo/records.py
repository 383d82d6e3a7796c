"""A chain of flat file records on a git ref (the ledger's storage), kept apart from the
snapshot code: one commit per record whose tree holds the record's files, appended with
compare-and-swap so concurrent writers never lose a record.

libgit2 makes `create_commit(ref, ..., parents=[tip])` a compare-and-swap: it refuses when the
ref's tip is not the first parent (or, for a first record, when the ref already exists). A
writer killed before the ref moves leaves only unreferenced objects behind.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import cast

import pygit2

from engine.errors import GovopsError


class RefMoved(GovopsError):
    """Another writer moved the ref (or held its lock) first: re-read the tip and retry."""


@dataclass(frozen=True)
class Record:
    commit: str
    parents: tuple[str, ...]
    files: Mapping[str, bytes]
    message: str


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
        files = {}
        for entry in obj.tree:
            blob = self._repo[entry.id]
            if isinstance(blob, pygit2.Blob):
                files[str(entry.name)] = blob.data
        return Record(commit, tuple(str(p) for p in obj.parent_ids), files, obj.message)

    def append(self, files: Mapping[str, bytes], parent: str | None, message: str,
               seconds: int) -> str:
        """Write the record and move the ref to it iff the ref still points at `parent`."""
        builder = self._repo.TreeBuilder()
        for name, data in sorted(files.items()):
            builder.insert(name, self._repo.create_blob(data), pygit2.GIT_FILEMODE_BLOB)
        tree = builder.write()
        signature = pygit2.Signature("govops ledger", "ledger@govops.invalid", seconds, 0)
        try:
            commit = self._repo.create_commit(self.ref, signature, signature, message, tree,
                                              [parent] if parent else [])
        except pygit2.GitError as exc:
            raise RefMoved(f"{self.ref} moved while appending: {exc}") from None
        return str(commit)

    def reset(self, commit: str) -> None:
        """Point the ref at `commit` unconditionally (tests and repair tools only)."""
        self._repo.references.create(self.ref, commit, force=True)
