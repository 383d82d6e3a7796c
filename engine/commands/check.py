"""`govops check`: compose the stages (repo -> catalog -> policy) into one Decision.

This is the only place that knows the order of these stages; each stage knows only its own job.
Keep imports here free of sigstore, pulumi and cyclonedx: this is the pre-commit path.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from engine.advisories.match import AdvisoryIndex
from engine.advisories.records import load_advisory_dir
from engine.catalog import Catalog, open_loader
from engine.catalog.changes import ObjectDiff, object_changes
from engine.clock import parse_now, utc_now
from engine.errors import GovopsError, RevisionError
from engine.policy.backends import select_backend
from engine.policy.baseline import mark, only_new
from engine.policy.decision import Decision, ObjectChange
from engine.policy.evaluate import decide
from engine.policy.input import WaiverOrigin, build_input
from engine.policy.library import Library, PolicyBundle, build_bundle, repo_modules
from engine.policy.metadata import PolicyMeta
from engine.repo import GitRepo, Snapshot, open_repo


@dataclass(frozen=True)
class Checked:
    """The decision, the policy bundle that made it (reports read its METADATA) and the time
    it was evaluated as of (what a recorded decision needs to be replayed)."""

    decision: Decision
    bundle: PolicyBundle
    now: str

    @property
    def metadata(self) -> Mapping[str, PolicyMeta]:
        return self.bundle.metadata


@dataclass(frozen=True)
class CheckOptions:
    repo: Path
    rev: str | None = None
    base: str | None = None
    staged: bool = False
    engine: str = "auto"
    now: str | None = None
    advisories: Path | None = None
    new_only: bool = False  # with base: keep only the results the change introduces


def _has_head(repo: GitRepo) -> bool:
    try:
        repo.resolve("HEAD")
    except RevisionError:
        return False
    return True


def _waiver_origins(repo: GitRepo, catalog: Catalog, history_from: str | None,
                    ) -> dict[str, WaiverOrigin]:
    waivers = catalog.objects.get("Waiver", {})
    if not waivers or history_from is None:
        return {}
    found = repo.added_by(history_from, sorted({w.path for w in waivers.values()}))
    return {name: WaiverOrigin(found[w.path].time, found[w.path].commit)
            for name, w in waivers.items() if w.path in found}


def run_check(options: CheckOptions) -> Checked:
    """The decision about `rev` (or the index); with an explicit `base`, every result is also
    marked new or existing against the base revision's own decision."""
    if options.staged and options.rev:
        raise GovopsError("--staged evaluates the index; it cannot be combined with --rev")
    if options.new_only and options.base is None:
        raise GovopsError("--new-only keeps the results a change introduces: it needs --base")
    now = parse_now(options.now) if options.now else utc_now()
    checked = _evaluate(options, now)
    if options.base is None:
        return checked
    before = _evaluate(CheckOptions(repo=options.repo, rev=options.base, engine=options.engine,
                                    advisories=options.advisories), now)
    decision = mark(checked.decision, before.decision)
    return Checked(only_new(decision) if options.new_only else decision, checked.bundle, now)


def replay_check(options: CheckOptions, bundle: PolicyBundle, now: str) -> Checked:
    """`rev` evaluated again with a recorded policy bundle as of a recorded time (no base)."""
    return _evaluate(options, now, bundle)


def _evaluate(options: CheckOptions, now: str, recorded: PolicyBundle | None = None) -> Checked:
    repo = open_repo(options.repo)
    with open_loader(repo) as loader:
        head: Snapshot
        if options.staged:
            head = repo.staged(now)
            history = "HEAD" if _has_head(repo) else None
            base_rev = options.base or history
        else:
            head = repo.snapshot(options.rev or "HEAD")
            history = head.info.commit
            base_rev = options.base
        base = repo.snapshot(base_rev) if base_rev else None
        catalog = loader.load(head)
        diffs: list[ObjectDiff] = object_changes(loader, base, head) if base else []
        origins = _waiver_origins(repo, catalog, history)
        if recorded is None:
            library = Library.load()
            if options.advisories is not None:
                library = library.with_advisories(load_advisory_dir(options.advisories))
            bundle = build_bundle(library, repo_modules(repo, head, catalog.config),
                                  catalog.config)
        else:
            bundle = recorded
        backend = select_backend(options.engine)
        backend.load(bundle.modules, bundle.data)
        document = build_input(catalog, head.info, base.info if base else None, diffs, origins,
                               AdvisoryIndex(bundle.advisories), now)
        changes = [ObjectChange(d.path, d.kind, d.name, d.change) for d in diffs]
        decision = decide(backend, bundle, catalog, document, head.info,
                          base.info if base else None, changes)
        return Checked(decision, bundle, now)
