"""Run manifest policies (engine.policy.manifest_sources) against rendered objects, on the
check's own backend, into ordinary Results: located at the stack line that produced the
object, waivable like any result, in every output format.

Each object is the input of its own query, exactly as conftest and Gatekeeper present it (the
object itself; `{"review": {...}, "parameters": ...}` for a template), so a policy's helper rules
read `input` without `with` (which rego-cpp does not carry through rule chains). conftest rules
are those named deny, violation or warn, or starting with `deny_`, `violation_` or `warn_`;
warn rules warn, the others deny; conftest's `exception` rule leaves out the named rules it
lists for that input. A Gatekeeper constraint denies, or warns when its
enforcementAction is warn or dryrun. A result value govops cannot read (neither a string, an
object with a string `msg`, nor true) fails the evaluation: a malformed policy never passes.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from engine.errors import EngineError
from engine.policy.backends import RegoBackend
from engine.policy.decision import Result
from engine.policy.gatekeeper_match import group_version_kind, matches, namespace_of
from engine.policy.manifest_sources import Constraint, ManifestPolicies

_PREFIXES = ("deny", "violation", "warn")


@dataclass(frozen=True)
class ManifestTarget:
    """One rendered object, and the govops object and line it comes from."""

    object: Mapping[str, Any]
    file: str
    line: int
    kind: str  # the govops object its results belong to (what a waiver targets)
    name: str
    field: str | None = None

    @property
    def shown(self) -> str:
        """`Deployment serve/chat`: the object as a message names it."""
        metadata = self.object.get("metadata") or {}
        where = metadata.get("namespace")
        name = metadata.get("name") or "?"
        return f"{self.object.get('kind') or '?'} {f'{where}/' if where else ''}{name}"


def manifest_results(backend: RegoBackend, policies: ManifestPolicies,
                     targets: Sequence[ManifestTarget]) -> list[Result]:
    """Every conftest and Gatekeeper result about these objects."""
    results: list[Result] = []
    namespaces = policies.evaluated_namespaces() if policies.conftest else ()
    for target in targets:
        for namespace in namespaces:
            document = backend.evaluate(namespace, dict(target.object))
            results += _conftest(namespace, document, target)
    labels = _namespace_labels(targets)
    for constraint in policies.constraints:
        for target in targets:
            if matches(constraint.match, target.object, labels):
                results += _gatekeeper(backend, constraint, target)
    return results


def _conftest(namespace: str, document: Any, target: ManifestTarget) -> Iterator[Result]:
    if document is None:
        return
    if not isinstance(document, Mapping):
        raise EngineError(f"data.{namespace} is not a package (a {type(document).__name__})")
    excepted = _exceptions(namespace, document.get("exception"))
    for rule, value in sorted(document.items()):
        if not _is_verdict(rule) or (not rule.startswith("warn")
                                     and rule.partition("_")[2] in excepted):
            continue
        severity = "warn" if rule.startswith("warn") else "deny"
        for message in _messages(f"data.{namespace}.{rule}", value):
            yield _result(target, f"{namespace}.{rule}", severity, message)


def _exceptions(namespace: str, value: Any) -> set[str]:
    """The rule names conftest's `exception` rule excepts for this input: a set of lists of
    names; `deny_<name>` and `violation_<name>` results are then left out (a named rule only,
    as in conftest)."""
    if value is None or value is False:
        return set()
    if not isinstance(value, list) or not all(
            isinstance(names, list) and all(isinstance(n, str) for n in names)
            for names in value):
        raise EngineError(f"data.{namespace}.exception: must be a set of lists of rule names "
                          f"(as conftest reads it); got {json.dumps(value)[:200]}")
    return {name for names in value for name in names}


def _is_verdict(rule: str) -> bool:
    return any(rule == p or rule.startswith(p + "_") for p in _PREFIXES)


def _messages(where: str, value: Any) -> list[str]:
    """The messages of one rule's value, as conftest reads them: a set or array of strings or
    of objects with `msg`, a string or object alone, or a boolean (true: one result)."""
    if value is False or value is None:
        return []
    if value is True:
        return [where.rpartition(".")[2]]
    items = value if isinstance(value, list) else [value]
    found = []
    for item in items:
        if isinstance(item, str):
            found.append(item)
        elif isinstance(item, Mapping) and isinstance(item.get("msg"), str):
            found.append(item["msg"])
        else:
            raise EngineError(f"{where}: a result must be a string or an object with a string "
                              f"msg (as conftest reads them); got {json.dumps(item)[:200]}")
    return found


def _gatekeeper(backend: RegoBackend, constraint: Constraint, target: ManifestTarget
                ) -> Iterator[Result]:
    group, version, kind = group_version_kind(target.object)
    metadata = target.object.get("metadata") or {}
    review = {"object": dict(target.object),
              "kind": {"group": group, "version": version, "kind": kind},
              "name": metadata.get("name") or "", "namespace": namespace_of(target.object) or "",
              "operation": "CREATE", "userInfo": {"username": "govops"}}
    value = backend.evaluate(f"{constraint.package}.violation",
                             {"review": review, "parameters": constraint.parameters or {}})
    severity = "deny" if constraint.action == "deny" else "warn"
    where = f"{constraint.path}:{constraint.line}: {constraint.kind} violation"
    for item in value or []:
        if not isinstance(item, Mapping) or not isinstance(item.get("msg"), str):
            raise EngineError(f"{where}: a violation must be an object with a string msg (as "
                              f"Gatekeeper reads them); got {json.dumps(item)[:200]}")
        yield _result(target, constraint.id, severity, f"[{constraint.name}] {item['msg']}")


def _result(target: ManifestTarget, policy: str, severity: str, message: str) -> Result:
    return Result(file=target.file, line=target.line, id=policy, kind=target.kind,
                  name=target.name, severity="warn" if severity == "warn" else "deny",
                  msg=f"{target.shown}: {message}", field=target.field)


def _namespace_labels(targets: Sequence[ManifestTarget]) -> dict[str, Mapping[str, str]]:
    return {str((t.object.get("metadata") or {}).get("name")):
            dict((t.object.get("metadata") or {}).get("labels") or {})
            for t in targets if t.object.get("kind") == "Namespace"}
