"""engine.advisories.merge: which records govops judges by (withdrawn ones out, one record per
vulnerability), on small records whose every field the test states."""

from __future__ import annotations

from typing import Any

from engine.advisories.merge import effective, withdrawn
from engine.policy.waivers import advisory_names


def _record(aid: str, *aliases: str, modified: str = "2024-01-01T00:00:00Z",
            **more: Any) -> dict[str, Any]:
    return {"id": aid, "aliases": list(aliases), "modified": modified,
            "affected": [{"package": {"ecosystem": "PyPI", "name": aid.lower()}}], **more}


def test_withdrawn_records_are_left_out_and_named() -> None:
    records = {"A-1": _record("A-1"), "B-1": _record("B-1", withdrawn="2023-11-08T00:54:24Z")}
    assert list(effective(records)) == ["A-1"]
    assert withdrawn(records) == ["B-1"]


def test_records_linked_through_aliases_are_merged_transitively() -> None:
    """GHSA-x names CVE-1; PYSEC-1 names CVE-1 and OTHER-1; OTHER-1 stands alone: one group."""
    records = {"GHSA-Ab12": _record("GHSA-Ab12", "CVE-1"),
               "PYSEC-1": _record("PYSEC-1", "CVE-1", "OTHER-1", modified="2025-01-01"),
               "OTHER-1": _record("OTHER-1"),
               "LONE-1": _record("LONE-1", "CVE-9")}
    merged = effective(records)
    assert sorted(merged) == ["LONE-1", "PYSEC-1"]  # the most recently modified leads
    group = merged["PYSEC-1"]
    assert group["aliases"] == ["CVE-1", "GHSA-Ab12", "OTHER-1"]  # spelling kept
    assert len(group["affected"]) == 3  # any record's versions count: fail closed
    assert group["database_specific"]["govops_merged"] == ["GHSA-Ab12", "OTHER-1", "PYSEC-1"]
    assert merged["LONE-1"] == records["LONE-1"]  # a record alone is left as published
    # A waiver naming any id of the group names the merged vulnerability.
    assert {"GHSA-AB12", "CVE-1", "OTHER-1"} <= advisory_names(merged)["PYSEC-1"]


def test_a_placeholder_id_made_from_an_alias_never_leads() -> None:
    records = {"PYSEC-0000-CVE-2022-45907": _record("PYSEC-0000-CVE-2022-45907",
                                                    "CVE-2022-45907", modified="2026-01-01"),
               "PYSEC-2022-43015": _record("PYSEC-2022-43015", "CVE-2022-45907")}
    assert list(effective(records)) == ["PYSEC-2022-43015"]


def test_merging_is_idempotent_and_keeps_a_severity() -> None:
    cvss = [{"type": "CVSS_V3", "score": "CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H"}]
    records = {"A-1": _record("A-1", "CVE-2"), "B-1": _record("B-1", "CVE-2", severity=cvss)}
    once = effective(records)
    assert effective(once) == once
    assert once["A-1"]["severity"] == cvss


def test_a_record_withdrawn_in_a_group_does_not_pull_the_others_out() -> None:
    records = {"A-1": _record("A-1", "CVE-3", withdrawn="2024-01-01T00:00:00Z"),
               "B-1": _record("B-1", "CVE-3")}
    assert effective(records) == {"B-1": records["B-1"]}
