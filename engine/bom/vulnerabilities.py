"""Advisory matches as CycloneDX vulnerabilities, from the same matcher the policy input uses,
so ENV-003 and the AIBOM can never disagree about which package versions are affected."""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from typing import Any

from cyclonedx.model import Property, XsUri
from cyclonedx.model.impact_analysis import ImpactAnalysisAffectedStatus
from cyclonedx.model.vulnerability import (
    BomTarget,
    BomTargetVersionRange,
    Vulnerability,
    VulnerabilityAdvisory,
    VulnerabilityRating,
    VulnerabilityReference,
    VulnerabilityScoreSource,
    VulnerabilitySeverity,
    VulnerabilitySource,
)

from engine.advisories.conda_names import pypi_name
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
    """The publisher's word (database_specific.severity) and every CVSS vector the record
    carries, as CycloneDX ratings."""
    ratings: list[VulnerabilityRating] = []
    text = str((record.get("database_specific") or {}).get("severity", "")).lower()
    if text == "moderate":
        text = "medium"
    if text in {s.value for s in VulnerabilitySeverity}:
        ratings.append(VulnerabilityRating(severity=VulnerabilitySeverity(text)))
    for entry in record.get("severity") or []:
        vector = entry.get("score") if isinstance(entry, Mapping) else None
        method = _CVSS.get(str(entry.get("type"))) if isinstance(entry, Mapping) else None
        if isinstance(vector, str) and method is not None:
            if method is VulnerabilityScoreSource.CVSS_V3 and vector.startswith("CVSS:3.1/"):
                method = VulnerabilityScoreSource.CVSS_V3_1
            ratings.append(VulnerabilityRating(method=method, vector=vector,
                                               source=VulnerabilitySource(name="OSV")))
    return ratings


_CVSS = {"CVSS_V2": VulnerabilityScoreSource.CVSS_V2, "CVSS_V3": VulnerabilityScoreSource.CVSS_V3,
         "CVSS_V4": VulnerabilityScoreSource.CVSS_V4}
_VERSIONED = ("ECOSYSTEM", "SEMVER")  # a GIT range's `fixed` is a commit, not a version


def _fixed(record: Mapping[str, Any], name: str) -> list[str]:
    return sorted({event["fixed"]
                   for affected in record.get("affected", [])
                   if normalize_name(str(affected.get("package", {}).get("name", ""))) == name
                   for rng in affected.get("ranges", []) if rng.get("type") in _VERSIONED
                   for event in rng.get("events", []) if "fixed" in event})


def _advisory_name(entry: PackageEntry) -> str:
    """The name advisories know the package by: a conda build of a PyPI project by the
    project's name (engine.advisories.conda_names)."""
    if entry.ecosystem == "conda":
        return pypi_name(entry.name) or normalize_name(entry.name)
    return normalize_name(entry.name)


def _mapped(hits: list[PackageEntry]) -> list[Property]:
    """Says which conda packages were matched through their PyPI name, so a reader knows
    the match is govops's mapping, not the advisory's own word."""
    return [Property(name="govops:matchedAs",
                     value=f"conda {e.name} {e.version} as PyPI {_advisory_name(e)}")
            for e in hits if e.ecosystem == "conda" and pypi_name(e.name) is not None]


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
        fixes = sorted({f"{e.name} {fix}" for e in hits
                        for fix in _fixed(record, _advisory_name(e))})
        out.append(Vulnerability(
            bom_ref=refs.vulnerability_ref(advisory_id),
            id=advisory_id,
            source=VulnerabilitySource(name="OSV", url=XsUri(_OSV + advisory_id)),
            references=[VulnerabilityReference(id=alias, source=VulnerabilitySource(
                name="OSV", url=XsUri(_OSV + alias))) for alias in record.get("aliases") or []],
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
            properties=_mapped(hits),
        ))
    return out
