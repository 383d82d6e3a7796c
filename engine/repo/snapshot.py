"""What a revision looks like to the rest of govops: a commit's identity and its files by path.

These are plain frozen records so that later stages never hold a pygit2 object and never
read the working tree by accident.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Literal

SYMLINK_MODE = 0o120000

ChangeKind = Literal["added", "modified", "deleted"]


@dataclass(frozen=True)
class RevisionInfo:
    """The identity of an evaluated revision; `commit` is None for the index (--staged)."""

    commit: str | None
    tree: str
    author: str
    time: str
    ref: str

    def as_input(self) -> dict[str, str | None]:
        return {"commit": self.commit, "tree": self.tree, "author": self.author, "time": self.time}


@dataclass(frozen=True)
class FileEntry:
    oid: str
    mode: int

    @property
    def is_symlink(self) -> bool:
        return self.mode == SYMLINK_MODE


@dataclass(frozen=True)
class Snapshot:
    info: RevisionInfo
    files: Mapping[str, FileEntry]


@dataclass(frozen=True)
class PathChange:
    path: str
    change: ChangeKind
    before: FileEntry | None
    after: FileEntry | None


def diff_snapshots(base: Snapshot, head: Snapshot) -> list[PathChange]:
    """Paths whose blob or mode differs: comparing ids suffices, git is content-addressed."""
    changes: list[PathChange] = []
    for path, entry in head.files.items():
        old = base.files.get(path)
        if old is None:
            changes.append(PathChange(path, "added", None, entry))
        elif old != entry:
            changes.append(PathChange(path, "modified", old, entry))
    for path, old in base.files.items():
        if path not in head.files:
            changes.append(PathChange(path, "deleted", old, None))
    changes.sort(key=lambda c: c.path)
    return changes
