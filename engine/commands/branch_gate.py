"""Deploy only what was merged: the commit must be on a branch the trust root names.

CI signs decisions for every branch it builds, so a decision alone does not say that a commit
was reviewed and merged: a commit of a branch that was never merged (and maybe deleted since)
can carry a passing, signed decision. When the trust root names deploy branches (`govops trust
deploy-branches main 'release/*'`), `apply` and `rollback` refuse a commit that no such branch
(local, or remote-tracking as CI fetches it) contains. The list lives in the trust root, signed
by the root keys, not in govops.yaml: a commit's own govops.yaml could lift the rule for itself.
"""

from __future__ import annotations

from engine.errors import GovopsError
from engine.repo import GitRepo
from engine.trust.history import TrustHistory


class NotOnDeployBranch(GovopsError):
    """The commit is on none of the deploy branches (exit 1, as a gate that says no)."""

    exit_code = 1


def require_deploy_branch(repo: GitRepo, commit: str, history: TrustHistory) -> str | None:
    """The ref of a deploy branch holding `commit` (None when the trust names none)."""
    branches = history.current.branches
    if not branches:
        return None
    found = repo.branch_containing(commit, branches)
    if found is None:
        raise NotOnDeployBranch(
            f"commit {commit[:12]} is on none of the branches trust #{history.current.seq} "
            f"allows to deploy ({', '.join(branches)}): merge it first (a commit of an "
            "unmerged or deleted branch does not deploy, whatever its decision says)")
    return found
