"""The evaluation input of DESIGN.md, built from a catalog and what git says about history.

Pure data in, JSON out: no git, no clock. Dates are handed to policies as whole days since the
epoch too, because rego-cpp cannot parse times and both backends must agree.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from collections.abc import Mapping, Sequence
from typing import Any

from engine.advisories.conda_names import pypi_name
from engine.advisories.match import AdvisoryIndex
from engine.catalog import Catalog, EnvironmentLock
from engine.catalog.cache import PARSER_VERSION
from engine.catalog.changes import ObjectDiff
from engine.catalog.schema import OBJECT_KINDS
from engine.policy.waivers import WaiverApproval
from engine.repo import RevisionInfo

_EPOCH = dt.date(1970, 1, 1)


def epoch_day(text: str) -> int:
    """Days since 1970-01-01 of an RFC 3339 time or a YYYY-MM-DD date (UTC)."""
    return (dt.date.fromisoformat(text[:10]) - _EPOCH).days


def approval_facts(approval: WaiverApproval) -> dict[str, Any]:
    """What WVR-001 reads about a waiver's approval (the engine verified the signatures)."""
    return {
        "approved": approval.approved, "approvedBy": list(approval.approvers),
        "needed": approval.needed, "approvedAt": approval.approved_at,
        "approvedDay": epoch_day(approval.approved_at) if approval.approved_at else None,
        "refused": list(approval.refused), "trustRoot": approval.trust_root,
        "problem": approval.problem,
    }


def build_input(
    catalog: Catalog,
    revision: RevisionInfo,
    base: RevisionInfo | None,
    changes: Sequence[ObjectDiff],
    approvals: Mapping[str, WaiverApproval],
    advisories: AdvisoryIndex,
    now: str,
    model_signatures: Mapping[str, Mapping[str, Any]] | None = None,
) -> dict[str, Any]:
    """The policy input (docs/policies.md). `model_signatures`: what checking each signed
    Model's OMS signature showed (engine.attest.model_signatures), absent when none is signed."""
    objects = {kind: {name: obj.doc for name, obj in catalog.objects.get(kind, {}).items()}
               for kind in OBJECT_KINDS}
    environments: dict[str, Any] = {}
    for name, env_lock in catalog.locks.items():
        packages, positions = _packages(env_lock, advisories)
        environments[name] = {
            "lockfile": env_lock.path,
            "format": env_lock.lock.format,
            "packages": packages,
            "flagged": positions,
        }
    waivers: dict[str, Any] = {}
    for name, waiver in catalog.objects.get("Waiver", {}).items():
        expires = waiver.doc["spec"].get("expires")
        waivers[name] = {"expiresDay": epoch_day(expires) if isinstance(expires, str) else None}
        if name in approvals:
            waivers[name]["approval"] = approval_facts(approvals[name])
    return {
        "revision": revision.as_input(),
        "base": base.as_input() if base else None,
        "objects": objects,
        "environments": environments,
        "changes": [
            {"path": c.path, "kind": c.kind, "name": c.name, "change": c.change,
             "before": c.before, "after": c.after}
            for c in changes
        ],
        "waivers": waivers,
        "now": now,
        "today": epoch_day(now),
        **({"modelSignatures": {k: dict(v) for k, v in sorted(model_signatures.items())}}
           if model_signatures else {}),
    }


# Each lock file's packages as the input holds them, by what they are a function of (the lock's
# blob ids, the parser, the advisories), kept by a long-lived process (the govops daemon:
# keep_packages) so that it builds a lock file's package records once, not on every check
# (0.45 s for 100,000 packages). Never mutated: the input is only encoded.
_PACKAGES: dict[tuple[Any, ...], tuple[list[dict[str, Any]], list[int]]] = {}
_PACKAGES_MAX = 20_000
_keep = False


def keep_packages() -> None:
    global _keep
    _keep = True


def _packages(env_lock: EnvironmentLock, advisories: AdvisoryIndex
              ) -> tuple[list[dict[str, Any]], list[int]]:
    key = (env_lock.lock.format, env_lock.oids, PARSER_VERSION, advisories.fingerprint)
    found = _PACKAGES.get(key)
    if found is None:
        packages = [
            {
                "name": p["name"], "version": p["version"], "specifier": p["specifier"],
                "extras": p["extras"], "marker": p["marker"], "hashes": p["hashes"],
                "ecosystem": p["ecosystem"],
                "advisories": advisories.matches(p["name"], p["version"], p["ecosystem"]),
            }
            for p in env_lock.lock.records
        ]
        for package in packages:  # conda builds of PyPI projects say which (a few dozen)
            if package["ecosystem"] == "conda":
                package.update(_pypi(package))
        found = (packages, flagged(packages))
        if _keep:
            if len(_PACKAGES) >= _PACKAGES_MAX:
                _PACKAGES.clear()
            _PACKAGES[key] = found
    return found


def _pypi(record: Mapping[str, Any]) -> dict[str, str]:
    """`pypi`: the PyPI project a conda package builds, when govops knows it (advisories of
    that project apply to it, and ENV-003 says so); nothing for any other package."""
    if record["ecosystem"] != "conda":
        return {}
    name = pypi_name(record["name"])
    return {"pypi": name} if name is not None else {}


def flagged(packages: Sequence[Mapping[str, Any]]) -> list[int]:
    """Positions of the packages a policy has to look at (no exact version, no hash, or a
    known advisory): ENV-001 and ENV-003 walk these instead of every locked package, which
    took them 85 ms of OPA's 135 ms on a commit of a repo with 10,000 locked packages."""
    return [i for i, p in enumerate(packages)
            if p["version"] is None or not p["hashes"] or p["advisories"]]


def input_digest(document: Mapping[str, Any], catalog: Catalog) -> str:
    """Digest of what was evaluated: the clock and the staged revision's time are left out so
    that re-evaluating the same content gives the same digest.

    Locked packages (most of the input) are represented by the git blob ids of their lock
    file and of the files it includes (`-r`), and the parser version: the package list is a
    function of those, and of the advisory data, which the policy digest covers. Hashing the
    blob ids instead of re-encoding 100,000 packages saves ~0.3 s per 10,000 objects.

    Sorted-key compact JSON rather than RFC 8785: the pure-Python RFC 8785 encoder costs
    ~0.25 s per 1,000 objects, which the pre-commit path cannot afford, and the input holds
    only strings, booleans, integers and short decimals, which both encode the same way.
    The decision id itself, over this digest, is RFC 8785.
    """
    content = {k: v for k, v in document.items() if k not in ("now", "today")}
    content["environments"] = {
        name: {**{k: v for k, v in env.items() if k != "packages"},
               "packages": {"lockBlobs": list(catalog.locks[name].oids),
                            "parser": PARSER_VERSION}}
        for name, env in document["environments"].items()
    }
    content["revision"] = {k: v for k, v in document["revision"].items() if k != "time"}
    if document.get("base"):
        content["base"] = {k: v for k, v in document["base"].items() if k != "time"}
    encoded = json.dumps(content, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return "sha256:" + hashlib.sha256(encoded.encode("utf-8")).hexdigest()
