"""The advisories govops judges by: OSV records as published, less the withdrawn ones, with
every group of records that describe one vulnerability merged into one.

OSV keeps a record it retracts, marked `withdrawn`: matching it fails real lock files on a flaw
that never was (aiohttp PYSEC-2022-43059, disputed and withdrawn in 2023). And one flaw often
has several records, PYSEC and GHSA ids and old placeholder ids, linked by their `aliases`: a
check that reported each would list one CVE twice, and a waiver naming one id would leave the
other standing. Both are settled here, once, for every consumer (the policy data, the matcher,
the AIBOM), so they cannot disagree.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any


def effective(records: Mapping[str, Mapping[str, Any]]) -> dict[str, dict[str, Any]]:
    """The records by id with withdrawn ones left out and alias groups merged (see `_merge`).
    Idempotent: merging merged records changes nothing."""
    live = {aid: record for aid, record in records.items() if not record.get("withdrawn")}
    out: dict[str, dict[str, Any]] = {}
    for group in _groups(live):
        merged = _merge([live[aid] for aid in group], group)
        out[merged["id"]] = merged
    return dict(sorted(out.items()))


def withdrawn(records: Mapping[str, Mapping[str, Any]]) -> list[str]:
    """Ids of the withdrawn records, for the notes that say what was ignored."""
    return sorted(aid for aid, record in records.items() if record.get("withdrawn"))


def _names(advisory_id: str, record: Mapping[str, Any]) -> set[str]:
    aliases = record.get("aliases")
    return {advisory_id.upper(), *(str(a).upper() for a in aliases or () if a)}


def _groups(records: Mapping[str, Mapping[str, Any]]) -> list[list[str]]:
    """Ids of records that share a name (an id or an alias), transitively; sorted."""
    parent = {aid: aid for aid in records}

    def root(aid: str) -> str:
        while parent[aid] != aid:
            parent[aid] = parent[parent[aid]]
            aid = parent[aid]
        return aid

    owner: dict[str, str] = {}
    for aid in sorted(records):
        for name in sorted(_names(aid, records[aid])):
            other = owner.setdefault(name, aid)
            if other != aid:
                parent[root(aid)] = root(other)
    groups: dict[str, list[str]] = {}
    for aid in sorted(records):
        groups.setdefault(root(aid), []).append(aid)
    return sorted(groups.values())


def _primary(group: list[str], records: list[Mapping[str, Any]]) -> str:
    """The id a merged vulnerability is reported under: not a placeholder id made from
    another id of the group (PYSEC-0000-CVE-2022-45907), then the most recently modified
    record, then the smallest id, so every machine picks the same one."""
    by_id = dict(zip(group, records, strict=True))
    names = set().union(*(_names(aid, by_id[aid]) for aid in group))

    def rank(aid: str) -> tuple[bool, str, str]:
        placeholder = any(other != aid.upper() and other in aid.upper() for other in names)
        modified = str(by_id[aid].get("modified") or "")
        return (placeholder, _inverted(modified), aid)

    return min(group, key=rank)


def _inverted(text: str) -> str:
    """A key that sorts `text` descending under min()."""
    return "".join(chr(0x10FFFF - ord(c)) for c in text) + "\U0010ffff"


def _merge(records: list[Mapping[str, Any]], group: list[str]) -> dict[str, Any]:
    """One record for a group: the primary record, with every other id and alias as its
    aliases and every record's `affected` entries (a version any of them names is affected:
    failing closed), and the ids merged into it."""
    if len(group) == 1:
        return dict(records[0])
    primary = _primary(group, records)
    by_id = dict(zip(group, records, strict=True))
    base = dict(by_id[primary])
    spelt: dict[str, str] = {}  # as first written: GHSA ids are mixed case
    for aid in group:
        for name in [aid, *(str(a) for a in by_id[aid].get("aliases") or () if a)]:
            spelt.setdefault(name.upper(), name)
    base["aliases"] = sorted(name for key, name in spelt.items() if key != primary.upper())
    affected: list[Any] = []
    for aid in [primary, *(a for a in group if a != primary)]:
        for entry in by_id[aid].get("affected") or []:
            if entry not in affected:
                affected.append(entry)
    base["affected"] = affected
    if not base.get("severity"):
        severity = next((by_id[a]["severity"] for a in group if by_id[a].get("severity")), None)
        if severity is not None:
            base["severity"] = severity
    base["modified"] = max(str(by_id[a].get("modified") or "") for a in group)
    base["database_specific"] = {**(base.get("database_specific") or {}),
                                 "govops_merged": sorted(group)}
    return base
