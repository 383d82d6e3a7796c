"""A cold parse cache: misses are parsed on every core (engine.parallel) and the catalog, and
the first error by path, are what one process parsing them in order gives."""

from __future__ import annotations

from pathlib import Path

import pytest

from engine.catalog import load_catalog
from engine.errors import InputError
from engine.repo import open_repo
from engine.repo.scripted import Step
from engine.workdir import WorkDir
from tests.support.repos import make_repo
from tests.support.samples import MODEL

COUNT = 700  # above engine.parallel.MINIMUM per worker, so two cores fork


def _models(broken: tuple[int, ...] = ()) -> dict[str, bytes]:
    files = {"govops.yaml": b"apiVersion: govops.dev/v1\nkind: Config\n"}
    for i in range(COUNT):
        text = MODEL.replace("name: tiny", f"name: model-{i:04d}")
        if i in broken:
            text = text.replace("license: MIT", "license: [MIT")
        files[f"models/model-{i:04d}.yaml"] = text.encode()
    return files


def _cold_catalog(repo: Path) -> object:
    cache = WorkDir(repo / ".git").parse_cache
    cache.unlink(missing_ok=True)
    git = open_repo(repo)
    return load_catalog(git, git.snapshot("HEAD"))


def test_parallel_and_serial_parses_agree(tmp_path: Path, monkeypatch: pytest.MonkeyPatch
                                          ) -> None:
    repo = tmp_path / "many"
    make_repo(repo, Step("many models", _models()))
    monkeypatch.setenv("GOVOPS_JOBS", "2")
    forked = _cold_catalog(repo)
    monkeypatch.setenv("GOVOPS_JOBS", "1")
    serial = _cold_catalog(repo)
    assert forked == serial
    git = open_repo(repo)
    warm = load_catalog(git, git.snapshot("HEAD"))  # from the cache the forked parse filled
    assert warm == serial
    assert len(warm.objects["Model"]) == COUNT


@pytest.mark.parametrize("jobs", ["1", "2"])
def test_the_first_bad_file_by_path_is_the_error(tmp_path: Path, jobs: str,
                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    repo = tmp_path / "bad"
    make_repo(repo, Step("two broken models", _models(broken=(650, 123))))
    monkeypatch.setenv("GOVOPS_JOBS", jobs)
    with pytest.raises(InputError) as caught:
        _cold_catalog(repo)
    assert str(caught.value).startswith("models/model-0123.yaml:")
