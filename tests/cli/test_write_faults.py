"""Writes that fail: a full disk (ENOSPC), a file size limit (EFBIG) and a read-only `.git`
(EROFS) are one line naming the file, exit 2, and nothing partial: no report, no temporary
file, not one of attest's four files without the others, no ledger entry.

The faults are real where this machine allows: `ulimit -f` for EFBIG, and a private mount
namespace (`unshare -r -m`, as an unprivileged user namespace) holding a 16 KiB tmpfs for the
output folder or a read-only bind mount of `.git`. Where namespaces are not allowed, the same
errno is raised by the write itself in this process (stated in the test's id), so the
behaviour is still checked, never skipped.
"""

from __future__ import annotations

import errno
import os
import resource
import shlex
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from engine.ledger.store import Ledger
from engine.repo import open_repo
from engine.repo.scripted import Step
from tests.support.cli import Run, govops
from tests.support.ledger_worker import ROOT, environment
from tests.support.repos import NOW, fixture, make_repo
from tests.support.trust import trusted

GOVOPS = [sys.executable, "-c",
          "import sys; from engine.cli.main import run; sys.argv[0] = 'govops'; run()"]


def _namespaces() -> bool:
    return subprocess.run(["unshare", "-r", "-m", "true"], capture_output=True,
                          check=False).returncode == 0


NAMESPACES = _namespaces()


@pytest.fixture
def signed_repo(tmp_path: Path) -> tuple[Path, Path]:
    """acme-ml (which fails its policies, so reports are several KiB) trusting key `ci`."""
    assert govops("keygen", "--output", str(tmp_path / "ci")).exit_code == 0
    repo = tmp_path / "repo"
    make_repo(repo, Step("acme", fixture("acme-ml")))
    trusted(repo, tmp_path / "trust", tmp_path / "ci.pub")
    return repo, tmp_path / "ci.key"


def _confined(args: list[str], *, tmpfs: Path | None = None, read_only: Path | None = None,
              limit: int | None = None) -> Run:
    """`govops ARGS` in its own process: with a 16 KiB tmpfs mounted on `tmpfs`, `read_only`
    bind-mounted read-only (both in a private mount namespace), and/or a file size limit."""
    mounts = []
    if tmpfs is not None:
        mounts.append(f"mount -t tmpfs -o size=16k govops-test {shlex.quote(str(tmpfs))}")
    if read_only is not None:
        where = shlex.quote(str(read_only))
        mounts.append(f"mount --bind -o ro {where} {where}")
    command = shlex.join([*GOVOPS, *args])
    argv = (["unshare", "-r", "-m", "sh", "-c", " && ".join([*mounts, f"exec {command}"])]
            if mounts else [*GOVOPS, *args])

    def limited() -> None:
        if limit is not None:
            resource.setrlimit(resource.RLIMIT_FSIZE, (limit, limit))

    done = subprocess.run(argv, capture_output=True, text=True, preexec_fn=limited,
                          env={**environment(), "GOVOPS_DAEMON": "0"}, cwd=ROOT, check=False)
    return Run(done.returncode, done.stdout, done.stderr)


def _one_line(run: Run, expected: str) -> None:
    assert run.exit_code == 2, run.stdout + run.stderr
    lines = run.stderr.strip().splitlines()
    assert len(lines) == 1, run.stderr
    assert lines[0].startswith("govops: error: ") and expected in lines[0], lines[0]


def _in_process_fault(monkeypatch: pytest.MonkeyPatch, code: int, inside: Path) -> None:
    """Where namespaces are refused: every fsync of a file under `inside` fails with `code`,
    and so does every git object write (the read-only `.git` case)."""
    real_fsync = os.fsync

    def fsync(fd: Any) -> None:
        if os.readlink(f"/proc/self/fd/{fd}").startswith(str(inside)):
            raise OSError(code, os.strerror(code))
        real_fsync(fd)

    monkeypatch.setattr(os, "fsync", fsync)


def test_a_file_size_limit_while_writing_the_report(signed_repo: tuple[Path, Path],
                                                    tmp_path: Path) -> None:
    repo, _ = signed_repo
    out = tmp_path / "report.json"
    run = _confined(["check", "--repo", str(repo), "--engine", "opa", "--now", NOW,
                     "--format", "json", "--output", str(out)], limit=1024)
    _one_line(run, f"{out}: cannot write: File too large")
    assert list(tmp_path.glob("*report.json*")) == []


@pytest.mark.parametrize("way", ["tmpfs" if NAMESPACES else "in-process ENOSPC"])
def test_a_full_disk_while_writing_the_report(signed_repo: tuple[Path, Path], tmp_path: Path,
                                              monkeypatch: pytest.MonkeyPatch, way: str) -> None:
    repo, _ = signed_repo
    full = tmp_path / "full"
    full.mkdir()
    (full / "filler").write_bytes(b"")
    args = ["check", "--repo", str(repo), "--engine", "opa", "--now", NOW, "--format", "sarif",
            "--output", str(full / "report.sarif")]
    if way == "tmpfs":
        run = _confined(args, tmpfs=full)
    else:
        _in_process_fault(monkeypatch, errno.ENOSPC, full)
        run = govops(*args)
    _one_line(run, f"{full / 'report.sarif'}: cannot write: No space left on device")
    assert sorted(p.name for p in full.iterdir()) == ["filler"]


@pytest.mark.parametrize("way", ["tmpfs" if NAMESPACES else "in-process ENOSPC"])
def test_a_full_disk_while_attesting_writes_none_of_the_four_files(
        signed_repo: tuple[Path, Path], tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
        way: str) -> None:
    """16 KiB hold the first files but not all four: none may be left."""
    repo, key = signed_repo
    out = tmp_path / "out"
    out.mkdir()
    args = ["attest", "--repo", str(repo), "--key", str(key), "--output", str(out),
            "--now", NOW, "--engine", "opa", "--record"]
    if way == "tmpfs":
        run = _confined(args, tmpfs=out)
    else:
        _in_process_fault(monkeypatch, errno.ENOSPC, out)
        run = govops(*args)
    _one_line(run, "cannot write: No space left on device")
    assert list(out.iterdir()) == []
    assert Ledger(open_repo(repo)).entries() == []


@pytest.mark.parametrize("command", ["check", "attest"])
def test_a_read_only_git_folder_refuses_the_record_in_one_line(
        signed_repo: tuple[Path, Path], tmp_path: Path, command: str) -> None:
    if not NAMESPACES:  # root writes through any mode bits: only a mount is read-only
        pytest.fail("this machine refuses `unshare -r -m`: a read-only .git cannot be made")
    repo, key = signed_repo
    out = tmp_path / "out"
    args = [command, "--repo", str(repo), "--key", str(key), "--now", NOW, "--engine", "opa",
            "--record", *(["--output", str(out)] if command == "attest" else [])]
    run = _confined(args, read_only=repo / ".git")
    _one_line(run, f"{repo / '.git'}: cannot write to refs/govops/ledger: ")
    assert "Read-only file system" in run.stderr
    assert not out.exists() or list(out.iterdir()) == []
    assert Ledger(open_repo(repo)).entries() == []


@pytest.mark.parametrize("way", ["tmpfs" if NAMESPACES else "in-process ENOSPC"])
def test_a_full_disk_while_planning_or_initialising_leaves_nothing(
        signed_repo: tuple[Path, Path], tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
        way: str) -> None:
    """`plan --output` (one file per object) and `init` (a starter repository of 20 files)
    write all of their files or none."""
    repo, _ = signed_repo
    for name, args in (
            ("manifests", ["plan", "--repo", str(repo), "--stack", "prod-inference",
                           "--engine", "opa", "--output", str(tmp_path / "manifests")]),
            ("starter", ["init", "--no-input", str(tmp_path / "starter")])):
        folder = tmp_path / name
        folder.mkdir()
        if way == "tmpfs":
            run = _confined(args, tmpfs=folder)
        else:
            with monkeypatch.context() as patch:
                _in_process_fault(patch, errno.ENOSPC, folder)
                run = govops(*args)
        _one_line(run, "No space left on device")  # git's words for it, in init's case
        assert list(folder.iterdir()) == [], name
