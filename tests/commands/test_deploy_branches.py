"""Deploy only what was merged (issue 16): with deploy branches in the trust root, a commit of
a branch that was never merged, and was deleted since, is refused by `apply` and `rollback`
even though CI attested it with a passing, signed decision.

The attack as an outsider would run it: push a branch, let CI attest it, delete the branch,
ask for an apply of its commit. The branch list lives in the trust root (signed by the root
keys), so the branch's own govops.yaml has no say.
"""

from __future__ import annotations

import json
import shutil
from dataclasses import dataclass
from pathlib import Path

import pygit2
import pytest

import engine.commands.apply as apply_module
from engine.cli.deploy import apply
from engine.commands.branch_gate import require_deploy_branch
from engine.commands.trust import trust_history
from engine.deploy import pulumi_run
from engine.ledger.store import Ledger
from engine.repo import open_repo
from engine.repo.scripted import Step
from tests.support.approvals import approve_all
from tests.support.cli import Run, govops, invoke, one_error_line
from tests.support.pulumi_fakes import STACK, FakePulumi, approved_cluster
from tests.support.repos import NOW, fixture, make_repo

DAY = "2026-11-21T10:00:00Z"


@dataclass(frozen=True)
class Repo:
    path: Path
    key: Path
    root_key: Path
    main: str  # the merged commit, tip of the default branch
    branch: str  # the default branch's name
    feature: str  # a commit of a branch that is never merged


@pytest.fixture(scope="module")
def template(tmp_path_factory: pytest.TempPathFactory) -> Repo:
    tmp = tmp_path_factory.mktemp("deploy-branches")
    assert govops("keygen", "--output", str(tmp / "ci")).exit_code == 0
    files = {**fixture("acme-ml"), "keys/ci.pub": (tmp / "ci.pub").read_bytes()}
    stack = "stacks/prod-inference.yaml"
    feature_files = {**files, stack: files[stack].replace(b"replicas: 3", b"replicas: 5", 1)}
    git = make_repo(tmp / "repo", Step("acme", files, time="2026-11-19T09:00:00Z"),
                    Step("more replicas", feature_files, time="2026-11-19T10:00:00Z"))
    feature = git.head.target
    main = git.revparse_single("HEAD~1").id
    branch = git.head.shorthand
    git.references.create("refs/heads/feature", feature)
    git.references.create(f"refs/heads/{branch}", main, force=True)
    assert approve_all(tmp / "repo", tmp / "trust", tmp / "ci.pub")
    for commit in (main, feature):  # CI attests every branch it builds
        run = govops("attest", "--repo", str(tmp / "repo"), "--rev", str(commit), "--key",
                     str(tmp / "ci.key"), "--output", str(tmp / f"out-{commit}"), "--now", NOW,
                     "--record")
        assert run.exit_code == 0, run.stderr
    return Repo(tmp / "repo", tmp / "ci.key", tmp / "trust" / "trust-root.key", str(main),
                branch, str(feature))


@pytest.fixture
def repo(template: Repo, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Repo:
    monkeypatch.delenv(pulumi_run.PASSPHRASE_ENV, raising=False)
    monkeypatch.delenv(pulumi_run.PASSPHRASE_FILE_ENV, raising=False)
    monkeypatch.setattr(pulumi_run, "pulumi_cli", FakePulumi)
    monkeypatch.setattr(apply_module, "utc_now", lambda: DAY)
    approved_cluster(monkeypatch)
    shutil.copytree(template.path, tmp_path / "repo")
    return Repo(tmp_path / "repo", template.key, template.root_key, template.main,
                template.branch, template.feature)


def _deploy_branches(repo: Repo, *args: str) -> Run:
    return govops("trust", "deploy-branches", "--repo", str(repo.path), *args,
                  "--sign-with", str(repo.root_key))


def _apply(repo: Repo, commit: str) -> Run:
    return invoke(apply, "--repo", str(repo.path), "--stack", STACK, "--rev", commit,
                  "--key", str(repo.key))


def _entries(repo: Repo) -> int:
    return len(Ledger(open_repo(repo.path)).entries())


def test_a_commit_of_a_deleted_unmerged_branch_does_not_deploy(repo: Repo) -> None:
    done = _deploy_branches(repo, repo.branch)
    assert done.exit_code == 0, done.stderr
    shown = govops("trust", "show", "--repo", str(repo.path))
    assert f"deploys: only commits of {repo.branch}" in shown.stdout
    pygit2.Repository(str(repo.path)).references.delete("refs/heads/feature")
    before = _entries(repo)

    refused = _apply(repo, repo.feature)
    assert refused.exit_code == 1, refused.stdout + refused.stderr
    assert one_error_line(refused) == (
        f"govops: error: commit {repo.feature[:12]} is on none of the branches trust #2 allows "
        f"to deploy ({repo.branch}): merge it first (a commit of an unmerged or deleted branch "
        "does not deploy, whatever its decision says)")
    assert _entries(repo) == before  # nothing recorded, nothing deployed

    merged = _apply(repo, repo.main)
    assert merged.exit_code == 0, merged.stderr
    receipt = json.loads(Ledger(open_repo(repo.path)).entries()[-1].files["deployment.json"])
    assert receipt["deployBranch"] == f"refs/heads/{repo.branch}"


def test_a_remote_tracking_branch_matching_a_pattern_counts(repo: Repo) -> None:
    """CI checks out a detached commit and has origin's branches as remote-tracking refs."""
    assert _deploy_branches(repo, repo.branch, "release/*").exit_code == 0
    raw = pygit2.Repository(str(repo.path))
    raw.references.delete("refs/heads/feature")
    git = open_repo(repo.path)
    history = trust_history(repo.path, None)
    with pytest.raises(Exception, match="on none of the branches"):
        require_deploy_branch(git, repo.feature, history)
    raw.references.create("refs/remotes/origin/release/2026.11", pygit2.Oid(hex=repo.feature))
    assert require_deploy_branch(git, repo.feature, history) == (
        "refs/remotes/origin/release/2026.11")
    # A tag or another namespace is not a branch, whatever its name.
    raw.references.delete("refs/remotes/origin/release/2026.11")
    raw.references.create("refs/tags/release/2026.11", pygit2.Oid(hex=repo.feature))
    with pytest.raises(Exception, match="on none of the branches"):
        require_deploy_branch(git, repo.feature, history)


def test_without_deploy_branches_any_attested_commit_deploys(repo: Repo) -> None:
    assert govops("trust", "show", "--repo", str(repo.path)).stdout.count(
        "deploys: commits of any branch") == 1
    assert _apply(repo, repo.feature).exit_code == 0
    receipt = json.loads(Ledger(open_repo(repo.path)).entries()[-1].files["deployment.json"])
    assert receipt["deployBranch"] is None


def test_any_lifts_the_restriction_in_a_new_signed_version(repo: Repo) -> None:
    assert _deploy_branches(repo, repo.branch).exit_code == 0
    assert _apply(repo, repo.feature).exit_code == 1
    assert _deploy_branches(repo, "--any").exit_code == 0
    log = govops("trust", "log", "--repo", str(repo.path)).stdout
    assert f"deploy only commits of {repo.branch}" in log
    assert "deploy commits of any branch" in log
    assert _apply(repo, repo.feature).exit_code == 0


def test_the_branch_list_needs_the_root_keys(repo: Repo) -> None:
    """The CI key that attests cannot name the deploy branches: that is a root decision."""
    run = govops("trust", "deploy-branches", "--repo", str(repo.path), "--any",
                 "--sign-with", str(repo.key))
    assert run.exit_code == 2, run.stdout + run.stderr
    assert "is not a root key of this trust" in one_error_line(run)
    assert trust_history(repo.path, None).current.seq == 1  # nothing published


@pytest.mark.parametrize(("args", "message"), [
    ((), "name the branches, or pass --any"),
    (("main", "--any"), "name the branches, or pass --any"),
    (("-x",), "No such option"),
    (("a..b",), "a deploy branch is a branch name or an fnmatch pattern"),
])
def test_bad_branch_lists_are_refused(repo: Repo, args: tuple[str, ...], message: str) -> None:
    run = _deploy_branches(repo, *args)
    assert run.exit_code == 2, run.stdout + run.stderr
    assert message in run.stderr
    assert trust_history(repo.path, None).current.branches == ()
