"""Match locked packages against OSV advisory records with PEP 440 version semantics.

Done in Python, not Rego, because neither Rego backend orders PEP 440 versions (`2.5.1+cu124`,
`2.6.0rc1`); the matches go into the policy input so ENV-003 only reads them.
"""

from __future__ import annotations

import functools
import hashlib
import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from packaging.version import InvalidVersion, Version

from engine.advisories.conda_names import pypi_name
from engine.catalog.lockfiles.model import normalize_name

# OSV ecosystem names by the lock-file ecosystem they describe. OSV has no conda ecosystem; a
# record that says "conda" is honoured, and PyPI records reach a conda package only through
# the conda->PyPI table (AdvisoryIndex.matches), never by a name that merely looks the same.
_OSV_ECOSYSTEMS = {"pypi": "pypi", "conda": "conda"}


@functools.lru_cache(maxsize=1 << 16)
def _version(text: str) -> Version | None:
    """Cached: the same bounds (`0`, `1.0`, each release of a project) recur across the
    records of a database, and every bound is read twice (sorting the events, then walking
    them). Version is immutable."""
    try:
        return Version(text)
    except InvalidVersion:
        return None


Interval = tuple[Version | None, Version | None, bool]  # from (None: any), to, to included


@dataclass(frozen=True)
class Affected:
    """What one record says about one package, compiled once: the versions it lists and the
    intervals its ECOSYSTEM ranges describe, with every bound parsed a single time (a check
    matches tens of thousands of pinned versions against the same few records)."""

    versions: frozenset[str]
    intervals: tuple[Interval, ...]

    def covers(self, text: str, parsed: Version | None) -> bool:
        if text in self.versions:
            return True
        if parsed is None:
            return False
        for low, high, inclusive in self.intervals:
            if low is not None and parsed < low:
                continue
            if high is None or parsed < high or (inclusive and parsed == high):
                return True
        return False


def _intervals(events: Iterable[Mapping[str, str]]) -> list[Interval]:
    """OSV ECOSYSTEM events as intervals: sorted, a version is affected from an `introduced`
    up to the next `fixed` (excluded) or `last_affected` (included); events whose version does
    not parse change nothing."""
    out: list[Interval] = []
    start: Version | None = None
    is_open = False
    for event in sorted(events, key=_event_order):
        if "introduced" in event:
            raw = event["introduced"]
            low = None if raw == "0" else _version(raw)
            if (raw == "0" or low is not None) and not is_open:
                start, is_open = low, True
        elif "fixed" in event or "last_affected" in event:
            inclusive = "last_affected" in event
            high = _version(event["last_affected" if inclusive else "fixed"])
            if high is not None and is_open:
                out.append((start, high, inclusive))
                is_open = False
    if is_open:
        out.append((start, None, False))
    return out


def compile_affected(record: Mapping[str, Any], name: str, ecosystem: str) -> Affected:
    """Everything `record` says about package `name` (normalised) of `ecosystem`."""
    versions: set[str] = set()
    intervals: list[Interval] = []
    for affected in record.get("affected", []):
        package = affected.get("package", {})
        if _OSV_ECOSYSTEMS.get(str(package.get("ecosystem", "")).lower()) != ecosystem:
            continue
        if normalize_name(str(package.get("name", ""))) != name:
            continue
        versions.update(str(v) for v in affected.get("versions", []))
        for rng in affected.get("ranges", []):
            if rng.get("type") == "ECOSYSTEM":
                intervals.extend(_intervals(rng.get("events", [])))
    return Affected(frozenset(versions), tuple(intervals))


def _event_order(event: Mapping[str, str]) -> tuple[Version, int]:
    raw = next(iter(event.values()))
    version = Version("0") if raw == "0" else (_version(raw) or Version("0"))
    return version, 0 if "introduced" in event else 1


def affects(record: Mapping[str, Any], name: str, version: str,
            ecosystem: str = "pypi") -> bool:
    return compile_affected(record, name, ecosystem).covers(version, _version(version))


class AdvisoryIndex:
    """Advisories by package name, so matching thousands of packages stays linear."""

    def __init__(self, records: Mapping[str, Mapping[str, Any]]) -> None:
        self.records = records
        self._memo: dict[tuple[str, str, str], list[str]] = {}
        self._compiled: dict[tuple[str, str, str], Affected] = {}
        self._by_name: dict[str, list[tuple[str, Mapping[str, Any]]]] = {}
        for advisory_id, record in sorted(records.items()):
            if record.get("withdrawn"):  # retracted by its publisher (engine.advisories.merge)
                continue
            names = {normalize_name(str(a.get("package", {}).get("name", "")))
                     for a in record.get("affected", [])}
            for name in names:
                self._by_name.setdefault(name, []).append((advisory_id, record))

    @functools.cached_property
    def fingerprint(self) -> str:
        """What the matches are a function of: a memo across checks (engine.policy.input) is
        keyed by it, never by the object. Computed when asked: encoding every record costs
        more than matching them."""
        return hashlib.sha256(
            json.dumps(self.records, sort_keys=True, default=str).encode()).hexdigest()

    def matches(self, name: str, version: str | None, ecosystem: str = "pypi") -> list[str]:
        """Ids of the advisories affecting this exact package version, sorted. Names are
        compared PEP 503-normalised on both sides (conda keeps `typing_extensions` as written).
        A conda package that is a build of a PyPI project (engine.advisories.conda_names) is
        also matched by that project's PyPI records, at its conda version."""
        if version is None:
            return []
        normal = normalize_name(name)
        pypi = pypi_name(name) if ecosystem == "conda" else None
        if normal not in self._by_name and (pypi is None or pypi not in self._by_name):
            return []  # nearly every package of a lock file: no record names it
        # The same few versions of torch recur in every environment: match each once.
        key = (ecosystem, normal, version)
        if key not in self._memo:
            parsed = _version(version)
            found = self._matching(normal, version, parsed, ecosystem)
            if pypi is not None:
                found |= self._matching(pypi, version, parsed, "pypi")
            self._memo[key] = sorted(found)
        return list(self._memo[key])

    def _matching(self, name: str, version: str, parsed: Version | None,
                  ecosystem: str) -> set[str]:
        found = set()
        for aid, record in self._by_name.get(name, ()):
            compiled = self._compiled.get((aid, name, ecosystem))
            if compiled is None:
                compiled = self._compiled[(aid, name, ecosystem)] = compile_affected(
                    record, name, ecosystem)
            if compiled.covers(version, parsed):
                found.add(aid)
        return found
