"""The Decision: what was decided about one revision, and its content-derived id.

`decision_id` hashes only what was decided (revision, base, input and policy digests, results,
waived results, verdict), never the backend, its version or a clock, so pre-commit, the PR bot,
CI and apply all recompute the same id for the same revision and policies.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import Any, Literal

import rfc8785

from engine.repo import RevisionInfo

Severity = Literal["deny", "warn"]
Verdict = Literal["pass", "fail"]
Status = Literal["new", "existing"]


@dataclass(frozen=True, order=True)
class Result:
    file: str
    line: int
    id: str
    kind: str
    name: str
    severity: Severity
    msg: str
    field: str | None = None
    package: str | None = None
    status: Status | None = None  # with --base: new, or existing (failing at the base too)

    @property
    def fingerprint(self) -> tuple[str, str, str, str | None, str | None]:
        """What makes two results the same failure across revisions: the policy, the object,
        the field and the package; not the line (edits above move it) nor the message (its
        numbers may change while the failure stays)."""
        return (self.id, self.kind, self.name, self.field, self.package)

    def as_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "id": self.id, "severity": self.severity, "msg": self.msg, "kind": self.kind,
            "name": self.name, "file": self.file, "line": self.line, "field": self.field,
        }
        if self.package is not None:
            out["package"] = self.package
        if self.status is not None:
            out["status"] = self.status
        return out


@dataclass(frozen=True, order=True)
class WaivedResult:
    result: Result
    waiver: str

    def as_json(self) -> dict[str, Any]:
        return {**self.result.as_json(), "waiver": self.waiver}


@dataclass(frozen=True)
class ObjectChange:
    path: str
    kind: str
    name: str
    change: Literal["added", "modified", "deleted"]

    def as_json(self) -> dict[str, Any]:
        return {"path": self.path, "kind": self.kind, "name": self.name, "change": self.change}


def _revision_identity(info: RevisionInfo | None) -> dict[str, Any] | None:
    return None if info is None else {"commit": info.commit, "tree": info.tree}


def _revision_json(info: RevisionInfo | None) -> dict[str, Any] | None:
    if info is None:
        return None
    return {"commit": info.commit, "tree": info.tree, "author": info.author, "time": info.time,
            "ref": info.ref}


@dataclass(frozen=True)
class Decision:
    revision: RevisionInfo
    base: RevisionInfo | None
    engine: str
    engine_version: str
    policy_digest: str
    input_digest: str
    results: tuple[Result, ...]
    waived: tuple[WaivedResult, ...]
    changes: tuple[ObjectChange, ...]
    objects: int

    @property
    def verdict(self) -> Verdict:
        return "fail" if any(r.severity == "deny" for r in self.results) else "pass"

    @property
    def decision_id(self) -> str:
        decided = {
            "revision": _revision_identity(self.revision),
            "base": _revision_identity(self.base),
            "input_digest": self.input_digest,
            "policy_digest": self.policy_digest,
            "results": [r.as_json() for r in self.results],
            "waived": [w.as_json() for w in self.waived],
            "verdict": self.verdict,
        }
        return "sha256:" + hashlib.sha256(rfc8785.dumps(decided)).hexdigest()

    def as_json(self) -> dict[str, Any]:
        return {
            "decision_id": self.decision_id,
            "verdict": self.verdict,
            "revision": _revision_json(self.revision),
            "base": _revision_json(self.base),
            "engine": self.engine,
            "engine_version": self.engine_version,
            "policy_digest": self.policy_digest,
            "input_digest": self.input_digest,
            "objects": self.objects,
            "results": [r.as_json() for r in self.results],
            "waived": [w.as_json() for w in self.waived],
            "changes": [c.as_json() for c in self.changes],
        }
