"""Pytest fixtures shared by every test module; the helpers themselves live in tests/support."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from engine.repo.scripted import Step
from tests.support.repos import fixture, make_repo
from tests.support.resident import OPA_BINARY, resident_env, stop_residents


@pytest.fixture(scope="session", autouse=True)
def resident_opa(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """The official OPA that `make tools` builds is the `opa` every test's resident servers
    run; they live in one private state folder of this session (never the user's own), idle
    out after 60 s, and are stopped, by PID, when the session ends."""
    state = tmp_path_factory.mktemp("govops-state")
    patch = pytest.MonkeyPatch()
    for name, value in resident_env(state).items():
        patch.setenv(name, value)
    try:
        yield OPA_BINARY
    finally:
        stop_residents()
        patch.undo()


@pytest.fixture
def acme(tmp_path: Path) -> Path:
    """fixtures/acme-ml committed once."""
    make_repo(tmp_path / "acme", Step("acme-ml", fixture("acme-ml")))
    return tmp_path / "acme"
