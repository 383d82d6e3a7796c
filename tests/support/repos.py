"""Governed repositories for tests: real git repositories built with pygit2 from fixtures."""

from __future__ import annotations

from pathlib import Path

import pygit2

from engine.repo.scripted import Step, build_history, fixture_files

ROOT = Path(__file__).resolve().parents[2]
FIXTURES = ROOT / "fixtures"
NOW = "2026-11-20T12:00:00Z"
ENGINES = ("opa", "regopy", "opa-server")


def fixture(name: str) -> dict[str, bytes]:
    return fixture_files(FIXTURES / name)


def unwaived(files: dict[str, bytes]) -> dict[str, bytes]:
    """acme-ml's files with its license waiver replaced by allowing the license in govops.yaml:
    for tests about something else (the ledger, deployment), which then need no approvals."""
    config = files["govops.yaml"].replace(
        b"  data: {}", b"  data: {allowedLicenses: [Apache-2.0, MIT, BSD-3-Clause, llama3]}")
    assert config != files["govops.yaml"]
    return {**{k: v for k, v in files.items() if not k.startswith("waivers/")},
            "govops.yaml": config}


def make_repo(path: Path, *steps: Step) -> pygit2.Repository:
    return build_history(path, steps)
