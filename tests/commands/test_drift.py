"""`govops drift` before it reaches a cluster: a stack never deployed, and --record without a
signer, are one line and exit 2 (tests/deploy/test_live_apply.py runs it against a live
cluster, drifted and not)."""

from __future__ import annotations

from pathlib import Path

from engine.repo.scripted import Step
from tests.support.cli import govops
from tests.support.repos import fixture, make_repo, unwaived
from tests.support.trust import Keys, trusted


def _repo(tmp_path: Path) -> Path:
    make_repo(tmp_path / "repo", Step("acme", unwaived(fixture("acme-ml"))))
    trusted(tmp_path / "repo", tmp_path / "trust", Keys(tmp_path / "trust").make("ci").pub("ci"))
    return tmp_path / "repo"


def test_a_stack_never_deployed_has_nothing_to_compare_with(tmp_path: Path) -> None:
    run = govops("drift", "--repo", str(_repo(tmp_path)), "--stack", "prod-inference")
    assert run.exit_code == 2 and run.stdout == ""
    assert run.stderr.strip() == ("govops: error: stack prod-inference has no apply or "
                                  "rollback in the ledger: nothing to compare the cluster with")


def test_record_needs_a_signer(tmp_path: Path) -> None:
    run = govops("drift", "--repo", str(_repo(tmp_path)), "--stack", "prod-inference",
                 "--record")
    assert run.exit_code == 2
    assert "--record signs the drift entry: give --key or --keyless" in run.stderr
