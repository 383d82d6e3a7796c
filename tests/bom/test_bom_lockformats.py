"""Every lock-file format reaches both the AIBOM and the policies through one parser: uv.lock
(with a forked torch) and a conda explicit file, in one governed repo."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from engine.repo.scripted import Step
from tests.support.cli import check, govops
from tests.support.repos import FIXTURES, fixture, make_repo

UV = (FIXTURES / "lockfiles" / "uv" / "uv.lock").read_bytes()
CONDA = (FIXTURES / "lockfiles" / "conda" / "explicit-linux-64.txt").read_bytes()
CU124 = "https://download.pytorch.org/whl/cu124"  # the index uv.lock names for the CUDA build


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    files = fixture("acme-ml")
    serve = "environments/vllm-serve.yaml"
    train = "environments/train.yaml"
    files[serve] = files[serve].replace(b"environments/vllm-serve.txt", b"environments/uv.lock")
    files[train] = files[train].replace(b"environments/pylock.train.toml",
                                        b"environments/train-explicit.txt")
    files["environments/uv.lock"] = UV
    files["environments/train-explicit.txt"] = CONDA
    make_repo(tmp_path / "r", Step("uv and conda", files))
    return tmp_path / "r"


def _aibom(repo: Path) -> dict[str, Any]:
    run = govops("bom", "--repo", str(repo))
    assert run.exit_code == 0, run.stderr
    document: dict[str, Any] = json.loads(run.stdout)
    return document


def test_uv_and_conda_packages_are_in_the_aibom_with_their_purls(repo: Path) -> None:
    document = _aibom(repo)
    libraries = {c["purl"]: c for c in document["components"] if c["type"] == "library"}
    assert {"pkg:pypi/torch@2.5.1", f"pkg:pypi/torch@2.5.1%2Bcu124?repository_url={CU124}"
            } <= set(libraries)
    assert not any("acme-serve" in p or "acme-workspace" in p for p in libraries)
    python = ("pkg:conda/python@3.11.9?build=hb806964_0_cpython&channel=conda-forge"
              "&subdir=linux-64&type=conda")
    assert libraries[python]["hashes"] == [{"alg": "MD5",
                                            "content": "a81082d975ded475914bc5d07da23e78"}]
    assert libraries[python]["externalReferences"][0]["url"].endswith(
        "python-3.11.9-hb806964_0_cpython.conda")
    conda = [p for p in libraries if p.startswith("pkg:conda/")]
    assert len(conda) == CONDA.count(b"\nhttps://")
    assert any("subdir=noarch" in p for p in conda)
    environment = {d["ref"]: d.get("dependsOn", []) for d in document["dependencies"]}
    assert python in environment["environment:train"]
    assert "pkg:pypi/torch@2.5.1" in environment["environment:vllm-serve"]


def test_forked_torch_versions_fail_env003_at_their_own_lines_and_match_the_aibom(
        repo: Path) -> None:
    vulnerable = {v["id"]: sorted(a["ref"] for a in v["affects"])
                  for v in _aibom(repo)["vulnerabilities"]}
    # conda pytorch 2.5.1 (train) is PyPI torch by govops' conda table (issue 18): affected too.
    [conda_torch] = [p for p in vulnerable["CVE-2025-32434"] if p.startswith("pkg:conda/")]
    assert conda_torch.startswith("pkg:conda/pytorch@2.5.1?")
    assert [p for p in vulnerable["CVE-2025-32434"] if p != conda_torch] == [
        "pkg:pypi/torch@2.5.1", f"pkg:pypi/torch@2.5.1%2Bcu124?repository_url={CU124}"]
    assert vulnerable["CVE-2025-24357"] == ["pkg:pypi/vllm@0.6.4.post1"]
    run = check(repo, "--format", "json")
    assert run.exit_code == 1
    env003 = sorted((r["file"], r["line"], r["package"]) for r in run.json()["results"]
                    if r["id"] == "ENV-003" and r["file"] == "environments/uv.lock")
    assert [(r["file"], r["package"]) for r in run.json()["results"]
            if r["id"] == "ENV-003" and r["file"] != "environments/uv.lock"] == [
        ("environments/train-explicit.txt", "pytorch")]
    lines = UV.decode().splitlines()
    headers = {n for n, text in enumerate(lines, start=1) if text == "[[package]]"}
    assert [(f, p) for f, _, p in env003] == [("environments/uv.lock", "torch")] * 2 + [
        ("environments/uv.lock", "vllm")]
    torch_lines = [line for _, line, p in env003 if p == "torch"]
    assert len(set(torch_lines)) == 2 and set(torch_lines) <= headers
    assert lines[torch_lines[0]].startswith('name = "torch"')
    assert lines[torch_lines[0] + 1] == 'version = "2.5.1"'
    assert lines[torch_lines[1] + 1] == 'version = "2.5.1+cu124"'


def test_a_git_source_without_hash_fails_env001_in_uv_lock(repo: Path) -> None:
    run = check(repo, "--format", "json")
    env001 = [(r["file"], r["package"]) for r in run.json()["results"] if r["id"] == "ENV-001"]
    assert env001 == [("environments/uv.lock", "flash-attn")]
