"""What changed between two AIBOMs: components added, removed and changed, field by field.

Works on the JSON documents (never `Bom.from_json`, which drops modelCard and data). Components
are paired by identity, not bom-ref: a package is `pypi:torch` whatever its version, an image
is its repository, a model its name; so a torch bump is one change, not a removal and an
addition. Packages, images and datasets are compared within what holds them (the environment
or model whose dependencies name them), so a torch bump in `train` is one change in `train`
even while `vllm-serve` keeps the old torch, and every change says where it happened.
Properties, model cards and dataset data are itemized to the field that changed, since
"properties changed" makes a reviewer diff JSON by hand. Dependency lists themselves are left
out: they change whenever anything they point at does.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qs, unquote

_COMPARED = ("version", "hashes", "licenses", "purl")
_ITEMIZED = ("modelCard", "data")
_HOLDERS = ("environment", "model")  # bom-ref prefixes whose dependencies hold components
_CATALOG = ("model", "dataset", "environment", "stack", "workload")  # stand on their own


@dataclass(frozen=True)
class ComponentRef:
    type: str
    name: str
    version: str | None
    ref: str
    within: str | None = None  # the holder's bom-ref, e.g. "environment:train"

    def as_json(self) -> dict[str, Any]:
        return {"type": self.type, "name": self.name, "version": self.version, "ref": self.ref,
                "within": self.within}


@dataclass(frozen=True)
class FieldChange:
    field: str
    before: Any
    after: Any


@dataclass(frozen=True)
class ComponentChange:
    before: ComponentRef
    after: ComponentRef
    fields: tuple[FieldChange, ...]

    def as_json(self) -> dict[str, Any]:
        return {"type": self.after.type, "name": self.after.name, "within": self.after.within,
                "before": self.before.as_json(), "after": self.after.as_json(),
                "fields": [{"field": f.field, "before": f.before, "after": f.after}
                           for f in self.fields]}


@dataclass(frozen=True)
class BomDiff:
    base: Mapping[str, Any]
    head: Mapping[str, Any]
    added: tuple[ComponentRef, ...]
    removed: tuple[ComponentRef, ...]
    changed: tuple[ComponentChange, ...]
    vulnerabilities_added: tuple[str, ...]
    vulnerabilities_removed: tuple[str, ...]

    @property
    def empty(self) -> bool:
        return not (self.added or self.removed or self.changed or self.vulnerabilities_added
                    or self.vulnerabilities_removed)

    def as_json(self) -> dict[str, Any]:
        return {
            "base": dict(self.base), "head": dict(self.head),
            "added": [c.as_json() for c in self.added],
            "removed": [c.as_json() for c in self.removed],
            "changed": [c.as_json() for c in self.changed],
            "vulnerabilities": {"added": list(self.vulnerabilities_added),
                                "removed": list(self.vulnerabilities_removed)},
        }


def identity(component: Mapping[str, Any]) -> str:
    """What stays the same when a component is updated."""
    ref = str(component.get("bom-ref", ""))
    purl = component.get("purl")
    if ref.split(":", 1)[0] in _CATALOG or not purl:
        return ref or f"{component['type']}:{component['name']}"
    head, _, query = str(purl).partition("?")
    path = head.split("@", 1)[0]
    qualifiers = parse_qs(query)
    if path.startswith("pkg:oci/"):  # the repository names an image; the digest is its version
        return "pkg:oci/" + unquote(qualifiers.get("repository_url", [path])[0])
    if path.startswith("pkg:conda/"):  # the same package for another platform is another one
        return f"{path}?subdir={qualifiers.get('subdir', [''])[0]}"
    return path


def _ref(component: Mapping[str, Any], within: str | None) -> ComponentRef:
    return ComponentRef(component["type"], component["name"], component.get("version"),
                        component.get("bom-ref", ""), within)


def _canonical(value: Any) -> str:
    return json.dumps(value, sort_keys=True)


def _properties(component: Mapping[str, Any], within: str | None) -> dict[str, Any]:
    """Properties by name; a name given several times (owners) is one sorted list. A shared
    package's markers are each environment's own (`<environment>: <marker>`): compared within
    an environment, only that environment's count."""
    holder = (within or "").partition(":")[2]
    grouped: dict[str, list[str]] = {}
    for prop in component.get("properties", []):
        if prop.get("name") == "govops:marker" and not str(prop.get("value", "")).startswith(
                f"{holder}: "):
            continue
        grouped.setdefault(str(prop.get("name")), []).append(str(prop.get("value")))
    return {name: values[0] if len(values) == 1 else sorted(values)
            for name, values in grouped.items()}


def _leaves(path: str, before: Any, after: Any) -> list[FieldChange]:
    """Changes down to the deepest mapping key that differs; lists are compared whole."""
    if _canonical(before) == _canonical(after):
        return []
    if isinstance(before, Mapping) and isinstance(after, Mapping):
        return [change for key in sorted(set(before) | set(after), key=str)
                for change in _leaves(f"{path}.{key}", before.get(key), after.get(key))]
    return [FieldChange(path, before, after)]


def _fields(before: Mapping[str, Any], after: Mapping[str, Any],
            within: str | None) -> tuple[FieldChange, ...]:
    changes = []
    version_changed = before.get("version") != after.get("version")
    for name in _COMPARED:
        if name == "purl" and version_changed:
            continue  # the purl carries the version: already reported
        if _canonical(before.get(name)) != _canonical(after.get(name)):
            changes.append(FieldChange(name, before.get(name), after.get(name)))
    old, new = _properties(before, within), _properties(after, within)
    changes += [FieldChange(f"properties.{name}", old.get(name), new.get(name))
                for name in sorted(set(old) | set(new)) if old.get(name) != new.get(name)]
    for name in _ITEMIZED:
        changes += _leaves(name, before.get(name), after.get(name))
    return tuple(changes)


def _holders(document: Mapping[str, Any]) -> dict[str, list[str]]:
    """bom-ref -> the environments and models whose dependencies name it."""
    held: dict[str, list[str]] = {}
    for dependency in document.get("dependencies", []):
        holder = str(dependency.get("ref", ""))
        if holder.split(":", 1)[0] in _HOLDERS:
            for target in dependency.get("dependsOn", []):
                held.setdefault(str(target), []).append(holder)
    return held


Grouped = dict[tuple[str, str], list[Mapping[str, Any]]]


def _by_identity(document: Mapping[str, Any]) -> Grouped:
    """Components keyed by (identity, holder): one entry per environment or model holding
    a shared package, so each holder's packages are compared on their own."""
    held = _holders(document)
    grouped: Grouped = {}
    for component in document.get("components", []):
        key, ref = identity(component), str(component.get("bom-ref", ""))
        holders = [] if ref.split(":", 1)[0] in _CATALOG else sorted(set(held.get(ref, [])))
        for holder in holders or [""]:
            grouped.setdefault((key, holder), []).append(component)
    return grouped


def _side(document: Mapping[str, Any]) -> dict[str, Any]:
    component = document.get("metadata", {}).get("component", {})
    return {"serialNumber": document.get("serialNumber"), "commit": component.get("version")}


def diff_aiboms(base: Mapping[str, Any], head: Mapping[str, Any]) -> BomDiff:
    before, after = _by_identity(base), _by_identity(head)
    added: list[ComponentRef] = []
    removed: list[ComponentRef] = []
    changed: list[ComponentChange] = []
    for key in sorted(set(before) | set(after)):
        old = {str(c.get("bom-ref", "")): c for c in before.get(key, [])}
        new = {str(c.get("bom-ref", "")): c for c in after.get(key, [])}
        pairs = [(old[r], new[r]) for r in sorted(set(old) & set(new))]
        old_left = [c for r, c in sorted(old.items()) if r not in new]
        new_left = [c for r, c in sorted(new.items()) if r not in old]
        # One version replaced by one other (torch 2.6.0 -> 2.7.0, maybe beside a 2.6.0+cu124
        # that stayed) is a change; anything less clear-cut is listed as removed and added.
        if len(old_left) == 1 and len(new_left) == 1:
            pairs.append((old_left[0], new_left[0]))
            old_left, new_left = [], []
        within = key[1] or None
        removed.extend(_ref(c, within) for c in old_left)
        added.extend(_ref(c, within) for c in new_left)
        for old_c, new_c in pairs:
            if fields := _fields(old_c, new_c, within):
                changed.append(ComponentChange(_ref(old_c, within), _ref(new_c, within),
                                               fields))
    old_vulns = {v["id"] for v in base.get("vulnerabilities", [])}
    new_vulns = {v["id"] for v in head.get("vulnerabilities", [])}
    return BomDiff(_side(base), _side(head), tuple(added), tuple(removed), tuple(changed),
                   tuple(sorted(new_vulns - old_vulns)), tuple(sorted(old_vulns - new_vulns)))
