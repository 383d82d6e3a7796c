"""The trust root for people and machines: `govops trust show` (the version in force) and
`govops trust log` (every version and what it changed), both naming the pinned fingerprint so
a reader can compare it out of band. Identities, URLs and names in a trust root are data: each
text line goes through `escape.terminal`, so no control character in them reaches the
terminal."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from engine.report.escape import terminal
from engine.trust.document import ROLES, Grant
from engine.trust.history import TrustHistory, TrustVersion


def _grant_json(grant: Grant) -> dict[str, Any]:
    who: dict[str, Any] = ({"issuer": grant.issuer, "subject": grant.subject}
                           if grant.is_identity else {"keyid": grant.keyid})
    return {**who, "kind": "identity" if grant.is_identity else "key",
            "validFrom": grant.valid_from, "validUntil": grant.valid_until}


def version_json(version: TrustVersion) -> dict[str, Any]:
    return {
        "seq": version.seq, "commit": version.commit, "rootVersion": version.root_version,
        "targetsVersion": version.targets_version, "rootFingerprint": version.fingerprint,
        "issued": version.issued, "expires": version.expires,
        "root": {"threshold": version.root_threshold,
                 "keys": [_grant_json(g) for g in version.root_keys],
                 "signedBy": list(version.root_signers)},
        "roles": {name: {"threshold": version.roles[name].threshold,
                         "grants": [_grant_json(g) for g in version.roles[name].grants]}
                  for name in ROLES},
        "rolesSignedBy": list(version.targets_signers),
        "timestampAuthorities": [{"name": a.name, "url": a.url} for a in version.authorities],
        "timestampTolerance": version.tolerance,
        "ledgerAnchor": ({"seq": version.anchor[0], "hash": version.anchor[1]}
                         if version.anchor else None),
        "deployBranches": list(version.branches),
    }


def render_show_json(history: TrustHistory) -> str:
    return json.dumps({"pin": history.pin, "pinSource": history.pin_source,
                       "current": version_json(history.current),
                       "versions": len(history.versions)}, indent=2, sort_keys=True) + "\n"


def render_show_text(history: TrustHistory) -> str:
    current = history.current
    lines = [f"trust root {history.pin} (pinned by {history.pin_source})",
             f"in force: version #{current.seq} (root v{current.root_version}, roles "
             f"v{current.targets_version}), issued {current.issued}, expires {current.expires}",
             f"root: threshold {current.root_threshold} of {len(current.root_keys)} keys"]
    lines += [f"  {g.describe()}" for g in current.root_keys]
    for name in ROLES:
        spec = current.roles[name]
        lines.append(f"{name}: threshold {spec.threshold} of {len(spec.grants)}")
        lines += [f"  {g.describe()}" for g in spec.grants]
    if current.authorities:
        lines.append(f"timestamps required from (tolerance {current.tolerance} s):")
        lines += [f"  {a.name} {a.url}" for a in current.authorities]
    else:
        lines.append("timestamps: not required")
    lines.append("deploys: only commits of " + ", ".join(current.branches) if current.branches
                 else "deploys: commits of any branch")
    return "\n".join(terminal(line) for line in lines) + "\n"


def changes(before: TrustVersion | None, after: TrustVersion) -> list[str]:
    """What a version changed against the one before it, in words."""
    if before is None:
        return ["first root"]
    out = []
    if after.fingerprint != before.fingerprint:
        out.append(f"root rotated to v{after.root_version} (threshold {after.root_threshold} "
                   f"of {len(after.root_keys)})")
    for name in ROLES:
        old = {g.keyid: g for g in before.roles[name].grants}
        new = {g.keyid: g for g in after.roles[name].grants}
        out += [f"{name} +{new[k].describe()}" for k in sorted(new.keys() - old.keys())]
        out += [f"{name} -{old[k].describe()}" for k in sorted(old.keys() - new.keys())]
        out += [f"{name} ~{new[k].describe()}" for k in sorted(new.keys() & old.keys())
                if new[k] != old[k]]
        if after.roles[name].threshold != before.roles[name].threshold:
            out.append(f"{name} threshold {before.roles[name].threshold} -> "
                       f"{after.roles[name].threshold}")
    if after.anchor != before.anchor and after.anchor is not None:
        out.append(f"ledger anchored at entry #{after.anchor[0]} ({after.anchor[1][:19]})")
    if after.authorities != before.authorities or after.tolerance != before.tolerance:
        named = ", ".join(a.name for a in after.authorities) or "none"
        out.append(f"timestamp authorities: {named} (tolerance {after.tolerance} s)")
    if after.branches != before.branches:
        out.append("deploy only commits of " + ", ".join(after.branches) if after.branches
                   else "deploy commits of any branch")
    return out or ["re-issued (no role changed)"]


def render_log_text(history: TrustHistory) -> str:
    lines = [f"trust root {history.pin} (pinned by {history.pin_source})"]
    before = None
    for version in history.versions:
        lines.append(f"#{version.seq} {version.issued} {version.commit[:12]} root "
                     f"v{version.root_version} roles v{version.targets_version}, signed by "
                     f"{len(version.targets_signers)} root key(s)")
        lines += [f"  {change}" for change in changes(before, version)]
        before = version
    return "\n".join(terminal(line) for line in lines) + "\n"


def render_log_json(history: TrustHistory) -> str:
    out, before = [], None
    for version in history.versions:
        out.append({**version_json(version), "changes": changes(before, version)})
        before = version
    return json.dumps({"pin": history.pin, "pinSource": history.pin_source,
                       "versions": out}, indent=2, sort_keys=True) + "\n"


RENDERERS: dict[tuple[str, str], Callable[[TrustHistory], str]] = {
    ("show", "text"): render_show_text, ("show", "json"): render_show_json,
    ("log", "text"): render_log_text, ("log", "json"): render_log_json}
