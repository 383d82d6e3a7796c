"""Validation of an AIBOM before anything is written: the CycloneDX 1.6 JSON schema, then the
references the schema cannot check.

The schema is the one cyclonedx-python-lib ships and its `JsonStrictValidator(V1_6)` uses (the
same files, the same Draft 7 rules, formats checked), compiled with jsonschema-rs: the library's
validator needs 223 s for 15,000 components (its `uniqueItems` check is quadratic), this one
20 ms. tests/bom/test_bom.py holds both to the same verdicts.
"""

from __future__ import annotations

import functools
import json
from collections.abc import Iterator, Mapping
from typing import Any

import jsonschema_rs
from cyclonedx.schema import SchemaVersion
from cyclonedx.schema._res import BOM_JSON, CRYPTOGRAPHY_DEFS, JSF, SPDX_JSON

from engine.errors import GovopsError

_PREFIX = "http://cyclonedx.org/schema/"


class AibomInvalid(GovopsError):
    """The AIBOM govops built breaks the CycloneDX schema or its own references: a govops bug
    or an input the builder did not anticipate; nothing is written."""


def _load(path: str) -> Any:
    with open(path, encoding="utf-8") as handle:
        return json.load(handle)


@functools.cache
def _validator() -> Any:
    registry = jsonschema_rs.Registry([
        (_PREFIX + "spdx.SNAPSHOT.schema.json", _load(SPDX_JSON)),
        (_PREFIX + "jsf-0.82.SNAPSHOT.schema.json", _load(JSF)),
        (_PREFIX + "cryptography-defs.SNAPSHOT.schema.json", _load(CRYPTOGRAPHY_DEFS)),
    ])
    schema_file = BOM_JSON[SchemaVersion.V1_6]
    assert schema_file is not None
    return jsonschema_rs.Draft7Validator(_load(schema_file), registry=registry,
                                         validate_formats=True)


def schema_errors(document: Mapping[str, Any]) -> list[str]:
    """Every schema violation as `<json path>: <message>`."""
    return [f"{'/'.join(str(p) for p in error.instance_path) or '/'}: {error.message}"
            for error in _validator().iter_errors(document)]


def _refs(document: Mapping[str, Any]) -> Iterator[tuple[str, str]]:
    """(where, ref) of every reference to a bom-ref."""
    for dependency in document.get("dependencies", []):
        yield "dependencies", dependency["ref"]
        for target in dependency.get("dependsOn", []):
            yield f"dependencies[{dependency['ref']}]", target
    for vulnerability in document.get("vulnerabilities", []):
        for affected in vulnerability.get("affects", []):
            yield f"vulnerabilities[{vulnerability.get('id')}]", affected["ref"]
    for component in document.get("components", []):
        card = component.get("modelCard") or {}
        for dataset in card.get("modelParameters", {}).get("datasets", []):
            if "ref" in dataset:
                yield f"components[{component['bom-ref']}].modelCard", dataset["ref"]


def reference_errors(document: Mapping[str, Any]) -> list[str]:
    """bom-refs must be unique and every reference must name one (linear in the document)."""
    errors: list[str] = []
    known: set[str] = set()
    metadata = document.get("metadata", {})
    holders = [metadata.get("component") or {}, *document.get("components", [])]
    for holder in holders:
        for ref in (holder.get("bom-ref"), (holder.get("modelCard") or {}).get("bom-ref")):
            if ref is None:
                continue
            if ref in known:
                errors.append(f"bom-ref {ref!r} is used twice")
            known.add(ref)
    errors.extend(f"{where}: {ref!r} is not a bom-ref in this AIBOM"
                  for where, ref in _refs(document) if ref not in known)
    return errors


def validate_aibom(document: Mapping[str, Any]) -> None:
    errors = schema_errors(document) or reference_errors(document)
    if errors:
        more = f" (and {len(errors) - 1} more)" if len(errors) > 1 else ""
        raise AibomInvalid(f"the AIBOM is not valid CycloneDX 1.6: {errors[0]}{more}")
