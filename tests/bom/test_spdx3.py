"""`govops bom --format spdx3` (issue 18, acceptance 5): the AIBOM as SPDX 3.0.1 JSON-LD with
the AI and Dataset profiles, built and checked with the SPDX project's own 3.0.1 bindings, and
agreeing with the CycloneDX AIBOM of the same commit about every model, dataset and package."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from engine.bom.spdx3 import validate_spdx3
from tests.support.cli import govops
from tests.support.repos import fixture

CONTEXT = "https://spdx.org/rdf/3.0.1/spdx-context.jsonld"


def _spdx(repo: Path) -> tuple[str, list[dict[str, Any]]]:
    run = govops("bom", "--repo", str(repo), "--format", "spdx3")
    assert run.exit_code == 0, run.stderr
    document = json.loads(run.stdout)
    assert document["@context"] == CONTEXT
    return run.stdout, document["@graph"]


def _of(graph: list[dict[str, Any]], kind: str) -> dict[str, dict[str, Any]]:
    return {o["name"]: o for o in graph if o["type"] == kind}


def test_models_datasets_and_packages_agree_with_the_cyclonedx_aibom(acme: Path) -> None:
    text, graph = _spdx(acme)
    cyclonedx = json.loads(govops("bom", "--repo", str(acme)).stdout)
    files = fixture("acme-ml")
    models = _of(graph, "ai_AIPackage")
    datasets = _of(graph, "dataset_DatasetPackage")
    assert set(models) == {c["name"] for c in cyclonedx["components"]
                           if c["type"] == "machine-learning-model"}
    assert set(datasets) == {c["name"] for c in cyclonedx["components"] if c["type"] == "data"}
    assert {o["software_packageUrl"] for o in graph if o["type"] == "software_Package"
            and o.get("software_primaryPurpose") == "library"} == {
        c["purl"] for c in cyclonedx["components"] if c["type"] == "library"}
    llama = models["llama-3-8b-instruct"]
    assert llama["verifiedUsing"] == [{"type": "Hash", "algorithm": "sha256", "hashValue":
                                       "087bb8360bb45c8dabd3580c98b33f85655c1a72197c31506ab49843bc605009"}]
    assert llama["ai_informationAboutApplication"] == "text-generation"
    assert {"type": "DictionaryEntry", "key": "mmlu", "value": "0.684"} in llama["ai_metric"]
    # Relationships: what each model was trained and tested on, licences declared.
    by_id = {o["spdxId"]: o for o in graph if "spdxId" in o}
    trained = {(by_id[r["from"]]["name"], by_id[t]["name"]) for r in graph
               if r["type"] == "Relationship" and r["relationshipType"] == "trainedOn"
               for t in r["to"]}
    expected = {(name, d) for path, body in files.items() if path.startswith("models/")
                for name, d in _datasets_of(body.decode())}
    assert trained == expected
    licences = {(by_id[r["from"]]["name"], by_id[r["to"][0]]["simplelicensing_licenseExpression"])
                for r in graph if r["type"] == "Relationship"
                and r["relationshipType"] == "hasDeclaredLicense"}
    assert ("llama-3-8b-instruct", "llama3") in licences
    [document] = [o for o in graph if o["type"] == "SpdxDocument"]
    assert {"ai", "dataset", "software", "core"} <= set(document["profileConformance"])
    # Same commit, same bytes.
    assert _spdx(acme)[0] == text


def _datasets_of(model_yaml: str) -> list[tuple[str, str]]:
    import yaml

    doc = yaml.safe_load(model_yaml)
    return [(doc["metadata"]["name"], d) for d in doc["spec"].get("datasets") or []]


def test_a_document_that_does_not_fit_the_model_is_refused(acme: Path) -> None:
    text, _ = _spdx(acme)
    validate_spdx3(text)
    document = json.loads(text)
    model = next(o for o in document["@graph"] if o["type"] == "ai_AIPackage")
    model["ai_safetyRiskAssessment"] = "catastrophic"  # not one of the model's four values
    with pytest.raises(ValueError):
        validate_spdx3(json.dumps(document, indent=2))
    document = json.loads(text)
    document["@graph"] = [o for o in document["@graph"] if o["type"] != "dataset_DatasetPackage"]
    with pytest.raises(ValueError, match="references to elements not in the document"):
        validate_spdx3(json.dumps(document, indent=2))
