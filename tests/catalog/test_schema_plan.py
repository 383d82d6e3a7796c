"""The one-walk validity check (schema_plan.fits) agrees with the field-by-field validation
(schema.validate) on every document: the shipped fixtures and thousands of mutations of them
(fields removed, retyped, wrapped in lists, unknown fields added). If it did not, a document
could pass that validate refuses, or the other way round."""

from __future__ import annotations

import copy
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from engine.catalog import schema
from engine.catalog.schema import CONFIG_FIELDS, fields_for, validate
from engine.catalog.schema_plan import fits, plan_for
from engine.catalog.yamldoc import parse_yaml
from engine.errors import InputError

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures"
REPLACEMENTS: list[Any] = [None, 5, 2.5, True, "x", "not a name!", [], ["a"], [{}], {},
                           {"unknown": 1}, [[1]], "2026-13-45", "64Gi"]


def _documents() -> list[tuple[str, dict[str, Any]]]:
    docs = []
    for path in sorted(FIXTURES.rglob("*.yaml")):
        data = path.read_bytes()
        if b"govops.dev/" not in data:
            continue
        try:
            value = parse_yaml(str(path), data).value
        except InputError:
            continue
        if isinstance(value, dict) and isinstance(value.get("kind"), str):
            docs.append((str(path), value))
    return docs


def _fields(doc: dict[str, Any]) -> dict[str, tuple[str, bool]] | None:
    if doc.get("kind") == "Config":
        return CONFIG_FIELDS
    try:
        return fields_for(doc["kind"])
    except KeyError:
        return None


def _paths(value: Any, where: tuple[Any, ...] = ()) -> Iterator[tuple[Any, ...]]:
    if isinstance(value, dict):
        for key, child in value.items():
            yield (*where, key)
            yield from _paths(child, (*where, key))
    elif isinstance(value, list):
        for i, child in enumerate(value):
            yield (*where, i)
            yield from _paths(child, (*where, i))


def _mutations(doc: dict[str, Any]) -> Iterator[dict[str, Any]]:
    for path in _paths(doc):
        for replacement in [*REPLACEMENTS, "<delete>", "<wrap>", "<sibling>"]:
            changed = copy.deepcopy(doc)
            parent = changed
            for step in path[:-1]:
                parent = parent[step]
            last = path[-1]
            if replacement == "<delete>":
                del parent[last]
            elif replacement == "<wrap>":
                parent[last] = [parent[last]]
            elif replacement == "<sibling>":
                if not isinstance(parent, dict):
                    continue
                parent["zzUnknown"] = 1
            else:
                parent[last] = copy.deepcopy(replacement)
            yield changed


def _validate_accepts(doc: Any, fields: dict[str, tuple[str, bool]]) -> bool:
    try:
        validate("x.yaml", doc, {}, fields)
    except InputError:
        return False
    return True


def _slow_accepts(doc: Any, fields: dict[str, tuple[str, bool]],
                  monkeypatch: pytest.MonkeyPatch) -> bool:
    with monkeypatch.context() as patched:
        patched.setattr(schema, "fits", lambda *_: False)  # force the field-by-field walk
        return _validate_accepts(doc, fields)


def test_fixtures_are_many_and_valid() -> None:
    docs = _documents()
    assert len(docs) >= 20
    kinds = {doc["kind"] for _, doc in docs}
    assert {"Model", "Dataset", "Environment", "Stack", "Waiver"} <= kinds
    for path, doc in docs:
        fields = _fields(doc)
        if fields is not None and _validate_accepts(doc, fields):
            assert fits(doc, plan_for(fields), schema._type_ok), path


def test_fits_agrees_with_validate_on_every_mutation(monkeypatch: pytest.MonkeyPatch) -> None:
    compared = refused = 0
    for path, doc in _documents():
        fields = _fields(doc)
        if fields is None:
            continue
        for changed in _mutations(doc):
            fast = fits(changed, plan_for(fields), schema._type_ok)
            slow = _slow_accepts(changed, fields, monkeypatch)
            assert fast == slow, (path, changed)
            compared += 1
            refused += not slow
    assert compared > 2000, compared
    assert 0 < refused < compared, (refused, compared)  # both answers were exercised
