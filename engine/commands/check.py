"""`govops check`: compose the stages (repo -> catalog -> policy) into one Decision.

This is the only place that knows the order of these stages; each stage knows only its own job.
Keep imports here free of sigstore, pulumi and cyclonedx: this is the pre-commit path.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from engine.advisories.match import AdvisoryIndex
from engine.advisories.records import load_advisory_dir
from engine.advisories.synced import synced_for
from engine.attest.model_signatures import ModelSignature, verify_models
from engine.catalog import Catalog, open_loader
from engine.catalog.changes import ObjectDiff, object_changes
from engine.catalog.load import CatalogLoader
from engine.catalog.schema import suggest
from engine.clock import instant, parse_now, utc_now
from engine.errors import GovopsError, RevisionError
from engine.policy.backends import load_backend
from engine.policy.baseline import mark, only_new
from engine.policy.decision import Decision, ObjectChange, Result
from engine.policy.evaluate import decide
from engine.policy.input import build_input
from engine.policy.library import Library, PolicyBundle, build_bundle, repo_modules
from engine.policy.lint import unevaluated
from engine.policy.manifest_sources import ManifestPolicies, read_manifest_policies
from engine.policy.metadata import PolicyMeta
from engine.policy.waivers import WaiverApproval
from engine.repo import GitRepo, Snapshot, open_repo
from engine.workdir import WorkDir


@dataclass(frozen=True)
class Checked:
    """The decision, the policy bundle that made it (reports read its METADATA) and the time
    it was evaluated as of (what a recorded decision needs to be replayed)."""

    decision: Decision
    bundle: PolicyBundle
    now: str
    notes: tuple[str, ...] = ()  # warnings for the person at the terminal (stderr)

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
    trust_root: str | None = None  # the pin waiver approvals are verified from
    trust_config: Path | None = None  # Sigstore trust for keyless approvals
    approvals: frozenset[str] | None = None  # replay: only these approval entries count
    opa_url: str | None = None  # an OPA server to evaluate on (else GOVOPS_OPA_URL, auto)


# What a decision can depend on: objects, lock files, policies, govops.yaml (as the hook's
# `files:` pattern in .pre-commit-hooks.yaml).
_GOVERNED = (".yaml", ".yml", ".rego", ".txt", ".toml", ".lock", ".json")


def _has_head(repo: GitRepo) -> bool:
    try:
        repo.resolve("HEAD")
    except RevisionError:
        return False
    return True


def _authors(repo: GitRepo, head: Snapshot, base: Snapshot | None
             ) -> Callable[[str], frozenset[str]]:
    """Who wrote a file of `head`: everyone whose commits changed it; for the index, also
    whoever is about to commit it when it differs from HEAD's."""
    def authors(path: str) -> frozenset[str]:
        if head.info.commit is not None:
            return repo.written_by(head.info.commit, path).people
        at = base.info.commit if base is not None else None
        before = base.files.get(path) if base is not None and at is not None else None
        people = repo.written_by(at, path).people if at and before else frozenset()
        if before is None or before.oid != head.files[path].oid:
            people |= {repo.user_email() or "unknown"}
        return people
    return authors


def _approvals(repo: GitRepo, catalog: Catalog, head: Snapshot, base: Snapshot | None,
               options: CheckOptions) -> dict[str, WaiverApproval]:
    """Each waiver's verified approvals (none to look up without waivers: the common
    pre-commit case never opens the trust root or the ledger)."""
    if not catalog.objects.get("Waiver"):
        return {}
    from engine.approvals.collect import unverifiable, waiver_approvals
    from engine.approvals.verified import VerifiedApprovals
    from engine.attest.trust_config import trust_root_loader
    from engine.commands.trust import verifier_trust
    from engine.ledger.store import Ledger

    try:
        history = verifier_trust(repo, options.trust_root)
    except GovopsError as exc:
        return unverifiable(catalog, f"its approvals cannot be verified: {exc}")
    remembered = VerifiedApprovals.open(WorkDir(repo.git_dir).verified_approvals)
    found = waiver_approvals(catalog, Ledger(repo), history, _authors(repo, head, base),
                             trust_root_loader(options.trust_config), options.approvals,
                             remembered=remembered)
    remembered.save()
    return found


def run_check(options: CheckOptions) -> Checked:
    """The decision about `rev` (or the index); with an explicit `base`, every result is also
    marked new or existing against the base revision's own decision."""
    if options.staged and options.rev:
        raise GovopsError("--staged evaluates the index; it cannot be combined with --rev")
    if options.new_only and options.base is None:
        raise GovopsError("--new-only keeps the results a change introduces: it needs --base")
    now = parse_now(options.now) if options.now else utc_now()
    checked = _evaluate(options, now)
    if not options.staged and options.rev is None:
        checked = dataclasses.replace(checked, notes=(*checked.notes,
                                                      *uncommitted(open_repo(options.repo))))
    if options.base is None:
        return checked
    before = _evaluate(dataclasses.replace(options, rev=options.base, base=None, staged=False,
                                           new_only=False), now)
    decision = mark(checked.decision, before.decision)
    return Checked(only_new(decision) if options.new_only else decision, checked.bundle, now,
                   checked.notes)


def uncommitted(repo: GitRepo) -> list[str]:
    """A note when files govops reads differ between HEAD (what a plain check judges) and
    the index or the working tree: an edited model passing because HEAD is fine is the
    mistake this prevents."""
    changed = repo.changed_since_head(_GOVERNED)
    if not changed:
        return []
    shown = ", ".join(changed[:5]) + (f" and {len(changed) - 5} more" if len(changed) > 5
                                      else "")
    return [f"{len(changed)} governed file{'s' if len(changed) > 1 else ''} changed since "
            f"HEAD and not evaluated ({shown}): this checked HEAD; `govops check --staged` "
            "checks what is staged (git add the rest first)"]


def replay_check(options: CheckOptions, bundle: PolicyBundle, now: str) -> Checked:
    """`rev` evaluated again with a recorded policy bundle as of a recorded time (no base)."""
    return _evaluate(options, now, bundle)


@dataclass(frozen=True)
class _Prepared:
    """Everything a decision is made from, before any engine is involved."""

    head: Snapshot
    base: Snapshot | None
    catalog: Catalog
    diffs: tuple[ObjectDiff, ...]
    approvals: Mapping[str, WaiverApproval]
    bundle: PolicyBundle
    notes: tuple[str, ...] = ()  # about the advisory databases (not synced, too old)
    signatures: Mapping[str, ModelSignature] = dataclasses.field(default_factory=dict)
    manifests: ManifestPolicies = dataclasses.field(default_factory=ManifestPolicies)

    def document(self, now: str) -> dict[str, Any]:
        """The input the policies read (docs/policies.md)."""
        return build_input(self.catalog, self.head.info,
                           self.base.info if self.base else None, list(self.diffs),
                           self.approvals, AdvisoryIndex(self.bundle.advisories), now,
                           {name: s.as_input() for name, s in self.signatures.items()})


def _prepare(repo: GitRepo, loader: CatalogLoader, options: CheckOptions, now: str,
             recorded: PolicyBundle | None) -> _Prepared:
    head: Snapshot
    if options.staged:
        head = repo.staged(now)
        base_rev = options.base or ("HEAD" if _has_head(repo) else None)
    else:
        if options.rev is None and not _has_head(repo):
            raise GovopsError(f"{options.repo}: the repository has no commit yet: "
                              "`govops check --staged` checks what is staged, or commit "
                              "first")
        head = repo.snapshot(options.rev or "HEAD")
        base_rev = options.base
    base = repo.snapshot(base_rev) if base_rev else None
    catalog = loader.load(head)
    diffs = tuple(object_changes(loader, base, head)) if base else ()
    approvals = _approvals(repo, catalog, head, base, options)
    if recorded is None:
        library = Library.load()
        if options.advisories is not None:
            library = library.with_advisories(load_advisory_dir(options.advisories))
        synced = synced_for(catalog, instant(now))
        library = library.with_databases(synced.records, synced.snapshots)
        notes = synced.notes
        manifests = read_manifest_policies(repo, head, catalog.config)
        taken = {m.path for m in manifests.modules}
        local = [m for m in repo_modules(repo, head, catalog.config) if m.path not in taken]
        bundle = build_bundle(library, local, catalog.config, manifests.modules,
                              manifests.as_data() if manifests else None)
    else:
        bundle, notes = recorded, ()
        manifests = ManifestPolicies.of_bundle(bundle.modules, bundle.data)
    return _Prepared(head, base, catalog, diffs, approvals, bundle, notes,
                     verify_models(repo, head, catalog), manifests)


def input_document(options: CheckOptions) -> dict[str, Any]:
    """`govops check --show-input`: the input the policies would read, nothing evaluated (as
    `opa eval --input` and Kosli's `--show-input` show it), to write or debug a policy."""
    now = parse_now(options.now) if options.now else utc_now()
    repo = open_repo(options.repo)
    with open_loader(repo) as loader:
        return _prepare(repo, loader, options, now, None).document(now)


def _evaluate(options: CheckOptions, now: str, recorded: PolicyBundle | None = None) -> Checked:
    repo = open_repo(options.repo)
    with open_loader(repo) as loader:
        prepared = _prepare(repo, loader, options, now, recorded)
        bundle, catalog, head, base = (prepared.bundle, prepared.catalog, prepared.head,
                                       prepared.base)
        backend = load_backend(options.engine, bundle.modules, bundle.data, bundle.digest,
                               options.opa_url)
        document = prepared.document(now)
        changes = [ObjectChange(d.path, d.kind, d.name, d.change) for d in prepared.diffs]
        extra: list[Result] = []
        if prepared.manifests:
            from engine.commands.manifest_check import manifest_check

            extra = manifest_check(repo, backend, prepared.manifests, catalog, base, head,
                                   prepared.diffs)
        loader.store_later()  # written while the engine evaluates (no fork after this)
        notes: list[str] = list(prepared.notes)
        decision = decide(backend, bundle, catalog, document, head.info,
                          base.info if base else None, changes,
                          tuple(prepared.approvals.values()), lint=notes, extra=extra)
        if catalog.config.path is None:
            notes.append(f"no govops.yaml in {head.info.ref}: this repository is not governed "
                         "yet (`govops init` makes it so); only the shipped policies judged it")
        notes += unknown_targets(catalog)
        notes += unevaluated(bundle)
        return Checked(decision, bundle, now, tuple(notes))


def unknown_targets(catalog: Catalog) -> list[str]:
    """A note for each waiver whose target names no object of the revision: it waives
    nothing now, and would silently waive an object created later under that name."""
    out = []
    for name, waiver in sorted(catalog.objects.get("Waiver", {}).items()):
        target = waiver.doc["spec"]["target"]
        kind, wanted = str(target["kind"]), str(target["name"])
        known = catalog.objects.get(kind, {})
        if wanted in known:
            continue
        close = suggest(wanted, known)
        hint = f" (did you mean {close!r}?)" if close else ""
        out.append(f"{waiver.path}:{waiver.line_of('spec.target.name')}: waiver {name} targets "
                   f"{kind} {wanted!r}, which this revision does not have{hint}")
    return out
