"""Governed repositories for tests: real git repositories built with pygit2 from fixtures."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

import pygit2

from engine.repo.scripted import Step, build_history, fixture_files

ROOT = Path(__file__).resolve().parents[2]
FIXTURES = ROOT / "fixtures"
NOW = "2026-11-20T12:00:00Z"
ENGINES = ("opa", "regopy")


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
