"""The Decision: what was decided about one revision, and its content-derived id.

`decision_id` hashes only what was decided (revision, base, input and policy digests, results,
waived results, verdict), never the backend, its version or a clock, so pre-commit, the PR bot,
CI and apply all recompute the same id for the same revision and policies.

A recorded decision (`decision.json`) is read back with `Decision.from_json`, never by key: the
deploy gate, the ledger index and every renderer see the same typed results and counts.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal, NamedTuple

import rfc8785

from engine.policy.waivers import WaiverApproval
from engine.repo.snapshot import RevisionInfo

Severity = Literal["deny", "warn"]
Verdict = Literal["pass", "fail"]
Status = Literal["new", "existing"]
Fingerprint = tuple[str, str, str, str | None, str | None, str | None]


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
    advisory: str | None = None  # the advisory an ENV-003 result is about
    version: str | None = None  # the locked version of `package` the result is about

    @property
    def fingerprint(self) -> Fingerprint:
        """What makes two results the same failure across revisions: the policy, the object,
        the field, the package and the advisory; not the line (edits above move it) nor the
        message (its numbers may change while the failure stays)."""
        return (self.id, self.kind, self.name, self.field, self.package, self.advisory)

    @classmethod
    def from_json(cls, raw: Any) -> Result:
        """A result as `as_json` wrote it; ValueError when it is not one."""
        if not isinstance(raw, dict):
            raise ValueError("a result must be an object")
        try:
            result = cls(file=_text(raw["file"]), line=_integer(raw["line"]), id=_text(raw["id"]),
                         kind=_text(raw["kind"]), name=_text(raw["name"]),
                         severity=_severity(raw["severity"]), msg=_text(raw["msg"]),
                         field=_optional_text(raw.get("field")),
                         package=_optional_text(raw.get("package")),
                         status=_status(raw.get("status")),
                         advisory=_optional_text(raw.get("advisory")),
                         version=_optional_text(raw.get("version")))
        except KeyError as exc:
            raise ValueError(f"a result lacks {exc.args[0]!r}") from None
        return result

    def as_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "id": self.id, "severity": self.severity, "msg": self.msg, "kind": self.kind,
            "name": self.name, "file": self.file, "line": self.line, "field": self.field,
        }
        if self.package is not None:
            out["package"] = self.package
        if self.version is not None:
            out["version"] = self.version
        if self.advisory is not None:
            out["advisory"] = self.advisory
        if self.status is not None:
            out["status"] = self.status
        return out


@dataclass(frozen=True, order=True)
class WaivedResult:
    result: Result
    waiver: str

    @classmethod
    def from_json(cls, raw: Any) -> WaivedResult:
        if not isinstance(raw, dict):
            raise ValueError("a waived result must be an object")
        return cls(Result.from_json(raw), _text(raw.get("waiver")))

    def as_json(self) -> dict[str, Any]:
        return {**self.result.as_json(), "waiver": self.waiver}


@dataclass(frozen=True)
class ObjectChange:
    path: str
    kind: str
    name: str
    change: Literal["added", "modified", "deleted"]

    @classmethod
    def from_json(cls, raw: Any) -> ObjectChange:
        if not isinstance(raw, dict) or raw.get("change") not in ("added", "modified",
                                                                   "deleted"):
            raise ValueError("a change must be an object with change added|modified|deleted")
        return cls(_text(raw.get("path")), _text(raw.get("kind")), _text(raw.get("name")),
                   raw["change"])

    def as_json(self) -> dict[str, Any]:
        return {"path": self.path, "kind": self.kind, "name": self.name, "change": self.change}


class Counts(NamedTuple):
    """What a decision holds, counted once for every renderer."""

    denied: int
    warnings: int
    waived: int
    new: int  # with --base: results the change introduces
    existing: int  # with --base: results failing at the base too


def _text(value: Any) -> str:
    if not isinstance(value, str):
        raise ValueError(f"expected a string, got {value!r}")
    return value


def _optional_text(value: Any) -> str | None:
    return None if value is None else _text(value)


def _integer(value: Any) -> int:
    if not isinstance(value, int) or isinstance(value, bool):
        raise ValueError(f"expected an integer, got {value!r}")
    return value


def _severity(value: Any) -> Severity:
    if value == "deny":
        return "deny"
    if value == "warn":
        return "warn"
    raise ValueError(f"unknown severity {value!r}")


def _status(value: Any) -> Status | None:
    if value is None or value == "new" or value == "existing":
        return value  # type: ignore[no-any-return]
    raise ValueError(f"unknown status {value!r}")


def _revision_from_json(raw: Any) -> RevisionInfo:
    if not isinstance(raw, dict):
        raise ValueError("a revision must be an object")
    return RevisionInfo(_optional_text(raw.get("commit")), _text(raw.get("tree")),
                        _text(raw.get("author")), _text(raw.get("time")),
                        _text(raw.get("ref")))


def _list(raw: Any, key: str) -> list[Any]:
    value = raw.get(key, [])
    if not isinstance(value, list):
        raise ValueError(f"{key} must be a list")
    return value


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
    approvals: tuple[WaiverApproval, ...] = ()  # of every waiver in the revision, verified
    # the synced advisory databases matched against (source, fetched, digest...): also in the
    # policy data, so the policy digest (and the decision id) already covers them
    advisory_databases: tuple[Mapping[str, Any], ...] = ()

    @property
    def verdict(self) -> Verdict:
        return "fail" if any(r.severity == "deny" for r in self.results) else "pass"

    @property
    def counts(self) -> Counts:
        denied = sum(1 for r in self.results if r.severity == "deny")
        new = sum(1 for r in self.results if r.status == "new")
        existing = sum(1 for r in self.results if r.status == "existing")
        return Counts(denied, len(self.results) - denied, len(self.waived), new, existing)

    def approval_of(self, waiver: str) -> WaiverApproval | None:
        return next((a for a in self.approvals if a.waiver == waiver), None)

    def approved_by(self, waiver: str) -> str:
        """Who approved `waiver`, verified, in words ("" when the decision does not say)."""
        approval = self.approval_of(waiver)
        if approval is None or not approval.approvers:
            return ""
        return ", ".join(approval.approvers)

    @property
    def failing_policies(self) -> tuple[str, ...]:
        """Ids of the policies with a deny that no waiver covers, sorted."""
        return tuple(sorted({r.id for r in self.results if r.severity == "deny"}))

    @classmethod
    def from_json(cls, raw: Any) -> Decision:
        """A decision as `as_json` wrote it (`decision.json`); ValueError when it is not one.
        Its `decision_id` is recomputed from the content, so a caller that must trust the
        record compares it with the recorded one."""
        if not isinstance(raw, dict):
            raise ValueError("a decision must be a JSON object")
        try:
            return cls(
                revision=_revision_from_json(raw.get("revision")),
                base=None if raw.get("base") is None else _revision_from_json(raw["base"]),
                engine=_text(raw.get("engine")),
                engine_version=_text(raw.get("engine_version")),
                policy_digest=_text(raw.get("policy_digest")),
                input_digest=_text(raw.get("input_digest")),
                results=tuple(Result.from_json(r) for r in _list(raw, "results")),
                waived=tuple(WaivedResult.from_json(w) for w in _list(raw, "waived")),
                changes=tuple(ObjectChange.from_json(c) for c in _list(raw, "changes")),
                objects=_integer(raw.get("objects", 0)),
                approvals=tuple(WaiverApproval.from_json(a) for a in _list(raw, "approvals")),
                advisory_databases=tuple(d for d in _list(raw, "advisory_databases")
                                         if isinstance(d, dict)),
            )
        except (TypeError, AttributeError) as exc:
            raise ValueError(f"not a decision: {exc}") from None

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
        if self.approvals:  # who approved the waivers is part of what was decided
            decided["approvals"] = [a.as_json() for a in self.approvals]
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
            **({"approvals": [a.as_json() for a in self.approvals]} if self.approvals else {}),
            **({"advisory_databases": [dict(d) for d in self.advisory_databases]}
               if self.advisory_databases else {}),
        }
