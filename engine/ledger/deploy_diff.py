"""What changed between two deployments (`audit diff`): "what changed between deployment N and
N+1", answered from the ledger alone.

Per deployment the index holds what its AIBOM says the stack deployed (models with revision and
digest, environments, their images and packages, by environment); the decision entries it rests
on say which waivers were used; the apply/rollback entry records the manifests deployed
(`manifests.json`). The diff compares those: items by (kind, environment, name), waivers by
name, manifests by object and field. govops's own `govops.dev/` labels and annotations are
provenance (the decision id, the model digest), shown by the entries and models compared, not
as manifest changes, so a diff lists what someone changed, not what follows from deploying.
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Iterator, Mapping
from typing import Any

import yaml

from engine.ledger.answers import DiffResult, EntrySummary, FieldChange, ItemChange
from engine.ledger.index import LedgerIndex
from engine.ledger.reference import QueryError

MANIFESTS = "manifests.json"
_PROVENANCE = "govops.dev/"


def deployment_diff(index: LedgerIndex, before_seq: int, after_seq: int,
                    entries: Mapping[int, EntrySummary]) -> DiffResult:
    for seq in (before_seq, after_seq):
        if entries[seq].type not in ("apply", "rollback"):
            raise QueryError(f"entry #{seq} is a {entries[seq].type} entry: audit diff compares "
                             "two deployments (apply or rollback entries)")
    items = _item_changes(_items(index, before_seq), _items(index, after_seq))
    used_before, used_after = _waivers(index, before_seq), _waivers(index, after_seq)
    old, new = _manifests(index, entries[before_seq]), _manifests(index, entries[after_seq])
    changes = tuple(_attributed(_manifest_changes(old, new), items)
                    ) if old is not None and new is not None else ()
    return DiffResult(entries[before_seq], entries[after_seq], items,
                      tuple(sorted(used_after - used_before)),
                      tuple(sorted(used_before - used_after)), changes,
                      old is not None and new is not None)


Key = tuple[str, str, str]  # kind, environment ("" for none), name


def _items(index: LedgerIndex, seq: int) -> dict[Key, tuple[str | None, str | None]]:
    rows = index.db.execute(
        "SELECT i.kind, i.environment, i.name, i.version, i.digest FROM deployed d "
        "JOIN items i ON i.id = d.item WHERE d.seq = ?", (seq,)).fetchall()
    found: dict[Key, tuple[str | None, str | None]] = {}
    for kind, environment, name, version, digest in sorted(rows, key=lambda r: tuple(
            "" if v is None else str(v) for v in r)):
        key = (kind, environment or "", name)
        if key in found:  # the same name twice in one environment: compare them together
            version = " | ".join(v for v in (found[key][0], version) if v)
            digest = " | ".join(d for d in (found[key][1], digest) if d)
        found[key] = (version, digest)
    return found


def _item_changes(before: Mapping[Key, tuple[str | None, str | None]],
                  after: Mapping[Key, tuple[str | None, str | None]]) -> tuple[ItemChange, ...]:
    changes = []
    for key in sorted(set(before) | set(after)):
        kind, environment, name = key
        old, new = before.get(key), after.get(key)
        if old == new:
            continue
        fields: tuple[str, ...] = ()
        if old is None:
            change = "added"
        elif new is None:
            change = "removed"
        else:
            change = "changed"
            fields = tuple(f for f, a, b in (("version", old[0], new[0]),
                                             ("digest", old[1], new[1])) if a != b)
        changes.append(ItemChange(kind, name, environment or None, change, old, new, fields))
    return tuple(changes)


def _waivers(index: LedgerIndex, seq: int) -> set[str]:
    return {str(w) for (w,) in index.db.execute(
        "SELECT DISTINCT r.waiver FROM entries e JOIN results r ON r.seq = e.decision_seq "
        "WHERE e.seq = ? AND r.waived = 1 AND r.waiver IS NOT NULL", (seq,))}


def _manifests(index: LedgerIndex, entry: EntrySummary) -> dict[str, Any] | None:
    """The manifests an entry recorded, by object ("Kind namespace/name"); None without."""
    data = index.ledger.read(entry.commit).files.get(MANIFESTS)
    if data is None:
        return None
    try:
        files = json.loads(data)
        documents = [doc for text in files.values() for doc in yaml.safe_load_all(text)
                     if isinstance(doc, dict)]
    except (ValueError, yaml.YAMLError, AttributeError) as exc:
        raise QueryError(f"entry #{entry.seq}: its {MANIFESTS} does not read: {exc}") from None
    out = {}
    for doc in documents:
        meta = doc.get("metadata") or {}
        where = f"{meta.get('namespace')}/" if meta.get("namespace") else ""
        out[f"{doc.get('kind')} {where}{meta.get('name')}"] = doc
    return out


def _attributed(changes: Iterator[FieldChange], items: tuple[ItemChange, ...]
                ) -> Iterator[FieldChange]:
    """Mark a manifest field that only carries an item's new value (a model's digest in a
    container's environment, or its short form in the `app.kubernetes.io/version` label)
    with the item change it follows from."""
    sources: dict[tuple[Any, Any], str] = {}
    for item in items:
        if item.old is not None and item.new is not None:
            for position, field in enumerate(("version", "digest")):
                if field in item.fields:
                    pair = (item.old[position], item.new[position])
                    origin = f"{item.kind} {item.name} {field}"
                    sources.setdefault(pair, origin)
                    short = (_short(pair[0]), _short(pair[1]))
                    if field == "digest" and None not in short:
                        sources.setdefault(short, origin)
    for change in changes:
        source = sources.get((change.before, change.after))
        yield dataclasses.replace(change, follows=source) if source else change


def _short(digest: str | None) -> str | None:
    """A digest as the gpu-workloads program writes it into `app.kubernetes.io/version`: its
    first 12 hex digits (stacks/gpu-workloads/program.py, model_version)."""
    hexdigits = (digest or "").partition(":")[2][:12]
    return hexdigits if len(hexdigits) == 12 else None


def _manifest_changes(before: Mapping[str, Any], after: Mapping[str, Any]
                      ) -> Iterator[FieldChange]:
    for name in sorted(set(before) | set(after)):
        if name not in after:
            yield FieldChange(name, "", "present", None)
        elif name not in before:
            yield FieldChange(name, "", None, "present")
        else:
            old, new = dict(_flat(before[name])), dict(_flat(after[name]))
            for field in sorted(set(old) | set(new)):
                if old.get(field) != new.get(field):
                    yield FieldChange(name, field, old.get(field), new.get(field))


def _flat(value: Any, path: str = "") -> Iterator[tuple[str, Any]]:
    """(field path, scalar) pairs; keys with a dot or slash are written ["key"]."""
    if isinstance(value, dict):
        for key, child in value.items():
            key = str(key)
            if key.startswith(_PROVENANCE):
                continue
            step = f'["{key}"]' if "." in key or "/" in key else (f".{key}" if path else key)
            yield from _flat(child, path + step)
    elif isinstance(value, list):
        for i, child in enumerate(value):
            yield from _flat(child, f"{path}[{i}]")
    else:
        yield path, value
