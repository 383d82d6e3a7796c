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


ENVIRONMENT = """apiVersion: govops.dev/v1
kind: Environment
metadata:
  name: env-{i}
spec:
  python: "3.11"
  image: ghcr.io/acme/serve@sha256:{digest}
  lockfile: {lockfile}
"""


def _with_environments(count: int, lockfile: str = "environments/env-{i}.txt"
                       ) -> dict[str, bytes]:
    """700 models and `count` Environments, each naming its own hashed lock file."""
    files = _models()
    for i in range(count):
        files[f"environments/env-{i}.yaml"] = ENVIRONMENT.format(
            i=i, digest="ab" * 32, lockfile=lockfile.format(i=i)).encode()
        files[f"environments/env-{i}.txt"] = (
            f"torch=={i}.0 --hash=sha256:{'cd' * 32}\nnumpy==1.{i} --hash=sha256:{'ef' * 32}\n"
            .encode())
    return files


def test_bad_and_missing_lock_files_are_reported_alike_forked_or_not(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    files = _with_environments(40)
    files["environments/env-7.txt"] = b"-e ./src\n"  # refused in a lock file
    files["environments/env-9.yaml"] = files["environments/env-9.yaml"].replace(
        b"env-9.txt", b"gone.txt")
    repo = tmp_path / "bad-locks"
    make_repo(repo, Step("environments", files))
    for jobs in ("2", "1"):
        monkeypatch.setenv("GOVOPS_JOBS", jobs)
        with pytest.raises(InputError) as caught:
            _cold_catalog(repo)
        lines = str(caught.value).splitlines()
        assert [line.split(":")[0] for line in lines] == [
            "environments/env-7.txt", "environments/env-9.yaml"], (jobs, lines)
