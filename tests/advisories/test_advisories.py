from __future__ import annotations

import pytest

from engine.advisories.match import AdvisoryIndex, affects

TORCH = {
    "id": "CVE-2025-32434",
    "affected": [{"package": {"ecosystem": "PyPI", "name": "torch"},
                  "ranges": [{"type": "ECOSYSTEM",
                              "events": [{"introduced": "0"}, {"fixed": "2.6.0"}]}]}],
}
LAST = {
    "id": "X-1",
    "affected": [{"package": {"ecosystem": "PyPI", "name": "Some_Pkg"},
                  "ranges": [{"type": "ECOSYSTEM",
                              "events": [{"introduced": "1.2"}, {"last_affected": "1.4.0"}]}],
                  "versions": ["0.9-legacy"]}],
}


@pytest.mark.parametrize(("version", "hit"), [
    ("2.5.1", True), ("2.5.1+cu124", True), ("1.0", True), ("2.6.0rc1", True),
    ("2.6.0", False), ("2.6.0+cu124", False), ("2.7.1", False),
])
def test_fixed_ranges_use_pep440(version: str, hit: bool) -> None:
    assert affects(TORCH, "torch", version) is hit


@pytest.mark.parametrize(("version", "hit"), [
    ("1.1", False), ("1.2", True), ("1.4.0", True), ("1.4.0.post1", False), ("0.9-legacy", True),
])
def test_last_affected_and_explicit_versions(version: str, hit: bool) -> None:
    assert affects(LAST, "some-pkg", version) is hit


def test_index_matches_by_normalised_name_and_ignores_unpinned() -> None:
    index = AdvisoryIndex({"CVE-2025-32434": TORCH, "X-1": LAST})
    assert index.matches("torch", "2.5.1") == ["CVE-2025-32434"]
    assert index.matches("some-pkg", "1.3") == ["X-1"]
    assert index.matches("torch", None) == []
    assert index.matches("numpy", "1.0") == []
