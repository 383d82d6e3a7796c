"""The CLI for tests: run it in-process and check what it printed."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from click.testing import CliRunner

from engine.cli.main import main
from tests.support.repos import NOW


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


def invoke(command: Any, *args: str) -> Run:
    result = CliRunner().invoke(command, list(args), catch_exceptions=False)
    return Run(result.exit_code, result.stdout, result.stderr)


def one_error_line(run: Run) -> str:
    assert run.stdout == ""
    lines = run.stderr.strip().splitlines()
    assert len(lines) == 1, run.stderr
    assert lines[0].startswith("govops: error: ")
    return lines[0]
