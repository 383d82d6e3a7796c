"""`govops pr comment`: compose everything the pull-request comment reports on (the check of
the head against the base, the AIBOM diff, the plan changes of every touched stack), render it,
and post or update the one comment.

A stack is touched when any file it is built from (engine.catalog.sources) differs between
base and head. One check per revision serves every touched stack; a stack whose plan fails says
so alone rather than sinking the comment.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from engine.catalog import open_loader
from engine.catalog.sources import stack_sources
from engine.commands.bom import BomOptions, run_bom_diff
from engine.commands.check import CheckOptions, run_check
from engine.commands.plan import revision_specs
from engine.deploy.changes import StackChanges, substantive
from engine.deploy.render import build_plan
from engine.deploy.spec import StackSpec
from engine.errors import GovopsError
from engine.pr.comment import Posted, post
from engine.pr.github_api import GitHubClient
from engine.repo import GitRepo, open_repo
from engine.repo.snapshot import diff_snapshots
from engine.report.pr_comment import MARKER, render


@dataclass(frozen=True)
class PrOptions:
    repo: Path
    base: str
    head: str
    engine: str = "auto"
    now: str | None = None
    advisories: Path | None = None


def touched_stacks(repo: GitRepo, base: str, head: str) -> list[str]:
    """Stacks (at either side) built from a file the change touches, sorted."""
    with open_loader(repo) as loader:
        before, after = repo.snapshot(base), repo.snapshot(head)
        changed = {c.path for c in diff_snapshots(before, after)}
        catalogs = (loader.load(before), loader.load(after))
    names = {n for c in catalogs for n in c.objects.get("Stack", {})}
    return sorted(n for n in names if any(stack_sources(c, n) & changed for c in catalogs))


def _files(specs: Mapping[str, StackSpec], stack: str) -> dict[str, bytes]:
    """The stack's manifests ({} where it does not exist: all created or deleted)."""
    return build_plan(specs[stack]).files if stack in specs else {}


def stack_changes(repo_path: Path, base: str, head: str) -> list[StackChanges]:
    """The plan changes of every touched stack, base -> head (imports pulumi when any). One
    check per revision serves every stack; a stack whose plan fails says so alone."""
    repo = open_repo(repo_path)
    base_commit, head_commit = (str(repo.resolve(r).id) for r in (base, head))
    stacks = touched_stacks(repo, base_commit, head_commit)
    if not stacks:
        return []
    try:
        before = revision_specs(repo_path, base_commit, stacks, missing_ok=True)
        after = revision_specs(repo_path, head_commit, stacks, missing_ok=True)
    except GovopsError as exc:
        return [StackChanges(stack, (), 0, str(exc)) for stack in stacks]
    out = []
    for stack in stacks:
        try:
            changes, quiet = substantive(_files(before, stack), _files(after, stack))
        except GovopsError as exc:
            out.append(StackChanges(stack, (), 0, str(exc)))
            continue
        out.append(StackChanges(stack, tuple(changes), quiet))
    return out


def compose(options: PrOptions) -> str:
    """Run everything the comment reports on (check, AIBOM diff, plans) and render it."""
    checked = run_check(CheckOptions(repo=options.repo, rev=options.head, base=options.base,
                                     engine=options.engine, now=options.now,
                                     advisories=options.advisories))
    diff = run_bom_diff(BomOptions(repo=options.repo, advisories=options.advisories),
                        options.base, options.head)
    stacks = stack_changes(options.repo, options.base, options.head)
    command = (f"govops check --base {options.base} --rev {options.head} --format markdown")
    return render(checked.decision, checked.metadata, diff, stacks, command)


def post_comment(client: GitHubClient, number: int, body: str) -> Posted:
    """Create the pull request's govops comment, or edit the one already there."""
    return post(client, number, body, MARKER)
