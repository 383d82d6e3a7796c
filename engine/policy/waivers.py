"""Waivers: what an approver approves, which results a waiver covers, and what the engine
verified about its approvals.

An approval is of a waiver's content, never of its file: its name, policy, target (with the
scope below it) and reason, and its expiry, as RFC 8785 JSON. Moving the file keeps the
approval; changing any of those, pushing the expiry out included, needs a new one.

A waiver covers a result of its policy on its target object; scoped to `packages` it covers
only results about those packages, and to `advisories` only results about those advisories
(by OSV id or alias), so a waiver for one GHSA does not waive the next CVE in the same
environment.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import rfc8785

if TYPE_CHECKING:  # the decision records approvals, so it imports this module
    from engine.policy.decision import Result

APPROVAL_PREDICATE = "https://govops.dev/waiver-approval/v1"


@dataclass(frozen=True)
class Scope:
    """What a waiver covers: a policy's results on one object, optionally only some of its
    packages or advisories."""

    policy: str
    kind: str
    name: str
    packages: tuple[str, ...] = ()
    advisories: tuple[str, ...] = ()

    @classmethod
    def of(cls, spec: Mapping[str, Any]) -> Scope:
        target = spec["target"]
        return cls(str(spec["policy"]), str(target["kind"]), str(target["name"]),
                   tuple(str(p).lower() for p in target.get("packages") or ()),
                   tuple(str(a).upper() for a in target.get("advisories") or ()))

    def covers(self, result: Result, advisory_names: Mapping[str, frozenset[str]]) -> bool:
        if (result.id, result.kind, result.name) != (self.policy, self.kind, self.name):
            return False
        if self.packages and (result.package or "").lower() not in self.packages:
            return False
        if self.advisories:
            names = advisory_names.get(result.advisory or "", frozenset())
            if not names & set(self.advisories):
                return False
        return True

    def describe(self) -> str:
        said = f"{self.policy} on {self.kind} {self.name}"
        if self.packages:
            said += f" (packages {', '.join(self.packages)})"
        if self.advisories:
            said += f" (advisories {', '.join(self.advisories)})"
        return said


def advisory_names(records: Mapping[str, Any]) -> dict[str, frozenset[str]]:
    """Each advisory id -> the names it goes by (its id and aliases), upper-cased."""
    out = {}
    for key, record in records.items():
        aliases = record.get("aliases") if isinstance(record, Mapping) else None
        names = {str(key).upper(), *(str(a).upper() for a in aliases or () if a)}
        out[str(key)] = frozenset(names)
    return out


def approved_content(name: str, spec: Mapping[str, Any]) -> dict[str, Any]:
    """What an approval of waiver `name` approves (not `approvedBy`: that is what the
    approvals themselves now say, verified)."""
    return {"name": name, "policy": spec.get("policy"), "target": spec.get("target"),
            "reason": spec.get("reason"), "expires": spec.get("expires")}


def content_digest(content: Mapping[str, Any]) -> str:
    return "sha256:" + hashlib.sha256(rfc8785.dumps(dict(content))).hexdigest()


@dataclass(frozen=True)
class WaiverApproval:
    """What the engine verified about one waiver's approvals: handed to WVR-001 in the input
    and recorded in the decision, so the decision says who approved and can be replayed with
    exactly the approvals it saw (`entries`)."""

    waiver: str
    digest: str  # of the approved content, as it is in the revision evaluated
    needed: int  # the approvers threshold of the trust in force
    approvers: tuple[str, ...] = ()  # who counted: owners' emails (or key ids), verified
    approved_at: str | None = None  # the first counted approval: the waiver's clock starts
    refused: tuple[str, ...] = ()  # approvals of this content that did not count, and why
    entries: tuple[str, ...] = ()  # hashes of every approval entry considered
    trust_root: str | None = None  # the fingerprint the approvals were verified from
    problem: str | None = None  # why no approval could be verified at all

    @property
    def approved(self) -> bool:
        return self.problem is None and len(self.approvers) >= self.needed

    def as_json(self) -> dict[str, Any]:
        return {"waiver": self.waiver, "digest": self.digest, "needed": self.needed,
                "approvedBy": list(self.approvers), "approvedAt": self.approved_at,
                "refused": list(self.refused), "entries": list(self.entries),
                "trustRoot": self.trust_root, "problem": self.problem,
                "approved": self.approved}

    @classmethod
    def from_json(cls, raw: Any) -> WaiverApproval:
        if not isinstance(raw, dict):
            raise ValueError("an approval record must be an object")
        try:
            approval = cls(
                waiver=_text(raw["waiver"]), digest=_text(raw["digest"]),
                needed=int(raw["needed"]),
                approvers=tuple(_text(a) for a in raw.get("approvedBy", [])),
                approved_at=_optional(raw.get("approvedAt")),
                refused=tuple(_text(r) for r in raw.get("refused", [])),
                entries=tuple(_text(e) for e in raw.get("entries", [])),
                trust_root=_optional(raw.get("trustRoot")),
                problem=_optional(raw.get("problem")))
        except (KeyError, TypeError) as exc:
            raise ValueError(f"not an approval record: {exc}") from None
        return approval


def _text(value: Any) -> str:
    if not isinstance(value, str):
        raise ValueError(f"expected a string, got {value!r}")
    return value


def _optional(value: Any) -> str | None:
    return None if value is None else _text(value)
