"""What a pull request does to each Stack it touches: the plan at the base against the plan at
the head.

A stack is touched when any file it is built from differs between base and head: its own YAML,
the Models and Environments its workloads name, and their lock files (with `-r` includes). Every
object's labels carry the revision, decision id and AIBOM serial number, so every object of a
touched stack differs; objects that differ only there are counted, not listed, so reviewers see
the changes that reach the pods.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from engine.catalog import Catalog, CatalogLoader, ParseCache
from engine.deploy.changes import Change, compare
from engine.deploy.spec import StackSpec
from engine.errors import GovopsError
from engine.repo import GitRepo, open_repo
from engine.repo.snapshot import diff_snapshots

PROVENANCE = ("govops.dev/revision", "govops.dev/decision-id", "govops.dev/aibom-serial")


@dataclass(frozen=True)
class StackChanges:
    stack: str
    changes: tuple[Change, ...]  # what reaches the cluster beyond provenance labels
    provenance_only: int  # objects whose only difference is the govops provenance metadata
    error: str | None = None  # the plan could not be made at one side (said, not hidden)


def _sources(catalog: Catalog, stack: str) -> set[str]:
    found = catalog.get("Stack", stack)
    if found is None:
        return set()
    paths = {found.path}
    for workload in found.doc.get("spec", {}).get("workloads", []) or []:
        for kind, key in (("Model", "model"), ("Environment", "environment")):
            target = catalog.get(kind, str(workload.get(key, "")))
            if target is not None:
                paths.add(target.path)
        lock = catalog.locks.get(str(workload.get("environment", "")))
        if lock is not None:
            paths.add(lock.path)
            paths.update(path for path, _ in lock.included)
    return paths


def touched_stacks(repo: GitRepo, base: str, head: str) -> list[str]:
    """Stacks (at either side) built from a file the change touches, sorted."""
    cache = ParseCache(repo.git_dir / "govops" / "cache.sqlite")
    try:
        loader = CatalogLoader(repo, cache)
        before, after = repo.snapshot(base), repo.snapshot(head)
        changed = {c.path for c in diff_snapshots(before, after)}
        catalogs = (loader.load(before), loader.load(after))
    finally:
        cache.close()
    names = {n for c in catalogs for n in c.objects.get("Stack", {})}
    return sorted(n for n in names if any(_sources(c, n) & changed for c in catalogs))


def _without_provenance(text: bytes) -> Any:
    doc = yaml.safe_load(text)
    for section in ("labels", "annotations"):
        values = (doc.get("metadata") or {}).get(section) or {}
        for key in PROVENANCE:
            values.pop(key, None)
    return doc


def substantive(before: Mapping[str, bytes], after: Mapping[str, bytes],
                ) -> tuple[list[Change], int]:
    """(changes beyond provenance metadata, number of objects changed only there)."""
    changes, quiet = [], 0
    for change in compare(before, after):
        if change.action == "update" and (_without_provenance(before[change.file])
                                           == _without_provenance(after[change.file])):
            quiet += 1
        else:
            changes.append(change)
    return changes, quiet


def _files(specs: Mapping[str, StackSpec], stack: str) -> dict[str, bytes]:
    """The stack's manifests ({} where it does not exist: all created or deleted)."""
    from engine.deploy.plan import build_plan

    return build_plan(specs[stack]).files if stack in specs else {}


def stack_changes(repo_path: Path, base: str, head: str) -> list[StackChanges]:
    """The plan changes of every touched stack, base -> head (imports pulumi when any). One
    check per revision serves every stack; a stack whose plan fails says so alone."""
    from engine.deploy.plan import revision_specs

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
