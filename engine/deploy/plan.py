"""`govops plan`: compose repo -> catalog -> check + AIBOM -> spec -> program (mock) -> manifests.

The only place that knows the order of the deploy stages. Everything is read from git objects of
the planned revision (never the work tree), and the decision is evaluated as of the commit's
time unless told otherwise, so planning the same revision gives the same bytes on every run.
The changes are against the stack's last apply or rollback in the ledger (the manifests it
recorded), unless a directory of manifests is given. Must never deploy anything: apply and
rollback reuse `build_plan`, then call the engine.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from engine.bom.identity import aibom_serial
from engine.catalog import CatalogLoader, ParseCache
from engine.check import CheckOptions, run_check
from engine.deploy.changes import Change, compare
from engine.deploy.manifests import Manifest, check_unique, digest_of, manifest_of
from engine.deploy.spec import StackSpec, build_stack_spec, find_stack
from engine.repo import open_repo


def default_programs_dir() -> Path:
    """The shipped programs, or where GOVOPS_STACK_PROGRAMS points. `engine/_stacks` is
    `stacks/` (a symlink in a checkout, package data in an installed govops)."""
    override = os.environ.get("GOVOPS_STACK_PROGRAMS")
    if override:
        return Path(override)
    return (Path(__file__).parents[1] / "_stacks").resolve()


@dataclass(frozen=True)
class Baseline:
    """What a plan's changes are against: the ledger's last deployment, a directory, nothing."""

    files: Mapping[str, bytes] | None
    source: str  # ledger | directory | none
    description: str
    entry: int | None = None
    hash: str | None = None
    revision: str | None = None

    def as_json(self) -> dict[str, Any]:
        return {"source": self.source, "description": self.description, "entry": self.entry,
                "hash": self.hash, "revision": self.revision}


NOTHING_APPLIED = Baseline(None, "none", "nothing applied yet")


@dataclass(frozen=True)
class PlanOptions:
    repo: Path
    stack: str
    rev: str | None = None
    previous: Baseline | None = None  # None: the stack's last apply/rollback in the ledger
    engine: str = "auto"
    now: str | None = None
    programs: Path | None = None


@dataclass(frozen=True)
class Plan:
    spec: StackSpec
    manifests: tuple[Manifest, ...]
    changes: tuple[Change, ...]
    against: Baseline = NOTHING_APPLIED

    @property
    def digest(self) -> str:
        return digest_of(self.manifests)

    @property
    def files(self) -> dict[str, bytes]:
        return {m.file: m.text for m in self.manifests}

    def as_json(self) -> dict[str, Any]:
        return {"stack": self.spec.name, "revision": self.spec.revision, "digest": self.digest,
                "manifests": [m.as_json() for m in self.manifests],
                "changes": [c.as_json() for c in self.changes],
                "against": self.against.as_json()}


def stack_spec(options: PlanOptions) -> StackSpec:
    """The StackSpec of `options.stack` at `options.rev`, with its decision id and AIBOM serial."""
    return revision_specs(options.repo, options.rev or "HEAD", [options.stack], options.engine,
                          options.now)[options.stack]


def revision_specs(repo_path: Path, rev: str, stacks: Sequence[str], engine: str = "auto",
                   now: str | None = None, missing_ok: bool = False) -> dict[str, StackSpec]:
    """The StackSpecs of `stacks` at one revision, sharing its one decision and AIBOM serial
    (the check is the expensive part). An unknown stack fails before any evaluation, or is
    left out with `missing_ok`."""
    repo = open_repo(repo_path)
    snapshot = repo.snapshot(rev)
    cache = ParseCache(repo.git_dir / "govops" / "cache.sqlite")
    try:
        catalog = CatalogLoader(repo, cache).load(snapshot)
    finally:
        cache.close()
    present = [s for s in stacks if catalog.get("Stack", s) is not None]
    if not missing_ok:
        for stack in stacks:
            find_stack(catalog, stack)
    if not present:
        return {}
    commit = snapshot.info.commit
    assert commit is not None  # a snapshot of a revision always has one
    checked = run_check(CheckOptions(repo=repo_path, rev=commit, engine=engine,
                                     now=now or snapshot.info.time))
    serial = aibom_serial(commit)
    return {s: build_stack_spec(catalog, s, commit, checked.decision.decision_id, serial)
            for s in present}


def ledger_baseline(repo: Path, stack: str, programs: Path | None = None) -> Baseline:
    """The stack's last apply or rollback in the ledger and the manifests it deployed."""
    from engine.deploy.applied import deployed_files, last_deployed
    from engine.ledger.store import Ledger

    git = open_repo(repo)
    ledger = Ledger(git)
    item = last_deployed(ledger, stack)
    if item is None:
        return NOTHING_APPLIED
    files = deployed_files(git, ledger, stack, item, programs or default_programs_dir())
    revision = item.entry.revision
    label = f"{item.entry.type} entry #{item.entry.seq} of commit {(revision or '?')[:12]}"
    if files is None:
        label += " (its manifests could not be recovered: every object is listed as a create)"
    return Baseline(files, "ledger", label, item.entry.seq, item.hash, revision)


def build_plan(spec: StackSpec, previous: Baseline | None = None,
               programs: Path | None = None) -> Plan:
    """Run the spec's program in mock mode and normalise what it registers."""
    from engine.deploy.mock import capture, load_program, without_overhead  # imports pulumi

    program = load_program((programs or default_programs_dir()) / spec.program)
    registered = capture(program, spec, project=spec.program, stack=spec.name)
    with without_overhead():
        manifests = check_unique([manifest_of(r.type, r.name, r.inputs)
                                  for r in registered if r.custom and not r.is_provider])
    baseline = previous or NOTHING_APPLIED
    changes = compare(baseline.files, {m.file: m.text for m in manifests})
    return Plan(spec, tuple(manifests), tuple(changes), baseline)


def run_plan(options: PlanOptions) -> Plan:
    spec = stack_spec(options)
    baseline = options.previous or ledger_baseline(options.repo, options.stack, options.programs)
    return build_plan(spec, baseline, options.programs)
