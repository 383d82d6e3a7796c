"""A synced database read while `govops advisories sync` replaces it: what matching picked and
the records returned come from one file, the one whose snapshot the decision records; a file
replaced before the lookup began stops it in one line instead of mixing two snapshots."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pytest

from engine.advisories.database import Snapshot, open_database, write_database
from engine.errors import GovopsError


def _record(aid: str, name: str, summary: str) -> dict[str, Any]:
    return {"id": aid, "summary": summary, "affected": [{
        "package": {"ecosystem": "PyPI", "name": name},
        "ranges": [{"type": "ECOSYSTEM", "events": [{"introduced": "0"}, {"fixed": "2.0"}]}]}]}


def _write(folder: Path, digest: str, records: dict[str, dict[str, Any]]) -> None:
    snapshot = Snapshot("mirror", "http://127.0.0.1/all.zip", "2026-12-01T00:00:00Z",
                        f"sha256:{digest * 64}", 1000, len(records), 0)
    write_database(folder / "mirror.sqlite", snapshot, records,
                   {aid: [r["affected"][0]["package"]["name"]] for aid, r in records.items()})


def _all(candidates: Mapping[str, Mapping[str, Any]]) -> set[str]:
    assert all(set(c) <= {"affected", "withdrawn"} for c in candidates.values())
    return set(candidates)


def test_a_sync_during_the_lookup_is_not_seen(tmp_path: Path) -> None:
    _write(tmp_path, "a", {"OLD-1": _record("OLD-1", "torch", "old")})
    database = open_database("mirror", tmp_path)
    assert database is not None

    def pick_while_syncing(candidates: Mapping[str, Mapping[str, Any]]) -> set[str]:
        # a sync renames a database without OLD-1 over the file being read
        _write(tmp_path, "b", {"NEW-1": _record("NEW-1", "torch", "new")})
        return _all(candidates)

    found = database.affecting({"torch"}, pick_while_syncing)
    assert {aid: r["summary"] for aid, r in found.items()} == {"OLD-1": "old"}
    # the next lookup opens the new file, whose snapshot is not the one opened before
    with pytest.raises(GovopsError) as raised:
        database.affecting({"torch"}, _all)
    assert str(raised.value) == (f"{tmp_path / 'mirror.sqlite'}: replaced by `govops "
                                 "advisories sync` while it was being read; run the command "
                                 "again")
    reopened = open_database("mirror", tmp_path)
    assert reopened is not None
    assert set(reopened.affecting({"torch"}, _all)) == {"NEW-1"}


def test_only_matched_records_are_read_whole(tmp_path: Path) -> None:
    _write(tmp_path, "a", {"A-1": _record("A-1", "torch", "one"),
                           "A-2": _record("A-2", "torch", "two"),
                           "B-1": _record("B-1", "numpy", "three")})
    database = open_database("mirror", tmp_path)
    assert database is not None
    found = database.affecting({"torch", "pillow"}, lambda c: {a for a in c if a.endswith("2")})
    assert found == {"A-2": _record("A-2", "torch", "two")}
    assert database.affecting({"pillow"}, _all) == {}
