"""pixi.lock (rattler-lock v6) on the sample in fixtures/lockfiles/pixi, written for govops to
hold an ML environment (pytorch through the conda mapping; real locks published by other
projects are in test_lockfiles_pixi_real.py): every package at its line, the
workspace's own project left out, and the bad cases as one line each."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from engine.catalog.lockfiles import lockfile_family, parse_lockfile
from engine.errors import InputError
from engine.repo.scripted import Step
from tests.support.cli import check
from tests.support.repos import ROOT, make_repo
from tests.support.samples import GOOD, environment

SAMPLE = (ROOT / "fixtures" / "lockfiles" / "pixi" / "pixi.lock").read_text()


def test_every_package_at_its_line_and_the_project_left_out() -> None:
    assert lockfile_family("envs/pixi.lock") == "pixi"
    lock = parse_lockfile("pixi.lock", SAMPLE)
    independent = yaml.safe_load(SAMPLE)["packages"]
    local = [p for p in independent if p.get("pypi") == "."]
    assert len(local) == 1
    assert len(lock.packages) == len(independent) - len(local)
    lines = SAMPLE.splitlines()
    assert all(lines[p.line - 1].startswith(("- conda: ", "- pypi: ")) for p in lock.packages)
    by_name = {p.name: p for p in lock.packages}
    assert (by_name["pytorch"].ecosystem, by_name["pytorch"].version,
            by_name["pytorch"].build) == ("conda", "2.5.1", "cuda126_py311hd8d8f3e_306")
    assert (by_name["numpy"].ecosystem, by_name["numpy"].version) == ("pypi", "1.26.4")
    assert all(p.hashes for p in lock.packages)
    assert "acme-serve" not in by_name


@pytest.mark.parametrize(("text", "line", "message"), [
    ("version: 3\npackages: []\n", 1, "unsupported pixi.lock version 3"),
    ("version: 6\npackages:\n- pypi: https://x/numpy-1.0-py3-none-any.whl\n  name: numpy\n",
     3, "needs a name and a version"),
    ("version: 6\npackages:\n- conda: https://x/linux-64/python.conda\n", 3,
     "is not named name-version-build"),
    ("version: 6\npackages:\n- conda: https://x/linux-64/a-1-b.conda\n  md5: XYZ\n", 3,
     "malformed hash 'md5:XYZ'"),
])
def test_bad_pixi_locks_are_one_line(text: str, line: int, message: str) -> None:
    with pytest.raises(InputError) as raised:
        parse_lockfile("pixi.lock", text)
    assert raised.value.line == line and message in raised.value.message


def test_a_pixi_environment_is_checked_through_the_conda_mapping(tmp_path: Path) -> None:
    files = {**GOOD, "environments/train.yaml": environment("train", "environments/pixi.lock"),
             "environments/pixi.lock": SAMPLE}
    make_repo(tmp_path / "repo", Step("pixi", files))
    run = check(tmp_path / "repo", "--format", "json")
    assert run.exit_code == 1, run.stderr
    assert [(r["id"], r["package"], r["version"]) for r in run.json()["results"]] == [
        ("ENV-003", "pytorch", "2.5.1")]
