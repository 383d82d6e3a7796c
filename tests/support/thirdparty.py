"""Files third parties published, fetched at pinned digests by tools/fetch_samples.py (which
`make test` runs) into .cache/samples: tests read them where they are, never copies."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.support.repos import ROOT

SAMPLES = ROOT / ".cache" / "samples"


def sample(name: str, version: str) -> Path:
    """The folder of a fetched sample. A missing one fails the test (never skips it): the
    fetch is part of `make test`."""
    folder = SAMPLES / f"{name}-{version}"
    if not (folder / ".complete").exists():
        pytest.fail(f"{folder} is missing: run `python3 tools/fetch_samples.py` (make test does)")
    return folder
