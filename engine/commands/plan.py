"""`govops plan`: compose repo -> catalog -> check + AIBOM serial -> spec -> plan (mock mode).

The only place that knows the order of the deploy stages. Everything is read from git objects of
the planned revision (never the work tree), and the decision is evaluated as of the commit's
time unless told otherwise, so planning the same revision gives the same bytes on every run.
The changes are against the stack's last apply or rollback in the ledger (the manifests it
recorded), unless a directory of manifests is given. Apply and rollback plan through here too
(`spec_at`: the spec a verified gate allows; `deployed_files`: what an earlier entry left live).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from engine.bom.identity import aibom_serial
from engine.catalog import load_catalog
from engine.commands.bom import advisory_records
from engine.commands.check import CheckOptions, run_check
from engine.deploy.applied import last_deployed, recorded_manifests
from engine.deploy.charts import ChartSource
from engine.deploy.gate import GatePassed
from engine.deploy.plan import NOTHING_APPLIED, Baseline, Plan
from engine.deploy.render import build_plan
from engine.deploy.spec import StackSpec, build_stack_spec, find_stack
from engine.errors import GovopsError
from engine.ledger.entry import StoredEntry
from engine.ledger.store import Ledger
from engine.repo import GitRepo, Snapshot, open_repo
from engine.shipped import programs_dir


@dataclass(frozen=True)
class PlanOptions:
    repo: Path
    stack: str
    rev: str | None = None
    previous: Baseline | None = None  # None: the stack's last apply/rollback in the ledger
    engine: str = "auto"
    now: str | None = None
    programs: Path | None = None


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
    catalog = load_catalog(repo, snapshot)
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
    serial = aibom_serial(commit, advisory_records(None))
    charts = chart_source(repo, snapshot)
    return {s: build_stack_spec(catalog, s, commit, checked.decision.decision_id, serial,
                                charts=charts)
            for s in present}


def chart_source(repo: GitRepo, snapshot: Snapshot) -> ChartSource:
    """The revision's files, for charts a stack vendors (read from git objects)."""
    return ChartSource(snapshot.files, repo.read_blob)


def spec_at(repo: GitRepo, stack: str, gate: GatePassed) -> StackSpec:
    """The StackSpec at the gate's commit (git objects, never the work tree), carrying the
    verified decision id and AIBOM serial."""
    snapshot = repo.snapshot(gate.commit)
    catalog = load_catalog(repo, snapshot)
    find_stack(catalog, stack)
    return build_stack_spec(catalog, stack, gate.commit, gate.decision_id, gate.aibom_serial,
                            charts=chart_source(repo, snapshot))


def deployed_files(repo: GitRepo, ledger: Ledger, stack: str, item: StoredEntry,
                   programs: Path) -> dict[str, bytes] | None:
    """What `item` deployed: its recorded manifests, or (for an entry that recorded none) its
    commit re-planned with the decision id and AIBOM serial it links, accepted only when that
    adds up to its recorded digest. None when neither is possible (every object then shows as
    a create, and the caller says why)."""
    recorded = recorded_manifests(item)
    if recorded is not None:
        return recorded
    by_hash = {e.hash: e for e in ledger.entries()}
    decision = by_hash.get(item.entry.links.get("decision", ""))
    aibom = by_hash.get(item.entry.links.get("aibom", ""))
    if decision is None or aibom is None or item.entry.revision is None:
        return None
    try:
        spec = spec_at(repo, stack, GatePassed(item.entry.revision, decision, aibom))
        planned = build_plan(spec, None, programs)
    except GovopsError:
        return None
    if planned.digest != item.entry.details.get("manifestsDigest"):
        return None
    return planned.files


def ledger_baseline(repo: Path, stack: str, programs: Path | None = None) -> Baseline:
    """The stack's last apply or rollback in the ledger and the manifests it deployed."""
    git = open_repo(repo)
    ledger = Ledger(git)
    item = last_deployed(ledger, stack)
    if item is None:
        return NOTHING_APPLIED
    files = deployed_files(git, ledger, stack, item, programs or programs_dir())
    revision = item.entry.revision
    label = f"{item.entry.type} entry #{item.entry.seq} of commit {(revision or '?')[:12]}"
    if files is None:
        label += " (its manifests could not be recovered: every object is listed as a create)"
    return Baseline(files, "ledger", label, item.entry.seq, item.hash, revision)


def run_plan(options: PlanOptions) -> Plan:
    spec = stack_spec(options)
    baseline = options.previous or ledger_baseline(options.repo, options.stack, options.programs)
    return build_plan(spec, baseline, options.programs)
