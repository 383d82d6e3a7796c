"""`govops bom diff` over a scripted history reports exactly what changed, in every format."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from engine.repo.scripted import Step
from tests.support.cli import govops
from tests.support.repos import fixture, make_repo

OLD_DIGEST = "087bb8360bb45c8dabd3580c98b33f85655c1a72197c31506ab49843bc605009"
NEW_DIGEST = "5d6c5b3f0e1a9a8c7b6d5e4f3a2b1c0d9e8f7a6b5c4d3e2f1a0b9c8d7e6f5a4b"
OLD_IMAGE = "c0be114bf260e9f05643f4bd755a2cf35674646de21b424d86c2a5e489fe33c6"
NEW_IMAGE = "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08"
NEW_DATASET = """\
apiVersion: govops.dev/v1
kind: Dataset
metadata:
  name: chatbot-arena-conversations
spec:
  source: hf://datasets/lmsys/chatbot_arena_conversations
  revision: 4c3b2a1d0e9f8a7b6c5d4e3f2a1b0c9d8e7f6a5b
  digest: sha256:0d9c8b7a6f5e4d3c2b1a0f9e8d7c6b5a4f3e2d1c0b9a8f7e6d5c4b3a2f1e0d9c
  license: CC-BY-4.0
  pii: false
"""


def _history(root: Path) -> None:
    files = fixture("acme-ml")
    changed = dict(files)
    model = "models/llama-3-8b-instruct.yaml"
    changed[model] = files[model].replace(OLD_DIGEST.encode(), NEW_DIGEST.encode())
    lock = "environments/vllm-serve.txt"
    text = files[lock].decode()
    text = re.sub(r"torch==2\.6\.0 \\\n(\s+--hash=sha256:[0-9a-f]+ \\\n)*\s+--hash=sha256:[0-9a-f]+",
                  "torch==2.7.0 \\\\\n    --hash=sha256:" + "7" * 64, text)
    assert "torch==2.7.0" in text
    changed[lock] = text.encode()
    env = "environments/vllm-serve.yaml"
    changed[env] = files[env].replace(OLD_IMAGE.encode(), NEW_IMAGE.encode())
    changed["datasets/chatbot-arena-conversations.yaml"] = NEW_DATASET.encode()
    make_repo(root, Step("base", files), Step("four changes", changed))


@pytest.fixture
def history(tmp_path: Path) -> Path:
    _history(tmp_path / "r")
    return tmp_path / "r"


def test_json_lists_exactly_the_four_changes(history: Path) -> None:
    run = govops("bom", "diff", "--repo", str(history), "--format", "json", "HEAD~1", "HEAD")
    assert run.exit_code == 0, run.stderr
    diff = run.json()
    assert [(c["type"], c["name"]) for c in diff["added"]] == [
        ("data", "chatbot-arena-conversations")]
    assert diff["removed"] == []
    changed = {(c["type"], c["name"]): {f["field"] for f in c["fields"]}
               for c in diff["changed"]}
    assert changed == {
        ("machine-learning-model", "llama-3-8b-instruct"): {"hashes"},
        ("library", "torch"): {"version", "hashes"},
        ("container", "ghcr.io/acme/vllm"): {"version", "hashes"},
    }
    torch = next(c for c in diff["changed"] if c["name"] == "torch")
    assert (torch["before"]["version"], torch["after"]["version"]) == ("2.6.0", "2.7.0")
    assert torch["within"] == "environment:vllm-serve"
    model = next(c for c in diff["changed"] if c["name"] == "llama-3-8b-instruct")
    field = model["fields"][0]
    assert field["before"][0]["content"] == OLD_DIGEST
    assert field["after"][0]["content"] == NEW_DIGEST
    assert diff["head"]["commit"] != diff["base"]["commit"]


def test_text_and_markdown_name_the_same_changes(history: Path) -> None:
    text = govops("bom", "diff", "--repo", str(history), "HEAD~1", "HEAD")
    markdown = govops("bom", "diff", "--repo", str(history), "--format", "markdown",
                      "HEAD~1", "HEAD")
    assert text.exit_code == markdown.exit_code == 0
    assert "1 added, 0 removed, 3 changed" in text.stdout
    lines = text.stdout.splitlines()[1:]
    assert len(lines) == 4
    assert any("added" in ln and "chatbot-arena-conversations" in ln for ln in lines)
    assert any("torch" in ln and "version 2.6.0 → 2.7.0" in ln for ln in lines)
    assert any("llama-3-8b-instruct" in ln and "hashes SHA-256:087bb8360bb4" in ln
               for ln in lines)
    assert any("ghcr.io/acme/vllm" in ln and NEW_IMAGE[:12] in ln for ln in lines)
    rows = [ln for ln in markdown.stdout.splitlines() if ln.startswith("| ") and "---" not in ln]
    assert rows[0] == "| change | type | component | details |"
    assert len(rows) == 5
    assert any(r.startswith("| changed | library | `torch` (in environment vllm-serve) |")
               for r in rows)
    assert "| added | data | `chatbot-arena-conversations 4c3b2a1d0e9f…` | |" in rows


def test_unchanged_revisions_report_nothing(history: Path) -> None:
    for fmt in ("text", "json", "markdown"):
        run = govops("bom", "diff", "--repo", str(history), "--format", fmt, "HEAD", "HEAD")
        assert run.exit_code == 0
        if fmt == "json":
            diff = json.loads(run.stdout)
            assert diff["added"] == diff["removed"] == diff["changed"] == []
        else:
            assert "0 added, 0 removed, 0 changed" in run.stdout


def test_a_package_removed_and_one_added_are_not_paired(tmp_path: Path) -> None:
    files = fixture("acme-ml")
    lock = "environments/vllm-serve.txt"
    text = files[lock].decode()
    text = re.sub(r"(?m)^torch==2\.6\.0 \\\n(\s+--hash=sha256:[0-9a-f]+ \\\n)*"
                  r"\s+--hash=sha256:[0-9a-f]+", "left-pad==1.0 \\\\\n    --hash=sha256:"
                  + "1" * 64, text)
    make_repo(tmp_path / "r", Step("base", files),
              Step("swap", {**files, lock: text.encode()}))
    diff = govops("bom", "diff", "--repo", str(tmp_path / "r"), "--format", "json",
                  "HEAD~1", "HEAD").json()
    assert [c["name"] for c in diff["added"]] == ["left-pad"]
    assert [(c["name"], c["version"]) for c in diff["removed"]] == [("torch", "2.6.0")]
    assert diff["changed"] == []


def test_each_change_names_its_environment_and_the_fields_that_changed(tmp_path: Path) -> None:
    """numpy 1.26.4 is in both environments; bumping it in `train` alone is one change in
    `train`, not an addition. A replica count and a model's task are named field by field."""
    files = fixture("acme-ml")
    lock = "environments/pylock.train.toml"
    numpy = 'name = "numpy"\nversion = "1.26.4"'
    assert numpy in files[lock].decode()
    stack, model = "stacks/prod-inference.yaml", "models/llama-3-8b-instruct.yaml"
    changed = {
        **files,
        lock: files[lock].decode().replace(numpy, 'name = "numpy"\nversion = "2.2.5"').encode(),
        stack: files[stack].replace(b"replicas: 3", b"replicas: 4", 1),
        model: files[model].replace(b"task: text-generation", b"task: text2text-generation"),
    }
    make_repo(tmp_path / "r", Step("base", files), Step("three changes", changed))
    run = govops("bom", "diff", "--repo", str(tmp_path / "r"), "--format", "json",
                 "HEAD~1", "HEAD")
    assert run.exit_code == 0, run.stderr
    diff = run.json()
    assert diff["added"] == diff["removed"] == []
    got = {(c["name"], c["within"]): [(f["field"], f["before"], f["after"]) for f in c["fields"]
                                      if f["field"] != "hashes"]
           for c in diff["changed"]}
    assert got == {
        ("numpy", "environment:train"): [("version", "1.26.4", "2.2.5")],
        ("prod-inference/chat", None): [("properties.govops:replicas", "3", "4")],
        ("llama-3-8b-instruct", None): [("modelCard.modelParameters.task", "text-generation",
                                         "text2text-generation")],
    }
    text = govops("bom", "diff", "--repo", str(tmp_path / "r"), "HEAD~1", "HEAD").stdout
    assert "numpy (in environment train)  version 1.26.4 → 2.2.5" in text
    assert "replicas 3 → 4" in text
    assert "modelCard.modelParameters.task text-generation → text2text-generation" in text


def test_unknown_base_is_an_input_error(history: Path) -> None:
    run = govops("bom", "diff", "--repo", str(history), "nope", "HEAD")
    assert run.exit_code == 2 and "nope" in run.stderr
