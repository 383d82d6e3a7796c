"""`govops bom --format spdx3` against what SPDX publishes to check a document (issue 18,
acceptance 5): the SPDX 3.0.1 JSON Schema (shipped inside SPDX's tools-java, fetched from Maven
Central by tools/fetch_samples.py, as spdx.org is not reachable here), applied by jsonschema-rs,
and SPDX's own validator, tools-java's `Verify`, run as its authors ship it. Both accept what
govops writes, for the fixture repo and for one with every lock format and source kind, and
both refuse a document that breaks the model."""

from __future__ import annotations

import functools
import json
import shutil
import subprocess
from pathlib import Path
from typing import Any

import jsonschema_rs

from engine.repo.scripted import Step
from tests.support.cli import govops
from tests.support.realworld import realworld_inputs
from tests.support.repos import fixture, make_repo
from tests.support.samples import environment
from tests.support.thirdparty import sample

REALWORLD_UV = "lockfiles/NVIDIA-NeMo__RL/uv.lock"  # NVIDIA NeMo RL: git sources, forks, indexes


def _tools() -> Path:
    return sample("spdx-tools-java", "2.0.1")


@functools.cache
def _schema() -> Any:
    schema = json.loads((_tools() / "resources" / "spdx-schema-v3.0.1.json").read_text())
    assert schema["$schema"] == "https://json-schema.org/draft/2020-12/schema"
    assert schema["properties"]["@context"] == {
        "const": "https://spdx.org/rdf/3.0.1/spdx-context.jsonld"}
    return jsonschema_rs.validator_for(schema)


def _schema_errors(text: str) -> list[str]:
    return [error.message for error in _schema().iter_errors(json.loads(text))]


def _verify(tmp_path: Path, text: str) -> subprocess.CompletedProcess[str]:
    """SPDX's tools-java `Verify`: the JSON Schema, then a read with the SPDX Java library."""
    java = shutil.which("java")
    assert java, "a Java runtime is needed for SPDX's validator (make test installs one)"
    document = tmp_path / "document.spdx3.json"
    document.write_text(text)
    jar = _tools() / "tools-java-2.0.1-jar-with-dependencies.jar"
    return subprocess.run([java, "-jar", str(jar), "Verify", str(document)],
                          capture_output=True, text=True, timeout=300)


def _spdx3(repo: Path) -> str:
    run = govops("bom", "--repo", str(repo), "--format", "spdx3")
    assert run.exit_code == 0, run.stderr
    return run.stdout


def test_the_fixture_aibom_is_valid_for_the_schema_and_for_spdx_verify(
        acme: Path, tmp_path: Path) -> None:
    text = _spdx3(acme)
    assert _schema_errors(text) == []
    verified = _verify(tmp_path, text)
    assert verified.returncode == 0, verified.stdout + verified.stderr
    assert "This SPDX Document is valid." in verified.stdout


def test_a_document_outside_the_model_is_refused_by_both(acme: Path, tmp_path: Path) -> None:
    document = json.loads(_spdx3(acme))
    model = next(o for o in document["@graph"] if o["type"] == "ai_AIPackage")
    model["ai_safetyRiskAssessment"] = "catastrophic"  # not one of the model's four values
    text = json.dumps(document, indent=2)
    assert _schema_errors(text)
    verified = _verify(tmp_path, text)
    assert verified.returncode == 1
    assert "This SPDX Document is not valid" in verified.stdout
    # A required property missing is caught by the schema alone, as fast as the check runs.
    document = json.loads(_spdx3(acme))
    del next(o for o in document["@graph"] if o["type"] == "dataset_DatasetPackage")[
        "dataset_datasetType"]
    assert any("dataset_datasetType" in e for e in _schema_errors(json.dumps(document)))


def test_every_lock_format_and_source_kind_validates(tmp_path: Path) -> None:
    """uv.lock with git sources, forks and a CUDA index (NeMo RL) and a pixi v7 lock with conda
    and PyPI packages (batconf), both real, and a requirements file with a git direct
    reference: packages of every kind govops writes into SPDX, accepted by both checks."""
    files = fixture("acme-ml")
    serve, train = "environments/vllm-serve.yaml", "environments/train.yaml"
    files[serve] = files[serve].replace(b"environments/vllm-serve.txt", b"environments/uv.lock")
    files[train] = files[train].replace(b"environments/pylock.train.toml",
                                        b"environments/pixi.lock")
    files["environments/uv.lock"] = (realworld_inputs() / REALWORLD_UV).read_bytes()
    files["environments/pixi.lock"] = (
        sample("batconf", "0.4.0") / "batconf-0.4.0" / "pixi.lock").read_bytes()
    files["environments/extra.yaml"] = environment("extra", "environments/extra.txt").encode()
    files["environments/extra.txt"] = (
        f"kit @ git+https://github.com/acme/kit.git@{'a' * 40}\n"
        f"numpy==2.1.0 --hash=sha256:{'2' * 64}\n").encode()
    make_repo(tmp_path / "r", Step("every format", files))
    text = _spdx3(tmp_path / "r")
    graph = json.loads(text)["@graph"]
    purls = {o.get("software_packageUrl", "") for o in graph if o["type"] == "software_Package"}
    assert any(p.startswith("pkg:conda/python@3.14.5?") for p in purls)  # pixi's conda side
    assert any(p.startswith("pkg:pypi/mypy@2.1.0") for p in purls)  # and its PyPI side
    assert any(p.startswith("pkg:pypi/deep-ep@") and "vcs_url=git%2Bhttps" in p
               for p in purls)  # NeMo RL's git source
    assert f"pkg:pypi/kit?vcs_url=git%2Bhttps://github.com/acme/kit.git%40{'a' * 40}" in purls
    assert _schema_errors(text) == []
    verified = _verify(tmp_path, text)
    assert verified.returncode == 0, verified.stdout + verified.stderr
    assert "This SPDX Document is valid." in verified.stdout
