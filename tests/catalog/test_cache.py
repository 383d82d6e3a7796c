"""Parsing is cached by git blob id: an unchanged file is never parsed twice, across runs."""

from __future__ import annotations

from pathlib import Path

import pytest

import engine.catalog.yamldoc as yamldoc
from engine.catalog import CatalogLoader, ParseCache
from engine.errors import InputError
from engine.repo import open_repo
from engine.repo.scripted import Step
from tests.support.repos import make_repo
from tests.support.samples import GOOD, MODEL


def _count_parses(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    parsed: list[str] = []
    real = yamldoc.parse_yaml

    def counting(path: str, data: bytes):  # type: ignore[no-untyped-def]
        parsed.append(path)
        return real(path, data)

    monkeypatch.setattr(yamldoc, "parse_yaml", counting)
    return parsed


def _load(root: Path, rev: str) -> None:
    repo = open_repo(root)
    cache = ParseCache(repo.git_dir / "govops" / "cache.sqlite")
    try:
        CatalogLoader(repo, cache).load(repo.snapshot(rev))
    finally:
        cache.close()


def test_unchanged_blobs_are_parsed_once_across_runs(tmp_path: Path,
                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    root = tmp_path / "r"
    make_repo(root, Step("one", GOOD),
              Step("two", {"models/tiny.yaml": MODEL.replace("MIT", "Apache-2.0")}))
    parsed = _count_parses(monkeypatch)
    _load(root, "HEAD~1")
    assert sorted(parsed) == ["environments/serve.yaml", "govops.yaml", "models/tiny.yaml"]
    parsed.clear()
    _load(root, "HEAD~1")
    assert parsed == []
    _load(root, "HEAD")
    assert parsed == ["models/tiny.yaml"]
    assert (root / ".git" / "govops" / "cache.sqlite").exists()


def test_cached_errors_are_reported_again_with_the_right_path(tmp_path: Path) -> None:
    root = tmp_path / "r"
    bad = "apiVersion: govops.dev/v1\napiVersion: x\n"
    make_repo(root, Step("bad", {**GOOD, "models/tiny.yaml": bad}))
    repo = open_repo(root)
    for _ in range(2):
        cache = ParseCache(repo.git_dir / "govops" / "cache.sqlite")
        with pytest.raises(InputError) as caught:
            CatalogLoader(repo, cache).load(repo.snapshot("HEAD"))
        cache.close()
        assert (caught.value.path, caught.value.line) == ("models/tiny.yaml", 2)


def test_an_unwritable_cache_only_costs_speed(tmp_path: Path) -> None:
    root = tmp_path / "r"
    make_repo(root, Step("one", GOOD))
    repo = open_repo(root)
    blocker = tmp_path / "file"
    blocker.write_text("not a directory")
    cache = ParseCache(blocker / "cache.sqlite")
    catalog = CatalogLoader(repo, cache).load(repo.snapshot("HEAD"))
    cache.close()
    assert catalog.count() == 2
