"""`rollback --to` with a commit id whose first characters are all digits: read as the commit,
not as entry number 9,059,727,278 (about one commit id in a hundred starts with ten digits,
which made the rollback-by-commit test fail now and then)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pygit2
import pytest

from engine.deploy.targets import UnknownTarget, resolve_target
from engine.ledger.entry import Entry, StoredEntry
from engine.ledger.reference import pick
from engine.repo import open_repo

STACK = "prod"


def _digit_commit(path: Path) -> str:
    """A repository whose HEAD commit id starts with ten decimal digits (found by trying
    messages: each try has a chance of (10/16)^10, about 1 in 110)."""
    repo = pygit2.init_repository(str(path), initial_head="main")
    tree = repo.TreeBuilder().write()
    who = pygit2.Signature("t", "t@example.test", 1_790_000_000, 0)
    for n in range(20_000):
        commit = str(repo.create_commit("refs/heads/main", who, who, f"try {n}", tree,
                                        [repo.head.target] if not repo.head_is_unborn else []))
        if commit[:10].isdigit():
            return commit
    raise AssertionError("no commit id starting with ten digits in 20,000 tries")


class _Ledger:
    """What resolve_target reads of a ledger: its entries, and find() as the real one does."""

    def __init__(self, entries: list[StoredEntry]) -> None:
        self._entries = entries

    def entries(self) -> list[StoredEntry]:
        return self._entries

    def find(self, reference: str) -> StoredEntry:
        return pick(self._entries, reference)


def _apply(seq: int, revision: str) -> StoredEntry:
    entry = Entry(seq, "apply", "2026-11-20T12:00:00Z", "ci", revision, STACK, {}, {}, {}, None)
    return StoredEntry(entry, "sha256:" + f"{seq:x}".rjust(64, "a"), "0" * 40, {})


def test_an_all_digit_commit_prefix_names_the_commit(tmp_path: Path) -> None:
    commit = _digit_commit(tmp_path / "repo")
    ledger: Any = _Ledger([_apply(1, commit), _apply(2, "f" * 40)])
    item, how = resolve_target(open_repo(tmp_path / "repo"), ledger, STACK, commit[:10])
    assert (item.entry.seq, how) == (1, "commit")


def test_a_number_the_ledger_has_is_still_the_entry(tmp_path: Path) -> None:
    commit = _digit_commit(tmp_path / "repo")
    ledger: Any = _Ledger([_apply(1, commit), _apply(2, "f" * 40)])
    item, how = resolve_target(open_repo(tmp_path / "repo"), ledger, STACK, "2")
    assert (item.entry.seq, how) == (2, "entry")


def test_digits_that_are_neither_say_there_is_no_such_entry(tmp_path: Path) -> None:
    _digit_commit(tmp_path / "repo")
    ledger: Any = _Ledger([_apply(1, "e" * 40)])
    with pytest.raises(UnknownTarget, match=r"no ledger entry #4711 \(the ledger has 1\)"):
        resolve_target(open_repo(tmp_path / "repo"), ledger, STACK, "4711")
