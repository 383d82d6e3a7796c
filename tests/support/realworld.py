"""Where the real lock files and advisory records of `../shared/realworld` are (SOURCES.md
there names each): read from there, never copied into the project. A clone may sit deeper
than the workspace's own checkout, so every parent of the repository is tried, after
GOVOPS_REALWORLD; none found fails the test that needs them, naming where it looked."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


def realworld_inputs() -> Path:
    configured = os.environ.get("GOVOPS_REALWORLD")
    candidates = [Path(configured)] if configured else []
    candidates += [parent / "shared" / "realworld" / "inputs" for parent in ROOT.parents]
    for candidate in candidates:
        if candidate.is_dir():
            return candidate
    pytest.fail("the real-world inputs (shared/realworld/inputs) are not beside this checkout "
                "nor above it; set GOVOPS_REALWORLD to that folder. Looked in: "
                + ", ".join(str(c) for c in candidates))
