"""Match locked packages against OSV advisory records with PEP 440 version semantics.

Done in Python, not Rego, because neither Rego backend orders PEP 440 versions (`2.5.1+cu124`,
`2.6.0rc1`); the matches go into the policy input so ENV-003 only reads them.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from packaging.version import InvalidVersion, Version

from engine.catalog.lockfiles.model import normalize_name
from engine.errors import InputError

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
        self._memo: dict[tuple[str, str, str], list[str]] = {}
        self._by_name: dict[str, list[tuple[str, Mapping[str, Any]]]] = {}
        for advisory_id, record in sorted(records.items()):
            names = {normalize_name(str(a.get("package", {}).get("name", "")))
                     for a in record.get("affected", [])}
            for name in names:
                self._by_name.setdefault(name, []).append((advisory_id, record))

    def matches(self, name: str, version: str | None, ecosystem: str = "pypi") -> list[str]:
        """Ids of the advisories affecting this exact package version, sorted. Names are
        compared PEP 503-normalised on both sides (conda keeps `typing_extensions` as written)."""
        name = normalize_name(name)
        candidates = self._by_name.get(name)
        if version is None or not candidates:
            return []
        # The same few versions of torch recur in every environment: parse their ranges once.
        key = (ecosystem, name, version)
        if key not in self._memo:
            self._memo[key] = [aid for aid, record in candidates
                               if affects(record, name, version, ecosystem)]
        return list(self._memo[key])


def _check_record(shown: str, line: int, record: Any) -> None:
    if not isinstance(record, dict) or not isinstance(record.get("id"), str):
        raise InputError(shown, line, "an OSV record needs a string id")
    affected = record.get("affected", [])
    if not isinstance(affected, list) or not all(isinstance(a, dict) for a in affected):
        raise InputError(shown, line, f"{record['id']}: affected must be a list of objects")


def load_advisory_dir(directory: Path) -> dict[str, dict[str, Any]]:
    """OSV records from `*.json` files in a directory (one record or a list per file, as OSV
    exports write them), by id. A malformed file is an input error naming it and its line."""
    if not directory.is_dir():
        raise InputError(str(directory), None, "--advisories needs a directory of OSV JSON files")
    records: dict[str, dict[str, Any]] = {}
    origin: dict[str, str] = {}
    for path in sorted(directory.glob("*.json")):
        shown = str(path)
        try:
            loaded = json.loads(path.read_text(encoding="utf-8"))
        except UnicodeDecodeError:
            raise InputError(shown, None, "not UTF-8 text") from None
        except json.JSONDecodeError as exc:
            raise InputError(shown, exc.lineno, f"malformed JSON: {exc.msg}") from None
        for record in loaded if isinstance(loaded, list) else [loaded]:
            _check_record(shown, 1, record)
            if record["id"] in records:
                raise InputError(shown, 1, f"advisory {record['id']} is also in "
                                 f"{origin[record['id']]}")
            records[record["id"]] = record
            origin[record["id"]] = shown
    return records


def advisories_digest(records: Mapping[str, Any]) -> str:
    encoded = json.dumps(records, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return "sha256:" + hashlib.sha256(encoded.encode("utf-8")).hexdigest()
