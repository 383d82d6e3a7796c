"""The JSON Schemas (issue 17) and the loader agree: every fixture is valid under both, every
bad-input case of the structural suite is refused by both, and on thousands of mutated
documents (fields removed, retyped, wrapped in lists, unknown fields added) they give the same
answer. The schemas shipped in the package are exactly what the generator makes today."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import jsonschema
import pytest

from engine.catalog import json_schema
from engine.catalog.load import _check_header
from engine.catalog.schema import CONFIG_FIELDS, fields_for, validate
from engine.catalog.yamldoc import parse_yaml
from engine.errors import InputError
from engine.shipped import schemas_dir
from tests.catalog.test_schema_plan import _documents, _mutations
from tests.support.samples import ENVIRONMENT, MODEL


def _validator(kind: str) -> jsonschema.protocols.Validator:
    schema = json.loads((schemas_dir() / json_schema.file_name(kind)).read_text())
    jsonschema.Draft202012Validator.check_schema(schema)
    return jsonschema.Draft202012Validator(schema)


VALIDATORS = {kind: _validator(kind) for kind in json_schema.KINDS}


def _loader_accepts(doc: Any) -> bool:
    try:
        _check_header("x.yaml", doc, {})
        kind = doc["kind"]
        validate("x.yaml", doc, {}, CONFIG_FIELDS if kind == "Config" else fields_for(kind))
    except InputError:
        return False
    return True


def _schema_accepts(doc: Any) -> bool:
    kind = doc.get("kind") if isinstance(doc, dict) else None
    validator = VALIDATORS.get(kind) if isinstance(kind, str) else None
    return validator is not None and validator.is_valid(doc)


@pytest.mark.parametrize("kind", json_schema.KINDS)
def test_the_shipped_schemas_are_what_the_generator_makes(kind: str) -> None:
    shipped = schemas_dir() / json_schema.file_name(kind)
    assert shipped.read_text() == json_schema.rendered(kind), (
        f"{shipped} is stale: run python tools/gen_schemas.py")


def test_every_fixture_is_valid_under_its_schema() -> None:
    docs = _documents()
    assert len(docs) >= 20
    for path, doc in docs:
        if _loader_accepts(doc):
            errors = [e.message for e in VALIDATORS[doc["kind"]].iter_errors(doc)]
            assert errors == [], (path, errors)


BAD = {
    "unknown apiVersion": MODEL.replace("govops.dev/v1", "govops.dev/v9"),
    "missing required field": MODEL.replace("  source: hf://acme/tiny\n", ""),
    "wrong type": ENVIRONMENT.replace('python: "3.11"', "python: 3.11"),
    "misspelt field": MODEL.replace("license:", "licence:"),
    "misspelt required field": MODEL.replace("metadata:", "metdata:"),
    "bad name": MODEL.replace("name: tiny", "name: Tiny_Model"),
    "bad enum": MODEL + "  risk: extreme\n",
    "list for a string": MODEL.replace("format: safetensors", "format: [safetensors]"),
}


@pytest.mark.parametrize("case", sorted(BAD))
def test_each_structural_bad_input_is_refused_by_both(case: str) -> None:
    doc = parse_yaml("x.yaml", BAD[case].encode()).value
    assert not _loader_accepts(doc)
    assert not _schema_accepts(doc)


def test_schema_and_loader_agree_on_every_mutation() -> None:
    compared = refused = 0
    for path, doc in _documents():
        if not isinstance(doc.get("kind"), str) or doc["kind"] not in json_schema.KINDS:
            continue
        for changed in _mutations(doc):
            loader = _loader_accepts(changed)
            assert _schema_accepts(changed) == loader, (path, changed)
            compared += 1
            refused += not loader
    assert compared > 2000, compared
    assert 0 < refused < compared, (refused, compared)


def test_the_reference_page_is_generated_from_the_schemas() -> None:
    reference = Path(__file__).resolve().parents[2] / "docs" / "reference.md"
    assert reference.read_text() == json_schema.reference(), (
        "docs/reference.md is stale: run python tools/gen_schemas.py")
