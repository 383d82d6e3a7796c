"""Pytest fixtures shared by every test module; the helpers themselves live in tests/support."""

from __future__ import annotations

from pathlib import Path

import pytest

from engine.repo.scripted import Step
from tests.support.repos import fixture, make_repo


@pytest.fixture
def acme(tmp_path: Path) -> Path:
    """fixtures/acme-ml committed once."""
    make_repo(tmp_path / "acme", Step("acme-ml", fixture("acme-ml")))
    return tmp_path / "acme"
