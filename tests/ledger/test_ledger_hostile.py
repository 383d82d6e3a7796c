"""Hostile ledgers (issue 19): a gitlink in an entry's tree, a checkpoint nested 100,000 deep,
`--from` with 5,000 digits, and a ledger fetched from another repository that is signed by the
same key. Each is one line on stderr with its exit code, never a traceback; a foreign ledger
is refused naming its first foreign entry."""

from __future__ import annotations

import json
import shutil
from collections.abc import Callable
from pathlib import Path

import pygit2
import pytest

from engine.cli.audit import audit_verify
from engine.ledger.entry import ENTRY_RECEIPT
from engine.ledger.store import LEDGER_REF
from engine.repo import open_repo
from engine.repo.scripted import Step
from engine.workdir import WorkDir
from tests.ledger.test_ledger_verify import History, _history, audit
from tests.support.cli import Run, govops, one_error_line
from tests.support.repos import fixture, make_repo, unwaived
from tests.support.trust import later, trusted


@pytest.fixture
def history(tmp_path: Path) -> History:
    return _history(tmp_path)


def _verify(repo: Path, *args: str) -> Run:
    return audit(audit_verify, "--repo", str(repo), *args)


def _refused_at(run: Run) -> str:
    """The one line `audit verify` says when the chain does not verify."""
    assert run.exit_code == 3, run.stdout + run.stderr
    assert run.stdout == ""
    lines = run.stderr.strip().splitlines()
    assert len(lines) == 1, run.stderr
    return lines[0]


# -- a gitlink in an entry's tree -------------------------------------------------------------

def _replace_tip(history: History, change: Callable[[pygit2.Repository, pygit2.TreeBuilder],
                                                    None]) -> str:
    """Point the ledger at a copy of its tip commit whose tree `change` edited."""
    repo = pygit2.Repository(str(history.repo))
    commit = repo[repo.references[LEDGER_REF].target]
    assert isinstance(commit, pygit2.Commit)
    builder = repo.TreeBuilder(commit.tree)
    change(repo, builder)
    signature = pygit2.Signature("mallory", "mallory@acme.test", 1_800_000_000, 0)
    forged = repo.create_commit(None, signature, signature, commit.message, builder.write(),
                                list(commit.parent_ids))
    repo.references.create(LEDGER_REF, forged, force=True)
    return str(forged)


def _gitlink(repo: pygit2.Repository, builder: pygit2.TreeBuilder) -> None:
    """A submodule entry (mode 160000): another repository's commit, not an object here."""
    builder.insert("vendor", pygit2.Oid(hex="ab" * 20), pygit2.GIT_FILEMODE_COMMIT)


GITLINK = "holds vendor, which no entry writes (directories, links or executables)"


def test_a_gitlink_in_a_ledger_commit_is_refused_naming_it(history: History) -> None:
    forged = _replace_tip(history, _gitlink)
    line = _refused_at(_verify(history.repo))
    assert line == (f"ledger REFUSED at entry #7 ({forged[:12]}): {GITLINK} (6 entries before "
                    "it verified)")


def test_a_gitlink_is_refused_by_the_ledger_readers_too(history: History) -> None:
    """`audit log` reads the ledger through its index: one line, exit 2, not an entry read
    as if the gitlink were not there."""
    assert govops("audit", "log", "--repo", str(history.repo)).exit_code == 0  # indexed
    forged = _replace_tip(history, _gitlink)
    run = govops("audit", "log", "--repo", str(history.repo))
    assert run.exit_code == 2, run.stdout + run.stderr
    assert one_error_line(run) == f"govops: error: ledger commit {forged}: {GITLINK}"


def test_the_index_follows_a_tip_commit_holding_the_same_entry(history: History) -> None:
    """The tip's receipt re-encoded (same entry, same hash, another commit): the index is
    rebuilt and answers as before but for the commit, instead of failing on an empty list of
    new entries."""
    before = govops("audit", "log", "--repo", str(history.repo), "--format", "json")
    assert before.exit_code == 0, before.stderr

    def reindent(repo: pygit2.Repository, builder: pygit2.TreeBuilder) -> None:
        receipt = repo[builder.get(ENTRY_RECEIPT).id]
        assert isinstance(receipt, pygit2.Blob)
        again = json.dumps(json.loads(receipt.data), indent=4).encode()
        builder.insert(ENTRY_RECEIPT, repo.create_blob(again), pygit2.GIT_FILEMODE_BLOB)

    tip = history.ledger().tip_commit()
    assert tip is not None and tip in before.stdout
    forged = _replace_tip(history, reindent)
    after = govops("audit", "log", "--repo", str(history.repo), "--format", "json")
    assert after.exit_code == 0, after.stderr
    assert after.stdout == before.stdout.replace(tip, forged)


# -- the checkpoint and --from ------------------------------------------------------------------

def test_a_deeply_nested_checkpoint_is_one_line(history: History) -> None:
    assert _verify(history.repo).exit_code == 0
    checkpoint = WorkDir(history.repo / ".git").ledger_checkpoint
    checkpoint.write_text("[" * 100_000)
    run = _verify(history.repo)
    assert run.exit_code == 2, run.stdout + run.stderr
    assert one_error_line(run) == (
        f"govops: error: {checkpoint}: unreadable checkpoint; delete it only if you trust the "
        "ledger as it is now")


def test_from_with_five_thousand_digits_is_one_line(history: History) -> None:
    run = _verify(history.repo, "--from", "9" * 5000)
    assert run.exit_code == 2, run.stdout + run.stderr
    assert one_error_line(run) == ("govops: error: ENTRY 99999999999999999999... has 5000 "
                                   "digits: no ledger entry has such a number")


def test_from_with_an_ordinary_number_beyond_the_end_says_so(history: History) -> None:
    run = _verify(history.repo, "--from", "8")
    assert run.exit_code == 2
    assert one_error_line(run) == "govops: error: no ledger entry #8 (the ledger has 7)"


# -- a foreign ledger ---------------------------------------------------------------------------

def _fetch_ledger(source: Path, target: Path) -> None:
    """What `git fetch <source> +refs/govops/ledger:refs/govops/ledger` sends: the ledger's
    commits, trees and blobs, nothing else (libgit2's local transport would copy more)."""
    src, dst = pygit2.Repository(str(source)), pygit2.Repository(str(target))
    tip = src.references[LEDGER_REF].target
    commit: pygit2.Commit | None = src.get(tip)
    while commit is not None:
        for obj in (commit, commit.tree, *(src[entry.id] for entry in commit.tree)):
            kind, data = src.odb.read(obj.id)[:2]
            dst.odb.write(kind, data)
        commit = commit.parents[0] if commit.parents else None
    dst.references.create(LEDGER_REF, tip, force=True)


def _other_repo(root: Path, public: Path, name: str, change: bool) -> Path:
    """A repository trusting the same signing key; with `change`, its own commits."""
    files = {**unwaived(fixture("acme-ml")), "keys/ci.pub": public.read_bytes()}
    if change:
        files["README.md"] = b"another repository\n"
    repo = root / name
    make_repo(repo, Step("acme", files))
    trusted(repo, root / f"{name}-trust", public)
    return repo


def test_a_foreign_ledger_with_commits_not_here_is_refused(history: History,
                                                           tmp_path: Path) -> None:
    other = _other_repo(tmp_path / "elsewhere", history.public, "repo", change=True)
    _fetch_ledger(history.repo, other)
    first_commit = history.ledger().entries()[0]
    line = _refused_at(_verify(other))
    assert line == (f"ledger REFUSED at entry #1 ({first_commit.commit[:12]}): is about "
                    f"revision {first_commit.entry.revision}, which is not a commit of this "
                    "repository: the ledger belongs to another repository (0 entries before "
                    "it verified)")


def test_a_foreign_ledger_of_a_fork_is_refused_by_repository_name(history: History,
                                                                  tmp_path: Path) -> None:
    """A copy of the repository under another name (same commits, same key): the entries'
    revisions are here, but their statements name the repository they were recorded in."""
    fork = tmp_path / "fork" / "ml-fork"
    shutil.copytree(history.repo, fork)
    WorkDir(fork / ".git").ledger_checkpoint.unlink()  # never verified there
    assert open_repo(fork).name == "ml-fork"
    first = history.ledger().entries()[0]
    line = _refused_at(_verify(fork))
    assert line == (f"ledger REFUSED at entry #1 ({first.commit[:12]}): signature refused: "
                    f"the receipt is about repo@{first.entry.revision}, not "
                    f"ml-fork@{first.entry.revision}: it was recorded in another repository "
                    "(0 entries before it verified)")


def test_the_ledger_verifies_on_a_clone_under_its_remote_name(history: History,
                                                              tmp_path: Path) -> None:
    """The passing twin: a clone elsewhere, named by its origin remote (…/repo), no
    checkpoint."""
    clone = tmp_path / "ci" / "checkout"
    pygit2.clone_repository(str(history.repo), str(clone))
    _fetch_ledger(history.repo, clone)
    pygit2.Repository(str(clone)).remotes["origin"].fetch(
        ["+refs/govops/trust:refs/govops/trust"])
    pin = WorkDir(history.repo / ".git").trust_pin.read_text().strip()
    assert open_repo(clone).name == "repo"
    run = _verify(clone, "--trust-root", pin)
    assert run.exit_code == 0, run.stderr
    assert "ledger verified: 7 entries, 12 signatures" in run.stdout


def test_the_deploy_gate_refuses_the_entries_of_a_fork(history: History,
                                                       tmp_path: Path) -> None:
    """`apply` trusts the latest decision and AIBOM of the commit: in a fork (same commits,
    same key) the ledger copied along is about the other repository."""
    from engine.attest.trust_config import trust_root_loader
    from engine.commands.trust import trust_history
    from engine.deploy.gate import run_gate
    from engine.errors import Refused
    from engine.ledger.store import Ledger

    fork = tmp_path / "fork" / "ml-fork"
    shutil.copytree(history.repo, fork)
    decision = history.ledger().entries()[4]  # the decision of HEAD
    commit = decision.entry.revision
    assert decision.entry.type == "decision" and commit is not None
    passed = run_gate(history.ledger(), commit, trust_history(history.repo, None).signers_at,
                      trust_root_loader(None))
    assert passed.decision.hash == decision.hash
    with pytest.raises(Refused) as refused:
        run_gate(Ledger(open_repo(fork)), commit, trust_history(fork, None).signers_at,
                 trust_root_loader(None))
    assert str(refused.value) == (
        f"decision entry #5 ({decision.hash[:19]}...) does not verify: the receipt is about "
        f"repo@{commit}, not ml-fork@{commit}: it was recorded in another repository")


def test_an_approval_in_a_forks_ledger_counts_for_nothing(tmp_path: Path) -> None:
    """An approval of the same waiver text recorded in another repository (here a fork under
    another name, its ledger copied along, and the verifications remembered there) does not
    approve the waiver here."""
    from tests.support.approvals import approve_at
    from tests.support.cli import check
    from tests.trust.test_approval_attacks import WAIVER, _setup

    setup = _setup(tmp_path)
    approve_at(setup.repo, WAIVER, setup.keys.key("legal"), later())
    assert not [r for r in check(setup.repo, "--format", "json").json()["results"]
                if r["id"] == "WVR-001"]
    fork = tmp_path / "fork" / "ml-fork"
    shutil.copytree(setup.repo, fork)
    [msg] = [r["msg"] for r in check(fork, "--format", "json").json()["results"]
             if r["id"] == "WVR-001"]
    assert "it has 0 of the 1 approvals" in msg
    assert (f"(not counted: approval #1: the receipt is about repo@{setup.commit}, not "
            f"ml-fork@{setup.commit}: it was recorded in another repository); ") in msg


def test_in_a_shallow_clone_a_missing_revision_says_to_fetch_the_history(
        history: History, tmp_path: Path) -> None:
    """A shallow clone (git lists its boundary in .git/shallow) lacks the commits older
    entries are about: the refusal says how to get them rather than calling the ledger
    foreign."""
    other = _other_repo(tmp_path / "elsewhere", history.public, "repo", change=True)
    _fetch_ledger(history.repo, other)
    head = pygit2.Repository(str(other)).head.target
    (other / ".git" / "shallow").write_text(f"{head}\n")
    first = history.ledger().entries()[0]
    assert _refused_at(_verify(other)) == (
        f"ledger REFUSED at entry #1 ({first.commit[:12]}): is about revision "
        f"{first.entry.revision}, which is not a commit of this repository (this is a shallow "
        "clone: fetch the whole history, git fetch --unshallow) (0 entries before it verified)")
