"""Whether a document fits a field table, in one walk: the fast answer for the common case.

`schema.validate` finds the *first* problem in the table's order, expanding every field pattern
from the root (35 patterns an object, 0.1 ms; a cold 10,000-object check validates them all).
Nearly every document is valid, so validation first asks this walk, which shares the traversal
between patterns and builds no path strings; only a document it rejects is walked again by
`validate` for the exact message. The two must agree on every document: the plan is compiled
from the same table, with the same rules (tests/catalog/test_schema_plan.py compares them).
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

Fields = Mapping[str, tuple[str, bool]]
TypeCheck = Callable[[str, Any], "str | None"]


@dataclass
class _Step:
    """One step of the field patterns: `key`, or `key[]` (its list's items go on)."""

    key: str
    is_list: bool
    check: tuple[str, bool] | None = None  # (kind, required) when the path is a field
    steps: list[_Step] = field(default_factory=list)


@dataclass(frozen=True)
class Plan:
    root: tuple[_Step, ...]
    children: Mapping[str, Mapping[str, str]]  # pattern -> key -> known child pattern
    free: frozenset[str]


def plan_for(fields: Fields) -> Plan:
    return _compiled(tuple(fields.items()))


@functools.cache
def _compiled(items: tuple[tuple[str, tuple[str, bool]], ...]) -> Plan:
    root = _Step("", False)
    for pattern, check in items:
        node = root
        parts = pattern.split(".")
        for i, part in enumerate(parts):
            key, is_list = (part[:-2], True) if part.endswith("[]") else (part, False)
            found = next((s for s in node.steps if s.key == key and s.is_list == is_list), None)
            if found is None:
                found = _Step(key, is_list)
                node.steps.append(found)
            if i == len(parts) - 1:
                found.check = check
            node = found
    children: dict[str, dict[str, str]] = {}
    for pattern, _ in items:
        parent, _, key = pattern.rpartition(".")
        children.setdefault(parent, {})[key] = pattern
    free = frozenset(p for p, (kind, _) in items if kind in ("free", "strmap"))
    return Plan(tuple(root.steps), children, free)


def fits(doc: Any, plan: Plan, type_ok: TypeCheck) -> bool:
    """True when `validate` would find no problem in `doc`."""
    return _fields_ok([doc], plan.root, type_ok) and _known(doc, "", plan)


def _fields_ok(values: list[Any], steps: tuple[_Step, ...] | list[_Step],
               type_ok: TypeCheck) -> bool:
    for step in steps:
        present = []
        for value in values:
            if isinstance(value, dict) and step.key in value:
                present.append(value[step.key])
            elif step.check is not None and step.check[1]:
                return False  # a required field is missing
        if step.check is not None:
            kind = step.check[0]
            if any(type_ok(kind, item) is not None for item in present):
                return False
        if step.steps and present:
            if step.is_list:
                deeper = [i for item in present if isinstance(item, list) for i in item]
            else:
                deeper = present
            if deeper and not _fields_ok(deeper, step.steps, type_ok):
                return False
    return True


def _known(value: Any, pattern: str, plan: Plan) -> bool:
    """No field outside the table (below a free-form field anything goes)."""
    if pattern in plan.free:
        return True
    if isinstance(value, dict):
        known = plan.children.get(pattern, {})
        for key, child in value.items():
            child_pattern = known.get(key)
            if child_pattern is None or not _known(child, child_pattern, plan):
                return False
    elif isinstance(value, list):
        item_pattern = f"{pattern}[]"
        return all(_known(item, item_pattern, plan) for item in value if isinstance(item, dict))
    return True
