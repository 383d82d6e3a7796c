"""ENV-003 and the AIBOM's vulnerabilities come from one matcher over one set of advisories:
the shipped OSV records plus `--advisories DIR`. A version in range shows in both, one outside
in neither."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest

from engine.repo.scripted import Step
from tests.support.cli import check, govops
from tests.support.repos import fixture, make_repo

LOCK = "environments/vllm-serve.txt"


def _repo(root: Path, torch: str) -> Path:
    files = fixture("acme-ml")
    text = files[LOCK].decode().replace("torch==2.6.0 ", f"torch=={torch} ")
    assert f"torch=={torch} " in text
    make_repo(root, Step("torch " + torch, {**files, LOCK: text.encode()}))
    return root


def _vulnerabilities(repo: Path, *args: str) -> dict[str, list[str]]:
    run = govops("bom", "--repo", str(repo), *args)
    assert run.exit_code == 0, run.stderr
    return {v["id"]: [a["ref"] for a in v["affects"]]
            for v in json.loads(run.stdout).get("vulnerabilities", [])}


def _env003(repo: Path, *args: str) -> list[dict[str, Any]]:
    run = check(repo, "--format", "json", *args)
    assert run.exit_code in (0, 1), run.stderr
    return [r for r in run.json()["results"] if r["id"] == "ENV-003"]


@pytest.mark.parametrize("version", ["2.5.1", "2.5.1+cu124", "2.0.0"])
def test_version_in_range_is_in_the_aibom_and_fails_env003(tmp_path: Path, version: str) -> None:
    repo = _repo(tmp_path / "r", version)
    purl = "pkg:pypi/torch@" + version.replace("+", "%2B")
    assert _vulnerabilities(repo) == {"CVE-2025-32434": [purl]}
    results = _env003(repo)
    assert [(r["name"], r["file"], r["line"]) for r in results] == [("vllm-serve", LOCK, 123)]
    assert "CVE-2025-32434" in results[0]["msg"]


@pytest.mark.parametrize("version", ["2.6.0", "2.6.1", "2.7.0+cu126"])
def test_version_outside_the_range_is_in_neither(tmp_path: Path, version: str) -> None:
    repo = _repo(tmp_path / "r", version)
    assert _vulnerabilities(repo) == {}
    assert _env003(repo) == []


def _osv(directory: Path, record: dict[str, Any], name: str = "record.json") -> Path:
    directory.mkdir(exist_ok=True)
    (directory / name).write_text(json.dumps(record, indent=2))
    return directory


TRANSFORMERS = {
    "id": "GHSA-test-0001",
    "summary": "a made-up flaw in transformers for this test",
    "affected": [{"package": {"ecosystem": "PyPI", "name": "Transformers"},
                  "ranges": [{"type": "ECOSYSTEM",
                              "events": [{"introduced": "4.40.0"}, {"last_affected": "4.51.3"}]}],
                  "versions": []}],
    "database_specific": {"severity": "MODERATE"},
}


def test_advisories_dir_feeds_both_the_aibom_and_env003(acme: Path, tmp_path: Path) -> None:
    directory = _osv(tmp_path / "osv", TRANSFORMERS)
    lock_text = fixture("acme-ml")[LOCK].decode()
    version = re.search(r"(?m)^transformers==(\S+)", lock_text)
    assert version is not None and version.group(1) == "4.51.3"
    assert _vulnerabilities(acme) == {}
    assert _env003(acme) == []
    found = _vulnerabilities(acme, "--advisories", str(directory))
    assert found == {"GHSA-test-0001": ["pkg:pypi/transformers@4.51.3"]}
    results = _env003(acme, "--advisories", str(directory))
    assert {r["name"] for r in results} == {"vllm-serve", "train"}
    assert all("GHSA-test-0001" in r["msg"] and "made-up flaw" in r["msg"]
               for r in results)


def test_explicit_versions_match_and_others_do_not(acme: Path, tmp_path: Path) -> None:
    record = {**TRANSFORMERS, "affected": [{"package": {"ecosystem": "PyPI",
                                                        "name": "transformers"},
                                            "versions": ["4.51.2"]}]}
    directory = _osv(tmp_path / "osv", record)
    assert _vulnerabilities(acme, "--advisories", str(directory)) == {}
    assert _env003(acme, "--advisories", str(directory)) == []
    record["affected"][0]["versions"] = ["4.51.3"]
    _osv(directory, record)
    assert _vulnerabilities(acme, "--advisories", str(directory)) == {
        "GHSA-test-0001": ["pkg:pypi/transformers@4.51.3"]}


def test_aibom_vulnerability_carries_source_severity_and_fix(tmp_path: Path) -> None:
    repo = _repo(tmp_path / "r", "2.5.1")
    run = govops("bom", "--repo", str(repo))
    vulnerability = json.loads(run.stdout)["vulnerabilities"][0]
    assert vulnerability["source"] == {"name": "OSV",
                                       "url": "https://osv.dev/vulnerability/CVE-2025-32434"}
    assert vulnerability["ratings"] == [{"severity": "critical"}]
    assert vulnerability["recommendation"] == "Upgrade to torch 2.6.0 or later."
    assert vulnerability["affects"][0]["versions"] == [{"status": "affected",
                                                        "version": "2.5.1"}]


@pytest.mark.parametrize(("content", "line", "message"), [
    ('{\n  "id": "X",\n  "affected": [}\n', 3, "malformed JSON"),
    ('{"summary": "no id"}', 1, "needs a string id"),
    ('{"id": "X", "affected": {"package": {}}}', 1, "affected must be a list"),
])
def test_a_bad_advisory_file_is_an_input_error_naming_it(acme: Path, tmp_path: Path,
                                                        content: str, line: int,
                                                        message: str) -> None:
    directory = tmp_path / "osv"
    directory.mkdir()
    (directory / "bad.json").write_text(content)
    for run in (govops("bom", "--repo", str(acme), "--advisories", str(directory)),
                check(acme, "--advisories", str(directory))):
        assert run.exit_code == 2
        assert f"bad.json:{line}" in run.stderr and message in run.stderr


def test_duplicate_advisory_ids_across_files_are_refused(acme: Path, tmp_path: Path) -> None:
    directory = _osv(tmp_path / "osv", TRANSFORMERS, "a.json")
    _osv(directory, TRANSFORMERS, "b.json")
    run = govops("bom", "--repo", str(acme), "--advisories", str(directory))
    assert run.exit_code == 2 and "also in" in run.stderr
