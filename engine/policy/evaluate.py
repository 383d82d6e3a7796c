"""Evaluate one input with one backend and turn the raw deny/warn sets into a Decision.

The engine, not the policies, locates results (kind/name/field -> file:line) and applies
waivers, so every policy, shipped or local, gets both for free and cannot get them wrong.
A result the engine cannot read fails the evaluation: a malformed policy must never pass.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from typing import Any

from engine.catalog import Catalog, GovObject
from engine.errors import EngineError
from engine.policy.backends import RegoBackend
from engine.policy.decision import Decision, ObjectChange, Result, WaivedResult
from engine.policy.input import input_digest
from engine.policy.library import PolicyBundle
from engine.policy.lint import lint_results
from engine.policy.waivers import Scope, WaiverApproval, advisory_names
from engine.repo import RevisionInfo

POLICY_ROOT = "govops.policies"
WAIVER_POLICY = "WVR-001"


def _raw_results(tree: Any, where: str) -> Iterator[tuple[str, str, Any]]:
    """(severity, package, raw result) for every deny/warn set under data.govops.policies."""
    if not isinstance(tree, dict):
        return
    for key, value in sorted(tree.items()):
        if key in ("deny", "warn"):
            if not isinstance(value, list):
                raise EngineError(f"data.{where}.{key} must be a set of result objects")
            for item in value:
                yield key, where, item
        elif isinstance(value, dict):
            yield from _raw_results(value, f"{where}.{key}")


def _locate(catalog: Catalog, raw: Mapping[str, Any]) -> tuple[str, int]:
    obj: GovObject | None = catalog.get(str(raw["kind"]), str(raw["name"]))
    if obj is None:
        # A result about an object this revision does not hold (e.g. one a change deleted):
        # point at the repo's config rather than invent a place.
        return (catalog.config.path or "govops.yaml", 1)
    package = raw.get("package")
    if package is not None and obj.kind == "Environment" and obj.name in catalog.locks:
        lock = catalog.locks[obj.name]
        for p in lock.lock.packages:
            if p.name == package and raw.get("version") in (None, p.version):
                # A package from a file the lock includes (-r) is written there.
                return p.path or lock.path, p.line
        return lock.path, 1
    return obj.path, obj.line_of(raw.get("field"))


def _result(catalog: Catalog, severity: str, package: str, raw: Any) -> Result:
    if not isinstance(raw, dict) or not all(
        isinstance(raw.get(k), str) and raw.get(k) for k in ("id", "msg", "kind", "name")
    ):
        raise EngineError(f"data.{package}: a {severity} result must be an object with string "
                          f"id, msg, kind and name; got {raw!r}")
    field = raw.get("field")
    pkg = raw.get("package")
    advisory = raw.get("advisory")
    version = raw.get("version")
    file, line = _locate(catalog, raw)
    return Result(
        file=file, line=line, id=raw["id"], kind=raw["kind"], name=raw["name"],
        severity="deny" if severity == "deny" else "warn", msg=raw["msg"],
        field=field if isinstance(field, str) else None,
        package=pkg if isinstance(pkg, str) else None,
        advisory=advisory if isinstance(advisory, str) else None,
        version=version if isinstance(version, str) and isinstance(pkg, str) else None,
    )


def _applicable_waivers(catalog: Catalog, results: Sequence[Result]) -> list[tuple[str, Scope]]:
    """(waiver name, scope) of the waivers WVR-001 denies nothing about (so approved, with a
    reason, not expired), by name."""
    refused = {r.name for r in results
               if r.id == WAIVER_POLICY and r.kind == "Waiver" and r.severity == "deny"}
    return [(name, Scope.of(waiver.doc["spec"]))
            for name, waiver in sorted(catalog.objects.get("Waiver", {}).items())
            if name not in refused]


def _waives_nothing(catalog: Catalog, name: str, scope: Scope) -> Result:
    """A warning about an approved waiver that covers no result: its target was fixed,
    renamed or mistyped, and a waiver left lying around waives the next failure silently."""
    waiver = catalog.objects["Waiver"][name]
    return Result(
        file=waiver.path, line=waiver.line_of("spec.target"), id=WAIVER_POLICY, kind="Waiver",
        name=name, severity="warn", field="spec.target",
        msg=f"Waiver {name} waives nothing: no {scope.describe()} result is failing. Remove "
            "it, or correct its target.")


def decide(
    backend: RegoBackend,
    bundle: PolicyBundle,
    catalog: Catalog,
    document: Mapping[str, Any],
    revision: RevisionInfo,
    base: RevisionInfo | None,
    changes: Sequence[ObjectChange],
    approvals: Sequence[WaiverApproval] = (),
    lint: list[str] | None = None,
    extra: Sequence[Result] = (),
) -> Decision:
    """The decision; `lint` (when given) receives notes about the repository's own policies
    (engine.policy.lint), which are not part of the decision. `extra`: results found beside
    the evaluation of data.govops.policies (the manifest policies), waived and counted alike."""
    locks = {name: (lock.lock.format, *lock.oids) for name, lock in catalog.locks.items()}
    blobs = {kind: {name: obj.blob for name, obj in named.items() if obj.blob}
             for kind, named in catalog.objects.items()}
    tree = backend.evaluate(POLICY_ROOT, document, locks, blobs)
    raws = list(_raw_results(tree or {}, POLICY_ROOT))
    results = sorted({_result(catalog, sev, pkg, raw) for sev, pkg, raw in raws} | set(extra))
    if lint is not None:
        lint.extend(lint_results(bundle, raws))
    waivers = _applicable_waivers(catalog, results)
    names = advisory_names(bundle.advisories)
    kept: list[Result] = []
    waived: list[WaivedResult] = []
    used: set[str] = set()
    for result in results:
        waiver = next((name for name, scope in waivers if scope.covers(result, names)), None)
        if waiver is not None and result.id != WAIVER_POLICY:
            waived.append(WaivedResult(result, waiver))
            used.add(waiver)
        else:
            kept.append(result)
    kept += [_waives_nothing(catalog, name, scope) for name, scope in waivers
             if name not in used]
    return Decision(
        revision=revision,
        base=base,
        engine=backend.name,
        engine_version=backend.version(),
        policy_digest=bundle.digest,
        input_digest=input_digest(document, catalog),
        results=tuple(sorted(kept)),
        waived=tuple(sorted(waived)),
        changes=tuple(changes),
        objects=catalog.count(),
        approvals=tuple(sorted(approvals, key=lambda a: a.waiver)),
        advisory_databases=tuple(bundle.data.get("govops", {}).get("advisoryDatabases") or ()),
    )
