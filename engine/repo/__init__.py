"""Git snapshots of a governed repo: revisions, trees, the index and their differences.

Everything govops evaluates comes from git objects, never from the working tree, so that the
same revision gives the same answer on every machine. Only `staged()` reads the index, for the
pre-commit hook.
"""

from engine.repo.git import GitRepo, clone_with_records, open_repo
from engine.repo.snapshot import FileEntry, PathChange, RevisionInfo, Snapshot

__all__ = ["FileEntry", "GitRepo", "PathChange", "RevisionInfo", "Snapshot", "clone_with_records",
           "open_repo"]
