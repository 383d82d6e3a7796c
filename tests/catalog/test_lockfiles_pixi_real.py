"""pixi.lock files pixi itself wrote for published projects (issue 18, acceptance 2): the lock
files in pixi-kernel's sdist (rattler-lock v6, 0 to 485 packages on up to five platforms) and
batconf's (v7, conda and PyPI packages, its own project as `./`), fetched from PyPI at pinned
digests. Each parses to exactly the packages rattler (py-rattler, the library pixi is built on)
reads from it, and the format's hostile variants are one line each."""

from __future__ import annotations

import re
from collections import Counter
from pathlib import Path

import pytest
import rattler

from engine.bom.refs import package_purl
from engine.catalog.lockfiles import parse_lockfile
from engine.errors import InputError
from engine.repo.scripted import Step
from tests.support.cli import check
from tests.support.repos import make_repo
from tests.support.samples import GOOD, environment
from tests.support.thirdparty import sample


def _locks() -> list[Path]:
    return sorted([*sample("pixi-kernel", "0.7.1").rglob("pixi.lock"),
                   *sample("batconf", "0.4.0").rglob("pixi.lock")])


def _v7() -> Path:
    return sample("batconf", "0.4.0") / "batconf-0.4.0" / "pixi.lock"


def _rattler(path: Path) -> Counter[tuple[str, str, str, str]]:
    """What rattler locks, each package once however many environments and platforms use
    it, without the workspace's own (local-path) packages."""
    seen = {}
    lock = rattler.LockFile.from_path(path)
    for _, env in lock.environments():
        for packages in env.packages_by_platform().values():
            for package in packages:
                seen[str(package.location)] = package
    counted: Counter[tuple[str, str, str, str]] = Counter()
    for location, package in seen.items():
        if "://" not in location:
            continue
        if isinstance(package, rattler.PypiLockedPackage):
            counted["pypi", re.sub(r"[-_.]+", "-", package.name.lower()),
                    str(package.version), ""] += 1
        else:
            record = package.package_record
            counted["conda", record.name.source, str(record.version), str(record.build)] += 1
    return counted


def test_there_are_real_locks_of_both_current_versions() -> None:
    versions = Counter(p.read_text().split("\n", 1)[0] for p in _locks())
    assert versions == {"version: 6": 8, "version: 7": 1}


@pytest.mark.parametrize("path", _locks(), ids=lambda p: "/".join(p.parts[-4:-1]))
def test_every_package_rattler_reads_and_no_other(path: Path) -> None:
    lock = parse_lockfile("pixi.lock", path.read_text())
    ours = Counter((p.ecosystem, p.name, p.version, p.build) for p in lock.packages)
    assert ours == _rattler(path)
    lines = path.read_text().splitlines()
    assert all(re.match(r"- (conda|pypi): ", lines[p.line - 1]) for p in lock.packages)
    assert all(p.hashes for p in lock.packages)


def test_v7_leaves_out_the_project_and_keeps_both_ecosystems() -> None:
    text = _v7().read_text()
    lock = parse_lockfile("pixi.lock", text)
    assert Counter(p.ecosystem for p in lock.packages) == {"conda": 213, "pypi": 157}
    assert "batconf" not in {p.name for p in lock.packages}
    assert "- pypi: ./\n  name: batconf\n" in text  # the project is in the file, as `./`
    mypy = next(p for p in lock.packages if p.name == "mypy" and "x86_64" in p.url)
    assert (mypy.version, mypy.source) == ("2.1.0", "")


def _with(text: str, old: str, new: str) -> str:
    assert old in text
    return text.replace(old, new, 1)


def test_hostile_variants_of_a_real_v7_lock_are_one_line() -> None:
    text = _v7().read_text()
    # the package's own entry, not the environment's list that names it (indented)
    entry = ("\n- conda: https://conda.anaconda.org/conda-forge/linux-64/_openmp_mutex-4.5-20_gnu"
             ".conda\n")
    line = text.splitlines().index(entry.strip("\n")) + 1
    cases = [
        (_with(text, "version: 7\n", "version: 8\n"), 1, "unsupported pixi.lock version 8"),
        # a name field that says another package than the file conda installs
        (_with(text, entry, entry + "  name: harmless\n"), line,
         "conda package name 'harmless' disagrees with its file name"),
        (_with(text, entry, entry + "  version: '9.9'\n"), line,
         "conda package version '9.9' disagrees"),
        (_with(text, entry + "  build_number: 20\n  sha256: 1dd3",
               entry + "  build_number: 20\n  sha256: 1DD3"), line, "malformed hash"),
        (_with(text, entry, "\n- conda_source: mylib[0123abcd] @ git+https://example.org/x.git\n"),
         line, "needs a name and a version"),
        # a query or fragment does not make a conda file a source package whose fields count
        (_with(text, entry, entry.replace(".conda\n", ".conda?x=1\n") + "  name: harmless\n"),
         line, "conda package name 'harmless' disagrees"),
        (_with(text, entry, "\n- conda_source: pytorch\n"), line, "is not `<name>[<hash>] @ "),
        (_with(text, entry, "\n- conda_source: pytorch@git+https://x/y.git\n"), line,
         "is not `<name>[<hash>] @ "),
        (_with(text, entry, "\n- kind: [conda]\n  url: https://x/a-1-b.conda\n"), line,
         "a package entry needs"),
        (_with(text, entry, "\n- kind: conda_source\n  url: git+https://x/y.git\n"), line,
         "a package entry needs"),
    ]
    for bad, at, message in cases:
        with pytest.raises(InputError) as raised:
            parse_lockfile("envs/pixi.lock", bad)
        assert (raised.value.path, raised.value.line) == ("envs/pixi.lock", at)
        assert message in raised.value.message


def test_a_pypi_entry_must_be_the_file_it_names() -> None:
    """A real wheel entry of the v7 lock, with its name or version changed: the wheel is what
    pip installs, so the fields may not name another project or version."""
    text = _v7().read_text()
    wheel = next(w for w in text.split("\n- ") if w.startswith("pypi: https://files.pythonhosted"
                                                               ".org/") and "\n  name: mypy\n" in w)
    line = text.splitlines().index("- " + wheel.split("\n", 1)[0]) + 1
    for old, new, message in (
            ("\n  name: mypy\n", "\n  name: harmless\n", "PyPI package harmless 2.1.0 disagrees"),
            ("\n  version: 2.1.0\n", "\n  version: 1.0.0\n", "PyPI package mypy 1.0.0 disagrees"),
            ("\n  version: 2.1.0\n", "\n  version: not-a-version\n", "disagrees")):
        with pytest.raises(InputError) as raised:
            parse_lockfile("pixi.lock", text.replace(wheel, wheel.replace(old, new, 1), 1))
        assert raised.value.line == line and message in raised.value.message
    # spelled otherwise but the same project and version: accepted
    same = text.replace(wheel, wheel.replace("\n  name: mypy\n", "\n  name: MyPy\n", 1), 1)
    assert "mypy" in {p.name for p in parse_lockfile("pixi.lock", same).packages}


def test_sources_built_by_pixi() -> None:
    """A v7 source package in a folder of the workspace is its own (left out); one from git is
    a package with its commit (credentials left out), one from a folder outside the workspace
    or a vendored wheel a package from that path; a PyPI package from git or another host says
    where from."""
    base = "version: 7\nplatforms: []\nenvironments: {}\npackages:\n"
    lock = parse_lockfile("pixi.lock", base + (
        "- conda_source: mylib[0123abcd] @ ./mylib\n  version: 0.1.0\n  subdir: linux-64\n"
        "- pypi: libs/helper\n  name: helper\n"
        "- conda_source: tool[89abcdef] @ git+https://example.org/tool.git?rev=main#"
        + "a" * 40 + "\n  version: 1.2.0\n  build: h0_0\n  subdir: linux-64\n"
        "- conda_source: vendored[01234567] @ ../vendor/vendored\n  version: 2.0.0\n"
        "  subdir: linux-64\n"
        "- pypi: ./wheels/numpy-2.2.1-cp311-cp311-manylinux_2_17_x86_64.whl#sha256=" + "d" * 64
        + "\n  name: numpy\n"
        "  version: 2.2.1\n  sha256: " + "d" * 64 + "\n"
        "- pypi: git+https://ci:s3cret@github.com/acme/kit.git?branch=main#" + "b" * 40 + "\n"
        "  name: Acme_Kit\n  version: 0.3.0\n"
        "- pypi: https://download.pytorch.org/whl/cu126/torch-2.7.0%2Bcu126-cp311-cp311-"
        "manylinux_2_28_x86_64.whl\n  name: torch\n  version: 2.7.0+cu126\n  sha256: " + "c" * 64
        + "\n"))
    assert [(p.ecosystem, p.name, p.version, p.source, p.url) for p in lock.packages] == [
        ("conda", "tool", "1.2.0", "git+https://example.org/tool.git@" + "a" * 40, ""),
        ("conda", "vendored", "2.0.0", "path+../vendor/vendored", ""),
        ("pypi", "numpy", "2.2.1", "path+./wheels/numpy-2.2.1-cp311-cp311-manylinux_2_17_x86_64"
         ".whl", "./wheels/numpy-2.2.1-cp311-cp311-manylinux_2_17_x86_64.whl#sha256=" + "d" * 64),
        ("pypi", "acme-kit", "0.3.0", "git+https://github.com/acme/kit.git@" + "b" * 40, ""),
        ("pypi", "torch", "2.7.0+cu126", "url+https://download.pytorch.org/whl/cu126/"
         "torch-2.7.0%2Bcu126-cp311-cp311-manylinux_2_28_x86_64.whl",
         "https://download.pytorch.org/whl/cu126/torch-2.7.0%2Bcu126-cp311-cp311-"
         "manylinux_2_28_x86_64.whl")]
    # two commits of a conda package built from git are two AIBOM components, not one
    tool = lock.packages[0]
    assert package_purl("conda", tool.name, tool.version, tool.url, tool.build, tool.source) == (
        "pkg:conda/tool@1.2.0?build=h0_0&vcs_url=git%2Bhttps://example.org/tool.git%40"
        + "a" * 40)


def test_a_real_v7_environment_checks_and_a_tampered_one_does_not(tmp_path: Path) -> None:
    text = _v7().read_text()
    files = {**GOOD, "environments/serve.yaml": environment("serve", "environments/pixi.lock"),
             "environments/pixi.lock": text}
    make_repo(tmp_path / "good", Step("pixi", files))
    run = check(tmp_path / "good", "--format", "json")
    assert run.exit_code == 0, run.stdout + run.stderr
    files["environments/pixi.lock"] = text.replace("version: 7\n", "version: 8\n", 1)
    make_repo(tmp_path / "bad", Step("pixi", files))
    run = check(tmp_path / "bad")
    assert run.exit_code == 2
    assert run.stderr.strip() == ("govops: error: environments/pixi.lock:1: unsupported "
                                  "pixi.lock version 8 (govops reads versions 5, 6 and 7)")
