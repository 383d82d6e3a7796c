from __future__ import annotations

from pathlib import Path

import pygit2
import pytest

from engine.errors import RevisionError
from engine.repo import open_repo
from engine.repo.scripted import Step, build_history, stage
from engine.repo.snapshot import diff_snapshots


@pytest.fixture
def history(tmp_path: Path) -> pygit2.Repository:
    repo = build_history(tmp_path / "r", [
        Step("one", {"a.yaml": "a: 1\n", "dir/b.yaml": "b: 1\n"}),
        Step("two", {"a.yaml": "a: 2\n", "c.yaml": "c: 1\n"}),
        Step("three", {"dir/b.yaml": "b: 3\n"}, delete=["c.yaml"]),
    ])
    repo.create_tag("v1", repo.revparse_single("HEAD~2").id, pygit2.enums.ObjectType.COMMIT,
                    repo.default_signature, "release")
    repo.branches.local.create("feature", repo.revparse_single("HEAD~1").peel(pygit2.Commit))
    return repo


def test_resolves_branches_tags_shas_and_relative_revisions(history: pygit2.Repository) -> None:
    repo = open_repo(history.workdir)
    first = str(history.revparse_single("HEAD~2").id)
    assert repo.snapshot("v1").info.commit == first
    assert repo.snapshot(first[:10]).info.commit == first
    assert repo.snapshot("HEAD~2").info.commit == first
    assert repo.snapshot("feature").info.commit == str(history.revparse_single("HEAD~1").id)
    assert repo.snapshot("main").info.commit == str(history.head.target)
    assert repo.snapshot("HEAD").info.time == "2026-11-02T12:00:00Z"


@pytest.mark.parametrize("rev", ["nope", "HEAD~9", "0123456789abcdef", "main..", ""])
def test_unknown_revisions_are_errors(history: pygit2.Repository, rev: str) -> None:
    with pytest.raises(RevisionError, match="unknown revision"):
        open_repo(history.workdir).snapshot(rev)


def test_not_a_repository(tmp_path: Path) -> None:
    with pytest.raises(RevisionError, match="not a git repository"):
        open_repo(tmp_path)


def test_reads_git_objects_never_the_working_tree(history: pygit2.Repository) -> None:
    root = Path(history.workdir)
    (root / "a.yaml").write_text("a: edited in the work tree\n")
    (root / "untracked.yaml").write_text("x: 1\n")
    repo = open_repo(root)
    snapshot = repo.snapshot("HEAD")
    assert "untracked.yaml" not in snapshot.files
    assert repo.read_blob(snapshot.files["a.yaml"].oid) == b"a: 2\n"
    assert set(snapshot.files) == {"a.yaml", "dir/b.yaml"}


def test_diff_reports_added_modified_deleted(history: pygit2.Repository) -> None:
    repo = open_repo(history.workdir)
    changes = diff_snapshots(repo.snapshot("HEAD~2"), repo.snapshot("HEAD"))
    assert [(c.path, c.change) for c in changes] == [("a.yaml", "modified"),
                                                     ("dir/b.yaml", "modified")]
    changes = diff_snapshots(repo.snapshot("HEAD~1"), repo.snapshot("HEAD"))
    assert [(c.path, c.change) for c in changes] == [("c.yaml", "deleted"),
                                                     ("dir/b.yaml", "modified")]
    changes = diff_snapshots(repo.snapshot("HEAD~2"), repo.snapshot("HEAD~1"))
    assert ("c.yaml", "added") in [(c.path, c.change) for c in changes]


def test_staged_reads_the_index_not_the_work_tree(history: pygit2.Repository) -> None:
    root = Path(history.workdir)
    stage(history, write={"new.yaml": "n: 1\n"}, delete=["a.yaml"])
    (root / "dir" / "b.yaml").write_text("b: unstaged edit\n")
    repo = open_repo(root)
    staged = repo.staged("2026-11-20T12:00:00Z")
    assert staged.info.commit is None
    assert set(staged.files) == {"new.yaml", "dir/b.yaml"}
    assert repo.read_blob(staged.files["dir/b.yaml"].oid) == b"b: 3\n"
    assert staged.info.tree.startswith("index-sha256:")
    assert repo.staged("2026-11-21T00:00:00Z").info.tree == staged.info.tree
    stage(history, write={"other.yaml": "o: 1\n"})
    assert repo.staged("2026-11-20T12:00:00Z").info.tree != staged.info.tree


BOB, CAROL = ("Bob", "bob@acme.test"), ("Carol", "Carol@Acme.test")


def test_written_by_names_everyone_who_changed_the_file_back_to_its_creation(
        tmp_path: Path) -> None:
    repo = build_history(tmp_path / "r", [
        Step("old file at the same path, deleted", {"w.yaml": "old\n"}, author=CAROL),
        Step("gone", delete=["w.yaml"], author=CAROL),
        Step("bob writes it", {"w.yaml": "w: 1\n", "x.yaml": "x\n"}, author=BOB),
        Step("ada edits it", {"w.yaml": "w: 2\n"}),
        Step("carol touches another file", {"x.yaml": "y\n"}, author=CAROL),
    ])
    found = open_repo(repo.workdir).written_by("HEAD", "w.yaml")
    assert found.people == {"bob@acme.test", "ada@acme.test"}
    assert found.commits == (str(repo.revparse_single("HEAD~1").id),
                             str(repo.revparse_single("HEAD~2").id))


@pytest.mark.parametrize("edit", [False, True])
def test_written_by_follows_a_move_without_counting_the_mover(tmp_path: Path,
                                                              edit: bool) -> None:
    body = "".join(f"line {i}: some waiver text\n" for i in range(20))
    moved = {"moved/w.yaml": body + "one more line\n"} if edit else {}
    repo = build_history(tmp_path / "r", [
        Step("bob writes it", {"w.yaml": body}, author=BOB),
        Step("carol moves it", moved, renames={"w.yaml": "moved/w.yaml"}, author=CAROL),
    ])
    found = open_repo(repo.workdir).written_by("HEAD", "moved/w.yaml")
    assert found.people == ({"bob@acme.test", "carol@acme.test"} if edit else {"bob@acme.test"})
    assert len(found.commits) == (2 if edit else 1)


def test_written_by_a_missing_path_is_nobody(history: pygit2.Repository) -> None:
    found = open_repo(history.workdir).written_by("HEAD", "missing.yaml")
    assert found.people == frozenset() and found.commits == ()
