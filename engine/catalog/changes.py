"""Object-level changes between a base and a head snapshot (for CHG-001 and reports).

Works from the path diff git already gives for free (blob ids), then parses only the files that
changed, through the same cache, so a comparison costs as much as the change, not the repo.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal

from engine.catalog.load import CatalogLoader, is_yaml
from engine.catalog.schema import OBJECT_KINDS
from engine.errors import InputError
from engine.repo import Snapshot
from engine.repo.snapshot import FileEntry, diff_snapshots


@dataclass(frozen=True)
class ObjectDiff:
    path: str
    kind: str
    name: str
    change: Literal["added", "modified", "deleted"]
    before: Mapping[str, Any] | None
    after: Mapping[str, Any] | None


def _identity(loader: CatalogLoader, path: str, entry: FileEntry | None,
              where: str) -> tuple[str, str, Mapping[str, Any]] | None:
    if entry is None:
        return None
    try:
        parsed = loader.parsed_objects([(path, entry)])
    except InputError as exc:
        raise InputError(exc.path, exc.line, f"{exc.message} (in {where})") from None
    if path not in parsed:
        return None
    doc = parsed[path].doc
    if doc["kind"] not in OBJECT_KINDS:
        return None
    return doc["kind"], doc["metadata"]["name"], doc


def object_changes(loader: CatalogLoader, base: Snapshot, head: Snapshot) -> list[ObjectDiff]:
    diffs: list[ObjectDiff] = []
    for change in diff_snapshots(base, head):
        if not is_yaml(change.path):
            continue
        before = _identity(loader, change.path, change.before, f"base revision {base.info.ref}")
        after = _identity(loader, change.path, change.after, "the evaluated revision")
        if before and after and before[:2] == after[:2]:
            if before[2] != after[2]:
                diffs.append(ObjectDiff(change.path, after[0], after[1], "modified",
                                        before[2], after[2]))
            continue
        if before:
            diffs.append(ObjectDiff(change.path, before[0], before[1], "deleted", before[2], None))
        if after:
            diffs.append(ObjectDiff(change.path, after[0], after[1], "added", None, after[2]))
    return _merge_moves(diffs)


def _merge_moves(diffs: list[ObjectDiff]) -> list[ObjectDiff]:
    """An object deleted at one path and added at another was moved, not deleted."""
    added = {(d.kind, d.name): d for d in diffs if d.change == "added"}
    deleted = {(d.kind, d.name): d for d in diffs if d.change == "deleted"}
    merged: list[ObjectDiff] = []
    for diff in diffs:
        key = (diff.kind, diff.name)
        if key in added and key in deleted:
            if diff.change == "added":
                old = deleted[key]
                if old.before != diff.after:
                    merged.append(ObjectDiff(diff.path, diff.kind, diff.name, "modified",
                                             old.before, diff.after))
            continue
        merged.append(diff)
    return merged
