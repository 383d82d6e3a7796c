"""The lock formats ML teams use, on real files nobody here wrote (`../shared/realworld`,
SOURCES.md names each origin), each package count against an independent parse (issue 18,
acceptance 2): conda-lock's unified conda-lock.yml, conda explicit files recognised by their
content whatever their name, conda-lock's `# pip` lines, and uv's pylock.toml with the project's
own entry."""

from __future__ import annotations

import json
import tomllib
from pathlib import Path

import pytest
import yaml

from engine.catalog.lockfiles import parse_lockfile
from engine.errors import InputError
from engine.repo.scripted import Step
from tests.support.cli import check, govops
from tests.support.realworld import realworld_inputs
from tests.support.repos import make_repo
from tests.support.samples import GOOD, environment


def _lock(*parts: str) -> Path:
    return realworld_inputs().joinpath("lockfiles", *parts)


@pytest.mark.parametrize("repo", ["01-ai__Yi", "Clay-foundation__model"])
def test_conda_lock_yml_counts_match_an_independent_parse(repo: str) -> None:
    text = _lock(repo, "conda-lock.yml").read_text()
    independent = yaml.safe_load(text)["package"]
    lock = parse_lockfile("env/conda-lock.yml", text)
    assert lock.format == "conda-lock"
    assert len(lock.packages) == len(independent)
    by_manager = {m: sum(1 for p in independent if p["manager"] == m) for m in ("conda", "pip")}
    assert sum(1 for p in lock.packages if p.ecosystem == "conda") == by_manager["conda"]
    assert sum(1 for p in lock.packages if p.ecosystem == "pypi") == by_manager["pip"]
    assert {(p.name.lower(), p.version) for p in lock.packages if p.ecosystem == "conda"} == {
        (p["name"].lower(), str(p["version"])) for p in independent if p["manager"] == "conda"}
    assert all(p.hashes for p in lock.packages)  # conda-lock hashes every package
    lines = text.splitlines()
    assert all(lines[p.line - 1].startswith("- name: ") for p in lock.packages)


def test_conda_lock_yml_agrees_with_its_own_explicit_render() -> None:
    """01-ai/Yi's conda-lock.yml and `conda-lock render --kind explicit` of it: the same
    conda packages, and the render's `# pip` lines are the same PyPI packages (flash-attn and
    ninja were dropped before)."""
    unified = parse_lockfile("conda-lock.yml", _lock("01-ai__Yi", "conda-lock.yml").read_text())
    render_text = _lock("derived-conda-lock-render", "01-ai__Yi", "conda-linux-64.lock").read_text()
    render = parse_lockfile("conda-linux-64.lock", render_text)
    assert {(p.name, p.version, p.ecosystem) for p in render.packages} == {
        (p.name, p.version, p.ecosystem) for p in unified.packages}
    independent = sum(1 for line in render_text.splitlines()
                      if line.startswith(("https://", "# pip ")))
    assert len(render.packages) == independent
    pip = {p.name: p for p in render.packages if p.ecosystem == "pypi"}
    assert pip["flash-attn"].version == "2.3.6"
    assert pip["ninja"].version == "1.11.1.1"
    assert pip["flash-attn"].hashes == (
        "sha256:4fc6c08714ee1c88178946465498677c59448429b43bd6244b222feb23ac9d4c",)
    assert pip["flash-attn"].url.endswith("/flash_attn-2.3.6.tar.gz")


def test_a_conda_explicit_file_is_known_by_its_content_whatever_its_name() -> None:
    """xView2's explicit file under scikit-learn's conda-lock naming (build_tools/github/)."""
    text = _lock("DIUx-xView__xView2-deploy", "conda-linux-64.lock").read_text()
    lock = parse_lockfile("build_tools/github/pylatest_conda_forge_cuda_linux-64_conda.lock",
                          text)
    assert lock.format == "conda"
    assert len(lock.packages) == sum(1 for line in text.splitlines()
                                     if line.startswith("https://"))
    with pytest.raises(InputError, match=r"unknown lock file format.*no @EXPLICIT line"):
        parse_lockfile("poetry.lock", '[[package]]\nname = "x"\n')


def test_a_malformed_pip_line_and_an_unquoted_version_are_one_line_each() -> None:
    with pytest.raises(InputError) as raised:
        parse_lockfile("conda-linux-64.lock", "@EXPLICIT\n# pip ninja @ not a url\n")
    assert raised.value.line == 2 and "malformed conda-lock pip line" in raised.value.message
    with pytest.raises(InputError) as raised:
        parse_lockfile("conda-lock.yml", "version: 1\npackage:\n- name: numpy\n  version: 1.10\n"
                       "  manager: conda\n  platform: linux-64\n")
    assert raised.value.line == 4 and "is not a string (quote it)" in raised.value.message


def test_a_uv_written_pylock_skips_the_project_itself() -> None:
    """comfy-cli's pylock.toml (uv export) locks comfy-cli itself as `directory = {path = ".",
    editable = true}`: the project under review, not an unpinned dependency."""
    text = _lock("Comfy-Org__comfy-cli", "pylock.toml").read_text()
    independent = tomllib.loads(text)["packages"]
    lock = parse_lockfile("pylock.toml", text)
    own = [p for p in independent if (p.get("directory") or {}).get("path") == "."]
    assert [p["name"] for p in own] == ["comfy-cli"]
    assert len(lock.packages) == len(independent) - 1
    assert "comfy-cli" not in {p.name for p in lock.packages}


def _repo(tmp_path: Path, lock_path: str, text: str) -> Path:
    files = {**GOOD, "environments/train.yaml": environment("train", lock_path),
             lock_path: text}
    make_repo(tmp_path / "repo", Step("lock", files))
    return tmp_path / "repo"


def test_a_conda_lock_environment_is_checked_and_in_the_aibom(tmp_path: Path) -> None:
    root = _repo(tmp_path, "environments/conda-lock.yml",
                 _lock("01-ai__Yi", "conda-lock.yml").read_text())
    run = check(root, "--format", "json")
    assert run.exit_code == 1, run.stderr
    results = run.json()["results"]
    assert not [r for r in results if r["id"] == "ENV-001"]  # every package hashed
    torch = [r for r in results if r["id"] == "ENV-003" and r["package"] == "pytorch"]
    assert torch and torch[0]["version"] == "2.0.1"
    aibom = govops("bom", "--repo", str(root))
    assert aibom.exit_code == 0, aibom.stderr
    assert '"pkg:pypi/flash-attn@2.3.6"' in aibom.stdout


def test_a_uv_pylock_environment_passes_env_001_on_its_own_project(tmp_path: Path) -> None:
    root = _repo(tmp_path, "environments/pylock.toml",
                 _lock("Comfy-Org__comfy-cli", "pylock.toml").read_text())
    run = check(root, "--format", "json")
    assert not [r for r in run.json()["results"]
                if r["id"] == "ENV-001" and r["package"] == "comfy-cli"]


def test_git_and_index_sources_are_their_own_components(tmp_path: Path) -> None:
    """NVIDIA NeMo RL's uv.lock locks deep-ep 1.2.1+29d31c0 from two commits (x86_64 and
    aarch64): two components, each naming its commit, not one; flashinfer-jit-cache comes from
    flashinfer.ai's own index; each fork keeps its environment marker."""
    root = _repo(tmp_path, "environments/uv.lock",
                 _lock("NVIDIA-NeMo__RL", "uv.lock").read_text())
    run = govops("bom", "--repo", str(root))
    assert run.exit_code == 0, run.stderr
    libraries = [c for c in json.loads(run.stdout)["components"] if c["type"] == "library"]
    deep_ep = sorted((c for c in libraries if c["name"] == "deep-ep"), key=lambda c: c["purl"])
    assert [c["purl"] for c in deep_ep] == [
        "pkg:pypi/deep-ep@1.2.1%2B29d31c0?vcs_url=git%2Bhttps://github.com/deepseek-ai/DeepEP.git"
        f"%40{commit}" for commit in ("29d31c095796f3c8ece47ee9cdcc167051bbeed9",
                                      "a48493600c4886c1b297aaa78db0e1ebc2d8dd6c")]
    markers = [{p["value"] for p in c["properties"] if p["name"] == "govops:marker"}
               for c in deep_ep]
    assert markers == [{"train: platform_machine == 'x86_64' and sys_platform == 'linux'"},
                       {"train: platform_machine == 'aarch64' and sys_platform == 'linux'"}]
    assert {"type": "vcs", "url": "https://github.com/deepseek-ai/DeepEP.git@"
            "29d31c095796f3c8ece47ee9cdcc167051bbeed9"} in deep_ep[0]["externalReferences"]
    flashinfer = [c["purl"] for c in libraries if "flashinfer.ai" in c["purl"]]
    assert flashinfer and all("?repository_url=https://flashinfer.ai/whl/" in p
                              for p in flashinfer)
