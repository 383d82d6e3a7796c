"""Real OSV records (the PyPA advisory database, `../shared/realworld`) against real lock
files (issue 18, acceptance 1): a withdrawn record matches nothing, records that share an
alias are one vulnerability, a GIT range's commit is never upgrade advice, and a conda build of
a PyPI project is matched by that project's advisories."""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import pytest

from engine.advisories.match import AdvisoryIndex
from engine.advisories.merge import effective, withdrawn
from engine.advisories.records import load_advisory_dir
from engine.errors import InputError
from engine.repo.scripted import Step
from tests.support.cli import check, govops
from tests.support.realworld import realworld_inputs
from tests.support.repos import ENGINES, ROOT, make_repo
from tests.support.samples import GOOD, environment


def _pypa() -> Path:
    return realworld_inputs() / "advisories" / "pypa-advisory-database"


def _records(tmp_path: Path, *packages: str, duplicates: bool = False) -> Path:
    """An advisory folder as a user keeps one: the PyPA database's folders of these packages
    (YAML, as published), and the historical duplicate torch record when asked."""
    folder = tmp_path / "osv"
    for package in packages:
        shutil.copytree(_pypa() / package, folder / "vulns" / package)
    if duplicates:
        shutil.copytree(realworld_inputs() / "advisories" / "alias-duplicates",
                        folder / "historical")
    return folder


def _repo(tmp_path: Path, lock_name: str, lock: bytes) -> Path:
    files = {**GOOD, "environments/train.yaml": environment("train", f"environments/{lock_name}"),
             f"environments/{lock_name}": lock}
    root = tmp_path / "repo"
    make_repo(root, Step("environment", files))
    return root


def _env003(decision: dict[str, Any]) -> list[dict[str, Any]]:
    return [r for r in decision["results"] if r["id"] == "ENV-003"]


def test_the_pypa_database_reads_as_published() -> None:
    records = load_advisory_dir(_pypa())
    files = sorted(_pypa().rglob("*.yaml"))
    assert len(records) == len(files) == 86
    assert sorted(records) == sorted(p.stem for p in files)
    # Unquoted versions stay text (a YAML 1.1 reader makes 0.10 the float 0.1).
    py = records["PYSEC-2022-42969"]["affected"][0]
    assert "0.8.0-alpha2" in py["versions"] or any("alpha" in v for v in py["versions"])
    assert all(isinstance(v, str) for r in records.values() for a in r["affected"]
               for v in a.get("versions", []))


def test_a_malformed_yaml_record_names_its_file_and_line(tmp_path: Path) -> None:
    (tmp_path / "PYSEC-1.yaml").write_text("id: PYSEC-1\naffected:\n  - package: [\n")
    with pytest.raises(InputError) as raised:
        load_advisory_dir(tmp_path)
    assert raised.value.path == str(tmp_path / "PYSEC-1.yaml")
    assert raised.value.line == 4


@pytest.mark.parametrize("engine", ENGINES)
def test_a_withdrawn_record_does_not_fail_a_real_lerobot_lock(tmp_path: Path,
                                                              engine: str) -> None:
    """aiohttp PYSEC-2022-43059 (disputed, withdrawn 2023-11-08) names every aiohttp version;
    lerobot's uv.lock locks aiohttp 3.14.3. The live aiohttp records still apply."""
    lock = (realworld_inputs() / "lockfiles" / "huggingface__lerobot" / "uv.lock").read_bytes()
    root = _repo(tmp_path, "uv.lock", lock)
    raw = load_advisory_dir(_pypa() / "aiohttp")
    assert withdrawn(raw) == ["PYSEC-2022-43059"]
    assert AdvisoryIndex(raw).matches("aiohttp", "3.14.3") == []
    assert "PYSEC-2022-43059" not in effective(raw)
    run = check(root, "--format", "json", "--advisories", str(_records(tmp_path, "aiohttp")),
                engine=engine)
    assert run.exit_code in (0, 1), run.stderr
    assert not [r for r in _env003(run.json()) if r.get("advisory") == "PYSEC-2022-43059"]
    # The same record, not withdrawn, would have failed it: the test tests the withdrawal.
    record = dict(raw["PYSEC-2022-43059"])
    record.pop("withdrawn")
    assert AdvisoryIndex({"PYSEC-2022-43059": record}).matches("aiohttp", "3.14.3") == [
        "PYSEC-2022-43059"]


@pytest.mark.parametrize("engine", ENGINES)
def test_records_sharing_an_alias_are_one_result_and_advise_versions_not_commits(
        tmp_path: Path, engine: str) -> None:
    """PYSEC-2022-43015 and the historical PYSEC-0000-CVE-2022-45907 are both CVE-2022-45907
    (eval in torch.jit); both carry a GIT range whose `fixed` is a commit hash."""
    root = _repo(tmp_path, "train.txt", b"torch==1.13.0 --hash=sha256:" + b"3" * 64 + b"\n")
    run = check(root, "--format", "json",
                "--advisories", str(_records(tmp_path, "torch", duplicates=True)), engine=engine)
    assert run.exit_code == 1
    about = [r for r in _env003(run.json()) if "CVE-2022-45907" in r["msg"]]
    assert len(about) == 1, about
    result = about[0]
    assert result["advisory"] == "PYSEC-2022-43015"
    assert result["package"] == "torch" and result["version"] == "1.13.0"
    assert "(also CVE-2022-45907, PYSEC-0000-CVE-2022-45907)" in result["msg"]
    assert result["msg"].endswith("; upgrade to 1.13.1 or later.")
    advice = " ".join(r["msg"] for r in _env003(run.json()))
    assert "767f6aa49fe20a2766b9843d01e3b7f7793df6a3" not in advice
    assert not [m for m in advice.split("upgrade to ")[1:] if len(m.split()[0]) >= 40]


def test_the_aibom_carries_one_vulnerability_with_its_aliases(tmp_path: Path) -> None:
    root = _repo(tmp_path, "train.txt", b"torch==1.13.0 --hash=sha256:" + b"3" * 64 + b"\n")
    run = govops("bom", "--repo", str(root),
                 "--advisories", str(_records(tmp_path, "torch", duplicates=True)))
    assert run.exit_code == 0, run.stderr
    vulns = {v["id"]: v for v in json.loads(run.stdout)["vulnerabilities"]}
    assert "PYSEC-0000-CVE-2022-45907" not in vulns
    merged = vulns["PYSEC-2022-43015"]
    assert sorted(r["id"] for r in merged["references"]) == [
        "CVE-2022-45907", "PYSEC-0000-CVE-2022-45907"]
    assert merged["recommendation"] == "Upgrade to torch 1.13.1 or later."
    # No recommendation anywhere names a commit.
    assert not [v for v in vulns.values()
                if "767f6aa49fe20a2766b9843d01e3b7f7793df6a3" in v.get("recommendation", "")]


def test_cvss_vectors_are_carried_into_the_aibom(tmp_path: Path) -> None:
    with_cvss = [p for p in _pypa().rglob("*.yaml") if "CVSS_V3" in p.read_text()]
    assert with_cvss, "the real records include CVSS vectors"
    record = load_advisory_dir(with_cvss[0].parent)[with_cvss[0].stem]
    affected = record["affected"][0]
    package = affected["package"]["name"]
    version = next(v for v in affected.get("versions", []) if v[0].isdigit() and "-" not in v)
    folder = tmp_path / "one"
    folder.mkdir()
    shutil.copy(with_cvss[0], folder)
    root = _repo(tmp_path, "train.txt",
                 f"{package}=={version} --hash=sha256:{'3' * 64}\n".encode())
    run = govops("bom", "--repo", str(root), "--advisories", str(folder))
    assert run.exit_code == 0, run.stderr
    vuln = next(v for v in json.loads(run.stdout)["vulnerabilities"] if v["id"] == record["id"])
    rated = [(r["method"], r["vector"]) for r in vuln["ratings"] if "vector" in r]
    # CycloneDX writes the vector without its "CVSS:3.1/" prefix; the method says the version.
    assert rated == [("CVSSv31", s["score"].removeprefix("CVSS:3.1/"))
                     for s in record["severity"] if s["type"] == "CVSS_V3"]
    assert all(s["score"].startswith("CVSS:3.1/") for s in record["severity"])


@pytest.mark.parametrize("engine", ENGINES)
def test_conda_pytorch_2_5_1_fails_env_003_through_the_mapping(tmp_path: Path,
                                                                engine: str) -> None:
    """OSV has no conda ecosystem: conda `pytorch` is PyPI `torch` by govops' table, so the
    shipped torch.load advisory (CVE-2025-32434, fixed in 2.6.0) applies to it."""
    lock = (ROOT / "fixtures" / "lockfiles" / "conda" / "explicit-linux-64.txt").read_bytes()
    assert b"/pytorch-2.5.1-" in lock
    root = _repo(tmp_path, "conda-linux-64.lock", lock)
    run = check(root, "--format", "json", engine=engine)
    assert run.exit_code == 1, run.stdout + run.stderr
    [result] = [r for r in _env003(run.json()) if r["package"] == "pytorch"]
    assert result["advisory"] == "CVE-2025-32434" and result["version"] == "2.5.1"
    assert result["msg"].startswith("Package pytorch 2.5.1 (conda; PyPI torch) in environment "
                                    "train is affected by CVE-2025-32434")
    assert result["msg"].endswith("; upgrade to 2.6.0 or later.")


def test_a_real_conda_lock_render_is_matched_and_said_so_in_the_aibom(tmp_path: Path) -> None:
    """01-ai/Yi's conda-lock environment, rendered explicit: pytorch 2.0.1 from the pytorch
    channel, and numpy/pillow from conda-forge, matched by the PyPA records of their PyPI
    projects; a conda package the table does not know (libgcc) is never matched by name."""
    lock = (realworld_inputs() / "lockfiles" / "derived-conda-lock-render" / "01-ai__Yi"
            / "conda-linux-64.lock").read_bytes()
    root = _repo(tmp_path, "conda-linux-64.lock", lock)
    folder = _records(tmp_path, "torch", "numpy", "pillow")
    decision = check(root, "--format", "json", "--advisories", str(folder)).json()
    hits = {(r["package"], r["advisory"]) for r in _env003(decision)}
    assert ("pytorch", "CVE-2025-32434") in hits
    assert {package for package, _ in hits} <= {"pytorch", "numpy", "pillow"}
    run = govops("bom", "--repo", str(root), "--advisories", str(folder))
    assert run.exit_code == 0, run.stderr
    torch_load = next(v for v in json.loads(run.stdout)["vulnerabilities"]
                      if v["id"] == "CVE-2025-32434")
    assert {"name": "govops:matchedAs", "value": "conda pytorch 2.0.1 as PyPI torch"} in \
        torch_load["properties"]
