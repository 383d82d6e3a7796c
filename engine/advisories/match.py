"""Match locked packages against OSV advisory records with PEP 440 version semantics.

Done in Python, not Rego, because neither Rego backend orders PEP 440 versions (`2.5.1+cu124`,
`2.6.0rc1`); the matches go into the policy input so ENV-003 only reads them.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Mapping
from typing import Any

from packaging.version import InvalidVersion, Version

from engine.advisories.conda_names import pypi_name
from engine.catalog.lockfiles.model import normalize_name

# OSV ecosystem names by the lock-file ecosystem they describe. OSV has no conda ecosystem; a
# record that says "conda" is honoured, PyPI records never match conda packages (other names).
_OSV_ECOSYSTEMS = {"pypi": "pypi", "conda": "conda"}


def _version(text: str) -> Version | None:
    try:
        return Version(text)
    except InvalidVersion:
        return None


def _in_range(version: Version, events: Iterable[Mapping[str, str]]) -> bool:
    """OSV ECOSYSTEM ranges: sorted events, affected from an `introduced` up to `fixed`
    (exclusive) or `last_affected` (inclusive)."""
    affected = False
    for event in sorted(events, key=_event_order):
        if "introduced" in event:
            start = event["introduced"]
            if start == "0" or ((v := _version(start)) is not None and version >= v):
                affected = True
        elif "fixed" in event:
            v = _version(event["fixed"])
            if v is not None and version >= v:
                affected = False
        elif "last_affected" in event:
            v = _version(event["last_affected"])
            if v is not None and version > v:
                affected = False
    return affected


def _event_order(event: Mapping[str, str]) -> tuple[Version, int]:
    raw = next(iter(event.values()))
    version = Version("0") if raw == "0" else (_version(raw) or Version("0"))
    return version, 0 if "introduced" in event else 1


def affects(record: Mapping[str, Any], name: str, version: str,
            ecosystem: str = "pypi") -> bool:
    parsed = _version(version)
    for affected in record.get("affected", []):
        package = affected.get("package", {})
        if _OSV_ECOSYSTEMS.get(str(package.get("ecosystem", "")).lower()) != ecosystem:
            continue
        if normalize_name(str(package.get("name", ""))) != name:
            continue
        if version in affected.get("versions", []):
            return True
        if parsed is None:
            continue
        for rng in affected.get("ranges", []):
            if rng.get("type") == "ECOSYSTEM" and _in_range(parsed, rng.get("events", [])):
                return True
    return False


class AdvisoryIndex:
    """Advisories by package name, so matching thousands of packages stays linear."""

    def __init__(self, records: Mapping[str, Mapping[str, Any]]) -> None:
        self.records = records
        # What the matches are a function of: a memo across checks (engine.policy.input) is
        # keyed by it, never by the object.
        self.fingerprint = hashlib.sha256(
            json.dumps(records, sort_keys=True, default=str).encode()).hexdigest()
        self._memo: dict[tuple[str, str, str], list[str]] = {}
        self._by_name: dict[str, list[tuple[str, Mapping[str, Any]]]] = {}
        for advisory_id, record in sorted(records.items()):
            if record.get("withdrawn"):  # retracted by its publisher (engine.advisories.merge)
                continue
            names = {normalize_name(str(a.get("package", {}).get("name", "")))
                     for a in record.get("affected", [])}
            for name in names:
                self._by_name.setdefault(name, []).append((advisory_id, record))

    def matches(self, name: str, version: str | None, ecosystem: str = "pypi") -> list[str]:
        """Ids of the advisories affecting this exact package version, sorted. Names are
        compared PEP 503-normalised on both sides (conda keeps `typing_extensions` as written).
        A conda package that is a build of a PyPI project (engine.advisories.conda_names) is
        also matched by that project's PyPI records, at its conda version."""
        if version is None:
            return []
        # The same few versions of torch recur in every environment: parse their ranges once.
        key = (ecosystem, normalize_name(name), version)
        if key not in self._memo:
            found = self._matching(normalize_name(name), version, ecosystem)
            if ecosystem == "conda" and (pypi := pypi_name(name)) is not None:
                found |= self._matching(pypi, version, "pypi")
            self._memo[key] = sorted(found)
        return list(self._memo[key])

    def _matching(self, name: str, version: str, ecosystem: str) -> set[str]:
        return {aid for aid, record in self._by_name.get(name, ())
                if affects(record, name, version, ecosystem)}
