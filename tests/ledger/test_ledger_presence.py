"""`audit verify` where the ledger ref is missing: a governed repo (govops.yaml at HEAD) with
no refs/govops/ledger is exit 3 naming the ref and how to fetch it, never "verified: 0
entries"; `--allow-empty` accepts a new repo that has recorded nothing, and still refuses a
ledger that was there (its checkpoint says so)."""

from __future__ import annotations

from pathlib import Path

import pygit2
import pytest

from engine.cli.audit import audit_verify
from engine.ledger.store import LEDGER_REF
from engine.repo import open_repo
from engine.repo.scripted import Step
from engine.workdir import WorkDir
from tests.ledger.test_ledger_verify import History, _history, audit
from tests.support.cli import one_error_line
from tests.support.repos import fixture, make_repo, unwaived
from tests.support.trust import Keys, trusted

MISSING = (f"govops: error: {LEDGER_REF} does not exist here, but HEAD is a governed repository "
           "(govops.yaml): fetch it (git fetch origin '+refs/govops/*:refs/govops/*'), or pass "
           "--allow-empty for a repository that has recorded nothing yet")


@pytest.fixture
def history(tmp_path: Path) -> History:
    return _history(tmp_path)


def test_a_clone_that_never_fetched_the_ledger_is_refused(history: History,
                                                          tmp_path: Path) -> None:
    """`git clone` fetches branches only; this CI job fetched the trust root too, but not the
    ledger. The trust root is checked first (a bad one is the first thing to say)."""
    clone = tmp_path / "clone"
    pygit2.clone_repository(str(history.repo), str(clone))
    pygit2.Repository(str(clone)).remotes["origin"].fetch(
        ["+refs/govops/trust:refs/govops/trust"])
    assert open_repo(clone).records(LEDGER_REF).tip() is None
    pin = WorkDir(history.repo / ".git").trust_pin.read_text().strip()
    run = audit(audit_verify, "--repo", str(clone), "--trust-root", pin)
    assert run.exit_code == 3
    assert one_error_line(run) == MISSING


def test_a_deleted_ledger_is_refused_even_with_allow_empty(history: History) -> None:
    pygit2.Repository(str(history.repo)).references.delete(LEDGER_REF)
    run = audit(audit_verify, "--repo", str(history.repo))
    assert (run.exit_code, one_error_line(run)) == (3, MISSING)
    allowed = audit(audit_verify, "--repo", str(history.repo), "--allow-empty")
    assert allowed.exit_code == 3, allowed.stdout  # the checkpoint remembers entries
    assert "ledger REFUSED" in allowed.stderr


def test_a_new_governed_repo_verifies_empty_only_when_allowed(tmp_path: Path) -> None:
    repo = tmp_path / "repo"
    make_repo(repo, Step("acme", unwaived(fixture("acme-ml"))))
    keys = Keys(tmp_path / "keys")
    trusted(repo, tmp_path / "trust", keys.make("ci").pub("ci"))
    refused = audit(audit_verify, "--repo", str(repo))
    assert (refused.exit_code, one_error_line(refused)) == (3, MISSING)
    allowed = audit(audit_verify, "--repo", str(repo), "--allow-empty")
    assert allowed.exit_code == 0, allowed.stderr
    assert "ledger verified: 0 entries, 0 signatures (the ledger is empty)" in allowed.stdout


def test_an_ungoverned_repo_is_not_asked_for_a_ledger(tmp_path: Path) -> None:
    repo = tmp_path / "plain"
    make_repo(repo, Step("no govops here", {"README.md": b"hello\n"}))
    keys = Keys(tmp_path / "keys")
    trusted(repo, tmp_path / "trust", keys.make("ci").pub("ci"))
    run = audit(audit_verify, "--repo", str(repo))
    assert run.exit_code == 0, run.stderr
