"""Advisory matches as CycloneDX vulnerabilities, from the same matcher the policy input uses,
so ENV-003 and the AIBOM can never disagree about which package versions are affected."""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from typing import Any

from cyclonedx.model import XsUri
from cyclonedx.model.impact_analysis import ImpactAnalysisAffectedStatus
from cyclonedx.model.vulnerability import (
    BomTarget,
    BomTargetVersionRange,
    Vulnerability,
    VulnerabilityAdvisory,
    VulnerabilityRating,
    VulnerabilitySeverity,
    VulnerabilitySource,
)

from engine.advisories.match import AdvisoryIndex
from engine.bom import refs
from engine.bom.packages import PackageEntry
from engine.catalog.lockfiles.model import normalize_name

_OSV = "https://osv.dev/vulnerability/"


def _time(text: Any) -> dt.datetime | None:
    if not isinstance(text, str):
        return None
    try:
        return dt.datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        return None


def _severity(record: Mapping[str, Any]) -> list[VulnerabilityRating]:
    text = str((record.get("database_specific") or {}).get("severity", "")).lower()
    if text == "moderate":
        text = "medium"
    try:
        return [VulnerabilityRating(severity=VulnerabilitySeverity(text))]
    except ValueError:
        return []


def _fixed(record: Mapping[str, Any], name: str) -> list[str]:
    return sorted({event["fixed"]
                   for affected in record.get("affected", [])
                   if normalize_name(str(affected.get("package", {}).get("name", ""))) == name
                   for rng in affected.get("ranges", [])
                   for event in rng.get("events", []) if "fixed" in event})


def vulnerabilities(entries: Mapping[str, PackageEntry],
                    index: AdvisoryIndex) -> list[Vulnerability]:
    """One vulnerability per advisory that affects at least one package, listing every
    affected package by bom-ref and version."""
    affected: dict[str, list[PackageEntry]] = {}
    for _, entry in sorted(entries.items()):
        for advisory_id in index.matches(entry.name, entry.version, entry.ecosystem):
            affected.setdefault(advisory_id, []).append(entry)
    out: list[Vulnerability] = []
    for advisory_id, hits in sorted(affected.items()):
        record = index.records[advisory_id]
        fixes = sorted({f"{e.name} {fix}" for e in hits for fix in _fixed(record, e.name)})
        out.append(Vulnerability(
            bom_ref=refs.vulnerability_ref(advisory_id),
            id=advisory_id,
            source=VulnerabilitySource(name="OSV", url=XsUri(_OSV + advisory_id)),
            description=record.get("summary"),
            detail=record.get("details"),
            recommendation=f"Upgrade to {' or '.join(fixes)} or later." if fixes else None,
            ratings=_severity(record),
            advisories=[VulnerabilityAdvisory(url=XsUri(r["url"]))
                        for r in record.get("references", []) if r.get("type") == "ADVISORY"],
            published=_time(record.get("published")),
            updated=_time(record.get("modified")),
            affects=[BomTarget(ref=e.purl, versions=[BomTargetVersionRange(
                version=e.version, status=ImpactAnalysisAffectedStatus.AFFECTED)])
                for e in hits],
        ))
    return out
