"""`govops plan`: compose repo -> catalog -> check + AIBOM -> spec -> program (mock) -> manifests.

The only place that knows the order of the deploy stages. Everything is read from git objects of
the planned revision (never the work tree), and the decision is evaluated as of the commit's
time unless told otherwise, so planning the same revision gives the same bytes on every run.
Must never deploy anything: apply will reuse `build_plan` and `compare`, then call the engine.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from engine.aibom import BomOptions, run_bom
from engine.catalog import CatalogLoader, ParseCache
from engine.check import CheckOptions, run_check
from engine.deploy.changes import Change, compare
from engine.deploy.manifests import Manifest, check_unique, digest_of, manifest_of
from engine.deploy.spec import StackSpec, build_stack_spec, find_stack
from engine.repo import open_repo


def default_programs_dir() -> Path:
    """`stacks/` of this checkout, or where GOVOPS_STACK_PROGRAMS points."""
    override = os.environ.get("GOVOPS_STACK_PROGRAMS")
    if override:
        return Path(override)
    return Path(__file__).resolve().parents[2] / "stacks"


@dataclass(frozen=True)
class PlanOptions:
    repo: Path
    stack: str
    rev: str | None = None
    previous: Mapping[str, bytes] | None = None  # the manifests last applied, if any
    engine: str = "auto"
    now: str | None = None
    programs: Path | None = None


@dataclass(frozen=True)
class Plan:
    spec: StackSpec
    manifests: tuple[Manifest, ...]
    changes: tuple[Change, ...]

    @property
    def digest(self) -> str:
        return digest_of(self.manifests)

    @property
    def files(self) -> dict[str, bytes]:
        return {m.file: m.text for m in self.manifests}

    def as_json(self) -> dict[str, Any]:
        return {"stack": self.spec.name, "revision": self.spec.revision, "digest": self.digest,
                "manifests": [m.as_json() for m in self.manifests],
                "changes": [c.as_json() for c in self.changes]}


def stack_spec(options: PlanOptions) -> StackSpec:
    """The StackSpec of `options.stack` at `options.rev`, with its decision id and AIBOM serial."""
    repo = open_repo(options.repo)
    snapshot = repo.snapshot(options.rev or "HEAD")
    cache = ParseCache(repo.git_dir / "govops" / "cache.sqlite")
    try:
        catalog = CatalogLoader(repo, cache).load(snapshot)
    finally:
        cache.close()
    find_stack(catalog, options.stack)  # an unknown stack fails before any evaluation
    commit = snapshot.info.commit
    assert commit is not None  # a snapshot of a revision always has one
    checked = run_check(CheckOptions(repo=options.repo, rev=commit, engine=options.engine,
                                     now=options.now or snapshot.info.time))
    serial = run_bom(BomOptions(repo=options.repo), commit).serial_number
    return build_stack_spec(catalog, options.stack, commit, checked.decision.decision_id, serial)


def build_plan(spec: StackSpec, previous: Mapping[str, bytes] | None = None,
               programs: Path | None = None) -> Plan:
    """Run the spec's program in mock mode and normalise what it registers."""
    from engine.deploy.mock import capture, load_program, without_overhead  # imports pulumi

    program = load_program((programs or default_programs_dir()) / spec.program)
    registered = capture(program, spec, project=spec.program, stack=spec.name)
    with without_overhead():
        manifests = check_unique([manifest_of(r.type, r.name, r.inputs)
                                  for r in registered if r.custom and not r.is_provider])
    changes = compare(previous, {m.file: m.text for m in manifests})
    return Plan(spec, tuple(manifests), tuple(changes))


def run_plan(options: PlanOptions) -> Plan:
    return build_plan(stack_spec(options), options.previous, options.programs)
