"""The CycloneDX ML-BOM fields a consumer expects and govops has the data for (issue 18): the
publisher and supplier read from the source, SPDX licence ids with their URL, intended use and
limitations in the model card, and the chat template and tokenizer config a Model declares as
components of their own, so a changed template is a change the AIBOM diff shows."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from engine.repo.scripted import Step
from tests.support.cli import check, govops
from tests.support.repos import fixture, make_repo

MODEL = "models/mistral-7b-instruct-v0.3.yaml"
TEMPLATE = "sha256:" + "a" * 64
EXTRA = f"""  intendedUse:
    - fallback chat assistant for internal support staff
  limitations:
    - English only; answers about products released after 2024 are unreliable
  files:
    - path: chat_template.jinja
      kind: chat-template
      digest: {TEMPLATE}
    - path: tokenizer_config.json
      kind: tokenizer-config
      digest: sha256:{"b" * 64}
"""


def _aibom(repo: Path, rev: str = "HEAD") -> dict[str, Any]:
    run = govops("bom", "--repo", str(repo), "--rev", rev)
    assert run.exit_code == 0, run.stderr
    document: dict[str, Any] = json.loads(run.stdout)
    return document


def _repo(tmp_path: Path, extra: str = EXTRA) -> Path:
    files = fixture("acme-ml")
    files[MODEL] += extra.encode()
    changed = dict(files)
    changed[MODEL] = files[MODEL].replace(TEMPLATE.encode(), b"sha256:" + b"c" * 64)
    make_repo(tmp_path / "repo", Step("declared", files), Step("new template", changed))
    return tmp_path / "repo"


def test_publisher_licence_use_limitations_and_files(tmp_path: Path) -> None:
    document = _aibom(_repo(tmp_path), "HEAD~1")
    components = {c["bom-ref"]: c for c in document["components"]}
    model = components["model:mistral-7b-instruct-v0.3"]
    assert model["publisher"] == "mistralai"
    assert model["supplier"] == {"name": "mistralai", "url": ["https://huggingface.co/mistralai"]}
    assert model["licenses"] == [{"license": {"id": "Apache-2.0",
                                              "url": "https://spdx.org/licenses/Apache-2.0.html"}}]
    considerations = model["modelCard"]["considerations"]
    assert considerations["useCases"] == ["fallback chat assistant for internal support staff"]
    assert considerations["technicalLimitations"] == [
        "English only; answers about products released after 2024 are unreliable"]
    template = components["model:mistral-7b-instruct-v0.3#file:chat_template.jinja"]
    assert template["type"] == "file"
    assert template["hashes"] == [{"alg": "SHA-256", "content": "a" * 64}]
    assert {"name": "govops:kind", "value": "chat-template"} in template["properties"]
    depends = {d["ref"]: d.get("dependsOn", []) for d in document["dependencies"]}
    assert "model:mistral-7b-instruct-v0.3#file:tokenizer_config.json" in depends[
        "model:mistral-7b-instruct-v0.3"]
    # A licence that is not an SPDX id keeps its name, without a made-up URL.
    llama = components["model:llama-3-8b-instruct"]
    assert llama["licenses"] == [{"license": {"name": "llama3"}}]


def test_a_changed_chat_template_is_a_change_in_the_diff(tmp_path: Path) -> None:
    run = govops("bom", "diff", "--repo", str(_repo(tmp_path)), "--format", "json",
                 "HEAD~1", "HEAD")
    assert run.exit_code == 0, run.stderr
    [change] = json.loads(run.stdout)["changed"]
    assert change["name"] == "chat_template.jinja"
    assert [f["field"] for f in change["fields"]] == ["hashes"]


def test_an_unknown_file_kind_is_one_line(tmp_path: Path) -> None:
    files = fixture("acme-ml")
    files[MODEL] += b"  files:\n    - path: weights.bin\n      kind: weights\n      digest: x\n"
    make_repo(tmp_path / "repo", Step("bad kind", files))
    run = check(tmp_path / "repo")
    assert run.exit_code == 2
    line = files[MODEL].decode().splitlines().index("      kind: weights") + 1
    assert run.stderr.startswith(f"govops: error: {MODEL}:{line}: ")
    assert "chat-template" in run.stderr
