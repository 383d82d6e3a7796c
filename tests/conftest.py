"""Shared test helpers: real git repositories built with pygit2 from fixtures, and the CLI."""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pygit2
import pytest
from click.testing import CliRunner

from engine.cli.main import main
from engine.repo.scripted import Step, build_history, fixture_files

ROOT = Path(__file__).resolve().parents[1]
FIXTURES = ROOT / "fixtures"
NOW = "2026-11-20T12:00:00Z"
ENGINES = ("opa", "regopy")


@dataclass(frozen=True)
class Run:
    exit_code: int
    stdout: str
    stderr: str

    def json(self) -> Any:
        return json.loads(self.stdout)


def govops(*args: str) -> Run:
    """Run the CLI in-process, the way the console script does."""
    result = CliRunner().invoke(main, list(args), catch_exceptions=False)
    return Run(result.exit_code, result.stdout, result.stderr)


def check(repo: Path, *args: str, engine: str = "opa") -> Run:
    return govops("check", "--repo", str(repo), "--engine", engine, "--now", NOW, *args)


def assert_input_error(run: Run, expected: str, out: Path | None = None) -> None:
    """Exit 2, nothing on stdout, one stderr line starting with `expected`, no output file."""
    assert run.exit_code == 2, run.stdout + run.stderr
    assert run.stdout == ""
    lines = run.stderr.strip().splitlines()
    assert len(lines) == 1, run.stderr
    assert lines[0].startswith("govops: error: " + expected), lines[0]
    assert out is None or not out.exists()


def fixture(name: str) -> dict[str, bytes]:
    return fixture_files(FIXTURES / name)


def make_repo(path: Path, *steps: Step) -> pygit2.Repository:
    return build_history(path, steps)


def with_changes(files: Mapping[str, bytes], **changes: str | bytes | None) -> dict[str, bytes]:
    """A copy of `files` with some replaced (None deletes); keys use '__' for '/'."""
    out = dict(files)
    for key, value in changes.items():
        path = key.replace("__", "/")
        if value is None:
            out.pop(path, None)
        else:
            out[path] = value.encode() if isinstance(value, str) else value
    return out


@pytest.fixture
def acme(tmp_path: Path) -> Path:
    """fixtures/acme-ml committed once."""
    make_repo(tmp_path / "acme", Step("acme-ml", fixture("acme-ml")))
    return tmp_path / "acme"
