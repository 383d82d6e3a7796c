"""The AIBOM of a revision: CycloneDX 1.6 valid by the library's own strict validator, complete
(models with cards, datasets with data, packages once per purl, images, the dependency graph),
deterministic, and never written when it is invalid."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from cyclonedx.model import HashAlgorithm, HashType
from cyclonedx.model.bom import Bom
from cyclonedx.model.component import Component, ComponentType
from cyclonedx.output.json import JsonV1Dot6
from cyclonedx.schema import SchemaVersion
from cyclonedx.validation.json import JsonStrictValidator
from packageurl import PackageURL

from engine.bom import cards
from engine.bom.packages import PackageEntry
from engine.bom.refs import package_purl
from engine.bom.validate import AibomInvalid, reference_errors, schema_errors, validate_aibom
from engine.catalog.lockfiles import parse_lockfile
from engine.repo.scripted import Step
from tests.support.cli import govops
from tests.support.repos import fixture, make_repo

STRICT = JsonStrictValidator(SchemaVersion.V1_6)


def aibom(repo: Path, *args: str) -> dict[str, Any]:
    run = govops("bom", "--repo", str(repo), *args)
    assert run.exit_code == 0, run.stderr
    assert STRICT.validate_str(run.stdout) is None
    document: dict[str, Any] = json.loads(run.stdout)
    return document


def by_ref(document: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {c["bom-ref"]: c for c in document["components"]}


def depends(document: dict[str, Any]) -> dict[str, list[str]]:
    return {d["ref"]: d.get("dependsOn", []) for d in document["dependencies"]}


def test_acme_aibom_passes_the_strict_validator_and_describes_every_object(acme: Path) -> None:
    document = aibom(acme)
    components = by_ref(document)
    assert document["specVersion"] == "1.6"
    files = fixture("acme-ml")
    model_files = [p for p in files if p.startswith("models/")]
    models = [c for c in components.values() if c["type"] == "machine-learning-model"]
    assert len(models) == len(model_files) == 5
    for model in models:
        assert model["hashes"][0]["alg"] == "SHA-256"
        assert model["licenses"]
        assert "modelCard" in model
    llama = components["model:llama-3-8b-instruct"]
    assert llama["purl"] == ("pkg:huggingface/meta-llama/Meta-Llama-3-8B-Instruct"
                             "@5f0b02c75b57c5855da9ae460ce51323ea669d8a")
    assert llama["licenses"] == [{"license": {"name": "llama3"}}]
    assert llama["modelCard"]["modelParameters"]["architectureFamily"] == "llama"
    assert llama["modelCard"]["quantitativeAnalysis"]["performanceMetrics"] == [
        {"type": "mmlu", "value": "0.684", "slice": "mmlu"}]
    assistant = components["model:acme-support-assistant"]
    card_datasets = assistant["modelCard"]["modelParameters"]["datasets"]
    assert card_datasets and all(set(d) == {"ref"} for d in card_datasets)
    for entry in card_datasets:
        assert components[entry["ref"]]["type"] == "data"
    datasets = [c for c in components.values() if c["type"] == "data"]
    assert len(datasets) == len([p for p in files if p.startswith("datasets/")]) == 4
    pii = components["dataset:support-tickets-2026q3"]["data"][0]
    assert pii["type"] == "dataset" and pii["classification"] == "confidential"
    assert pii["sensitiveData"]
    images = [c for c in components.values() if c["type"] == "container"]
    assert {c["purl"].split("@")[0] for c in images} == {"pkg:oci/vllm", "pkg:oci/train"}
    assert all("repository_url=ghcr.io/acme/" in c["purl"] for c in images)
    assert components["pkg:generic/nvidia/cuda@12.4"]["type"] == "device-driver"


def test_every_locked_package_appears_once_per_purl_with_its_hashes(acme: Path) -> None:
    document = aibom(acme)
    libraries = [c for c in document["components"] if c["type"] == "library"]
    purls = [c["purl"] for c in libraries]
    assert len(purls) == len(set(purls))
    files = fixture("acme-ml")
    locks = [parse_lockfile(p, files[p].decode()) for p in
             ("environments/vllm-serve.txt", "environments/pylock.train.toml")]
    expected: dict[str, set[str]] = {}
    for lock in locks:
        for p in lock.packages:
            expected.setdefault(package_purl("pypi", p.name, p.version, source=p.source),
                                set()).update(
                h.split(":", 1)[1] for h in p.hashes)
    assert set(purls) == set(expected)
    for component in libraries:
        assert {h["content"] for h in component["hashes"]} == expected[component["purl"]]
    # Packages both environments lock at one version are one component (hashes united above).
    shared = [purl for purl in expected if sum(
        any(package_purl("pypi", p.name, p.version, source=p.source) == purl
            for p in lock.packages)
        for lock in locks) == 2]
    assert shared
    torch = sorted(c["purl"] for c in libraries if c["name"] == "torch")
    # The CUDA build comes from PyTorch's own index, and its purl says so (issue 18).
    assert torch == ["pkg:pypi/torch@2.6.0", "pkg:pypi/torch@2.6.0%2Bcu124?repository_url="
                     "https://download.pytorch.org/whl/cu124"]


def test_dependency_graph_runs_stack_workload_model_dataset_and_environment_packages(
        acme: Path) -> None:
    document = aibom(acme)
    graph = depends(document)
    components = by_ref(document)
    assert set(graph["stack:prod-inference"]) == {
        "workload:prod-inference/chat", "workload:prod-inference/chat-fallback",
        "workload:prod-inference/embeddings"}
    assert set(graph["workload:prod-inference/chat"]) == {
        "model:llama-3-8b-instruct", "environment:vllm-serve"}
    assert set(graph["model:acme-support-assistant"]) == {
        e["ref"] for e in components["model:acme-support-assistant"]["modelCard"][
            "modelParameters"]["datasets"]}
    env = graph["environment:vllm-serve"]
    assert any(r.startswith("pkg:oci/vllm@sha256:") for r in env)
    assert "pkg:generic/nvidia/cuda@12.4" in env
    assert "pkg:pypi/vllm@0.8.5" in env
    assert "stack:prod-inference" in graph["repository"]
    # Every component is reachable from the repository.
    seen, todo = set(), ["repository"]
    while todo:
        ref = todo.pop()
        if ref not in seen:
            seen.add(ref)
            todo.extend(graph.get(ref, []))
    assert set(components) <= seen


def test_metadata_names_the_commit_tool_and_lifecycle(acme: Path) -> None:
    document = aibom(acme)
    metadata = document["metadata"]
    assert len(metadata["component"]["version"]) == 40
    assert metadata["timestamp"] == "2026-11-02T10:00:00+00:00"  # the commit's time
    assert metadata["tools"]["components"][0]["name"] == "govops"
    assert metadata["lifecycles"] == [{"phase": "pre-build"}]


def test_same_commit_same_bytes_and_another_commit_another_serial(tmp_path: Path) -> None:
    files = fixture("acme-ml")
    make_repo(tmp_path / "r", Step("one", files),
              Step("two", delete=["datasets/mmlu.yaml"]))
    first = govops("bom", "--repo", str(tmp_path / "r"))
    again = govops("bom", "--repo", str(tmp_path / "r"), "--rev", "HEAD")
    older = govops("bom", "--repo", str(tmp_path / "r"), "--rev", "HEAD~1")
    assert first.exit_code == again.exit_code == older.exit_code == 0
    assert first.stdout == again.stdout
    assert json.loads(first.stdout)["serialNumber"] != json.loads(older.stdout)["serialNumber"]


def test_output_file_is_identical_to_stdout(acme: Path, tmp_path: Path) -> None:
    out = tmp_path / "aibom.cdx.json"
    written = govops("bom", "--repo", str(acme), "--output", str(out))
    printed = govops("bom", "--repo", str(acme))
    assert written.exit_code == 0 and written.stdout == ""
    assert out.read_text() == printed.stdout


def test_violating_fixture_still_gives_a_valid_aibom(tmp_path: Path) -> None:
    """Policies fail it, but the AIBOM must describe it: bad digests become properties,
    dangling dataset names stay inline, tag-only images keep their tag."""
    make_repo(tmp_path / "v", Step("bad", fixture("violations")))
    document = aibom(tmp_path / "v")
    props = [p for c in document["components"] for p in c.get("properties", [])]
    assert any(p["name"] == "govops:declared-digest" for p in props)
    cards_ = [c["modelCard"] for c in document["components"] if "modelCard" in c]
    inline = [d for card in cards_ for d in card.get("modelParameters", {}).get("datasets", [])
              if "ref" not in d]
    assert inline and all(d["type"] == "dataset" for d in inline)
    assert any("&tag=" in c["purl"] or "?tag=" in c["purl"] for c in document["components"]
               if c["type"] == "container" and "@" not in c["purl"])


def test_unknown_revision_and_missing_repo_are_input_errors(acme: Path, tmp_path: Path) -> None:
    run = govops("bom", "--repo", str(acme), "--rev", "no-such-branch")
    assert run.exit_code == 2 and "no-such-branch" in run.stderr
    run = govops("bom", "--repo", str(tmp_path / "nowhere"))
    assert run.exit_code == 2


def test_an_invalid_aibom_is_never_written(acme: Path, tmp_path: Path,
                                           monkeypatch: pytest.MonkeyPatch) -> None:
    """Fault injection: a model card the schema refuses. Exit 2, one line, no file."""
    real = cards.model_card

    def broken(obj: Any, datasets: Any) -> dict[str, Any]:
        return {**real(obj, datasets), "inventedField": True}

    monkeypatch.setattr(cards, "model_card", broken)
    out = tmp_path / "aibom.json"
    run = govops("bom", "--repo", str(acme), "--output", str(out))
    assert run.exit_code == 2
    assert "not valid CycloneDX 1.6" in run.stderr and "inventedField" in run.stderr
    assert len(run.stderr.strip().splitlines()) == 1
    assert not out.exists()
    assert list(tmp_path.iterdir()) == [acme]


# -- the validator agrees with the library's JsonStrictValidator ------------------------------

def _minimal() -> dict[str, Any]:
    return {
        "$schema": "http://cyclonedx.org/schema/bom-1.6.schema.json",
        "bomFormat": "CycloneDX", "specVersion": "1.6",
        "serialNumber": "urn:uuid:3e671687-395b-41f5-a30f-a58921a69b79", "version": 1,
        "components": [{"bom-ref": "pkg:pypi/torch@2.6.0", "type": "library", "name": "torch",
                        "version": "2.6.0", "purl": "pkg:pypi/torch@2.6.0",
                        "hashes": [{"alg": "SHA-256", "content": "ab" * 32}]}],
        "dependencies": [{"ref": "pkg:pypi/torch@2.6.0"}],
    }


def _mutations() -> list[tuple[str, dict[str, Any]]]:
    out = []
    doc = _minimal()
    doc["components"][0]["hashes"][0]["content"] = "xyz"
    out.append(("bad hash", doc))
    doc = _minimal()
    doc["components"][0]["type"] = "gadget"
    out.append(("unknown type", doc))
    doc = _minimal()
    doc["components"][0]["inventedField"] = 1
    out.append(("unknown field", doc))
    doc = _minimal()
    doc["components"].append(dict(doc["components"][0]))
    out.append(("duplicate component", doc))
    doc = _minimal()
    doc["components"][0]["modelCard"] = {"modelParameters": {"task": 3}}
    out.append(("model card of the wrong shape", doc))
    doc = _minimal()
    doc["serialNumber"] = "not-a-uuid"
    out.append(("serial number", doc))
    return out


def test_valid_document_passes_both_validators() -> None:
    document = _minimal()
    assert STRICT.validate_str(json.dumps(document)) is None
    assert schema_errors(document) == []
    validate_aibom(document)


@pytest.mark.parametrize(("label", "document"), _mutations(), ids=[m[0] for m in _mutations()])
def test_schema_violations_are_refused_by_both_validators(label: str,
                                                          document: dict[str, Any]) -> None:
    assert STRICT.validate_str(json.dumps(document)) is not None, label
    assert schema_errors(document), label
    with pytest.raises(AibomInvalid):
        validate_aibom(document)


def test_references_the_schema_cannot_check_are_refused() -> None:
    dangling = _minimal()
    dangling["dependencies"].append({"ref": "pkg:pypi/torch@2.6.0", "dependsOn": ["model:x"]})
    assert any("model:x" in e for e in reference_errors(dangling))
    twice = _minimal()
    twice["components"].append({**twice["components"][0], "version": "2.6.1"})
    assert any("used twice" in e for e in reference_errors(twice))
    with pytest.raises(AibomInvalid, match="not a bom-ref"):
        validate_aibom(dangling)


def test_package_components_are_exactly_what_the_library_writes() -> None:
    """packages.py bypasses the library for speed; it must produce the library's bytes."""
    purl = "pkg:conda/python@3.11.9?build=hb_0&channel=conda-forge&subdir=linux-64&type=conda"
    url = "https://conda.anaconda.org/conda-forge/linux-64/python-3.11.9-hb_0.conda"
    entry = PackageEntry(purl, "python", "3.11.9", "conda", url)
    entry.add_hashes(["sha256:" + "b" * 64, "md5:" + "a" * 32, "sha256:" + "a" * 64])
    from cyclonedx.model import ExternalReference, ExternalReferenceType, XsUri

    component = Component(
        type=ComponentType.LIBRARY, name="python", version="3.11.9",
        purl=PackageURL.from_string(purl), bom_ref=purl,
        hashes=[HashType(alg=HashAlgorithm.SHA_256, content="b" * 64),
                HashType(alg=HashAlgorithm.MD5, content="a" * 32),
                HashType(alg=HashAlgorithm.SHA_256, content="a" * 64)],
        external_references=[ExternalReference(type=ExternalReferenceType.DISTRIBUTION,
                                               url=XsUri(url))])
    library = json.loads(JsonV1Dot6(Bom(components=[component])).output_as_string())
    assert entry.component() == library["components"][0]
    bare = PackageEntry("pkg:pypi/left-pad", "left-pad", None, "pypi")
    library = json.loads(JsonV1Dot6(Bom(components=[Component(
        type=ComponentType.LIBRARY, name="left-pad", purl=PackageURL.from_string(
            "pkg:pypi/left-pad"), bom_ref="pkg:pypi/left-pad")])).output_as_string())
    assert bare.component() == library["components"][0]


def test_bad_input_names_file_and_line_and_writes_nothing(tmp_path: Path) -> None:
    files = {**fixture("acme-ml"), "models/bge-large-en-v1.5.yaml": (
        b"apiVersion: govops.dev/v1\nkind: Model\nmetadata: {name: bge}\nspec:\n"
        b"  source: [unclosed\n")}
    make_repo(tmp_path / "r", Step("broken", files))
    out = tmp_path / "aibom.json"
    run = govops("bom", "--repo", str(tmp_path / "r"), "--output", str(out))
    assert run.exit_code == 2
    assert "models/bge-large-en-v1.5.yaml:5" in run.stderr  # the unclosed `[`, not EOF
    assert not out.exists()


def test_a_fine_tune_records_its_base_model_as_its_pedigree(tmp_path: Path) -> None:
    """`spec.baseModel` (issue 17): the lineage of a fine-tune, in CycloneDX's own terms."""
    files = fixture("acme-ml")
    path = "models/acme-support-assistant.yaml"
    text = files[path].decode()
    assert "baseModel" not in text
    files[path] = text.replace("spec:\n", "spec:\n  baseModel: mistral-7b-instruct-v0.3\n",
                               1).encode()
    make_repo(tmp_path / "r", Step("lineage", files))
    components = by_ref(aibom(tmp_path / "r"))
    tuned = components["model:acme-support-assistant"]
    assert tuned["pedigree"]["ancestors"] == [{
        "type": "machine-learning-model", "name": "mistral-7b-instruct-v0.3",
        "bom-ref": "model:acme-support-assistant#base-model"}]
    assert {"name": "govops:base-model", "value": "mistral-7b-instruct-v0.3"} in tuned[
        "properties"]
    assert "pedigree" not in components["model:mistral-7b-instruct-v0.3"]
    run = govops("check", "--repo", str(tmp_path / "r"), "--format", "json")
    fields = [r.get("field") for r in json.loads(run.stdout)["results"]]
    assert fields and "spec.baseModel" not in fields  # an existing base: MDL-003 is content
