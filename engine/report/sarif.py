"""The Decision as SARIF 2.1.0, for code scanning (GitHub, GitLab, IDEs).

Why it exists: code-scanning tools show a SARIF result on the file and line it names and track
it across commits, so a policy failure reads like any other finding. It renders the Decision and
the policies' METADATA only; it must never evaluate, locate or filter anything itself.

Choices, each fixed so the same Decision always gives the same bytes:
- Result level comes from the result: deny -> "error", warn -> "warning".
- A rule's defaultConfiguration.level comes from its METADATA `custom.severity`
  (case-insensitive): deny, error, high, critical -> "error"; warn, warning, medium ->
  "warning"; anything else (low, info, ...) -> "note". A result id without METADATA gets a bare
  rule (id, name, shortDescription = the id) and no defaultConfiguration.
- Rules are the METADATA ids plus ids only results carry, sorted by id; results are
  `decision.results` then `decision.waived`, in the Decision's order, so `ruleIndex` and the
  position of each result are stable.
- Locations are repo-relative URIs (forward slashes, percent-encoded) with uriBaseId
  `%SRCROOT%`. `originalUriBaseIds` is left out on purpose: the Decision does not know where
  the checkout lives, and GitHub code scanning resolves `%SRCROOT%` to the repository root.
- `versionControlProvenance` is left out too: the schema requires its `repositoryUri`, which
  the Decision does not hold and must not be invented. The evaluated commit, tree and ref are
  in `run.properties` instead (the upload step supplies the commit to GitHub anyway).
- partialFingerprints["govopsFingerprint/v1"] is the sha256 hex of the RFC 8785 canonical JSON
  of `Result.fingerprint` as a list: stable when a line moves or a message's numbers change.
- baselineState, with --base: "new" for status new, "unchanged" for status existing.
- Waived results are included, at their own level, with an external suppression naming the
  waiver, so code scanning shows them as suppressed rather than hiding that they exist.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from importlib.metadata import PackageNotFoundError, version
from typing import Any
from urllib.parse import quote

import rfc8785

from engine.policy.decision import Decision, Result
from engine.policy.metadata import PolicyMeta

SCHEMA_URI = ("https://docs.oasis-open.org/sarif/sarif/v2.1.0/errata01/os/schemas/"
              "sarif-schema-2.1.0.json")
FINGERPRINT_KEY = "govopsFingerprint/v1"
SRCROOT = "%SRCROOT%"

_RESULT_LEVEL = {"deny": "error", "warn": "warning"}
_RULE_LEVEL = {"deny": "error", "error": "error", "high": "error", "critical": "error",
               "warn": "warning", "warning": "warning", "medium": "warning"}
_BASELINE = {"new": "new", "existing": "unchanged"}


def rule_level(severity: str) -> str:
    """The SARIF level of a METADATA severity (see the module docstring)."""
    return _RULE_LEVEL.get(severity.strip().lower(), "note")


def fingerprint(result: Result) -> str:
    """Results without an advisory keep the fingerprint they had before results named one."""
    parts = list(result.fingerprint)
    if parts[-1] is None:
        parts.pop()
    return hashlib.sha256(rfc8785.dumps(parts)).hexdigest()


def artifact_uri(path: str) -> str:
    """A repo-relative path as a relative URI reference."""
    return quote(path.replace("\\", "/").lstrip("/"), safe="/")


def _tool_version() -> str:
    try:
        return version("govops")
    except PackageNotFoundError:
        return "0+unknown"


def _rule(rule_id: str, meta: PolicyMeta | None) -> dict[str, Any]:
    if meta is None:
        return {"id": rule_id, "name": rule_id, "shortDescription": {"text": rule_id},
                "properties": {"tags": ["govops"]}}
    rule: dict[str, Any] = {
        "id": rule_id,
        "name": rule_id,
        "shortDescription": {"text": meta.title or rule_id},
        "fullDescription": {"text": meta.description or meta.title or rule_id},
    }
    if meta.remediation:
        rule["help"] = {"text": meta.remediation}
    rule["defaultConfiguration"] = {"level": rule_level(meta.severity)}
    rule["properties"] = {"tags": ["govops"], "severity": meta.severity,
                          "package": meta.package, "policyPath": meta.path}
    return rule


def _result(result: Result, index: int, waiver: str | None) -> dict[str, Any]:
    out: dict[str, Any] = {
        "ruleId": result.id,
        "ruleIndex": index,
        "level": _RESULT_LEVEL[result.severity],
        "message": {"text": result.msg},
        "locations": [{"physicalLocation": {
            "artifactLocation": {"uri": artifact_uri(result.file), "uriBaseId": SRCROOT},
            "region": {"startLine": max(1, result.line)},
        }}],
        "partialFingerprints": {FINGERPRINT_KEY: fingerprint(result)},
    }
    if result.status is not None:
        out["baselineState"] = _BASELINE[result.status]
    if waiver is not None:
        out["suppressions"] = [{"kind": "external", "justification": f"waived by {waiver}"}]
    properties: dict[str, Any] = {"kind": result.kind, "name": result.name}
    if result.field is not None:
        properties["field"] = result.field
    if result.package is not None:
        properties["package"] = result.package
    if waiver is not None:
        properties["waiver"] = waiver
    out["properties"] = properties
    return out


def sarif_document(decision: Decision, metadata: Mapping[str, PolicyMeta]) -> dict[str, Any]:
    listed: list[tuple[Result, str | None]] = [(r, None) for r in decision.results]
    listed += [(w.result, w.waiver) for w in decision.waived]
    ids = sorted(set(metadata) | {result.id for result, _ in listed})
    index = {rule_id: i for i, rule_id in enumerate(ids)}
    revision = decision.revision
    run: dict[str, Any] = {
        "tool": {"driver": {
            "name": "govops",
            "version": _tool_version(),
            "informationUri": "https://govops.dev",
            "rules": [_rule(rule_id, metadata.get(rule_id)) for rule_id in ids],
        }},
        "automationDetails": {"id": "govops/" + decision.decision_id},
        "invocations": [{"executionSuccessful": True}],
        "results": [_result(result, index[result.id], waiver) for result, waiver in listed],
        "properties": {
            "decisionId": decision.decision_id,
            "verdict": decision.verdict,
            "commit": revision.commit,
            "tree": revision.tree,
            "ref": revision.ref,
            "baseCommit": decision.base.commit if decision.base else None,
            "engine": decision.engine,
            "objects": decision.objects,
        },
    }
    return {"$schema": SCHEMA_URI, "version": "2.1.0", "runs": [run]}


def render_sarif(decision: Decision, metadata: Mapping[str, PolicyMeta], color: bool) -> str:
    return json.dumps(sarif_document(decision, metadata), indent=2, sort_keys=False) + "\n"
