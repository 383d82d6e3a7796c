"""`-r FILE` includes of pip requirements locks, resolved in the same git revision: merged in
pip's order, each file parsed once through the cache, and every way an include can be wrong
named at the including file's `-r` line."""

from __future__ import annotations

from pathlib import Path

import pytest

import engine.catalog.load as load_module
from engine.advisories.match import AdvisoryIndex
from engine.catalog import Catalog, CatalogLoader, ParseCache
from engine.errors import InputError
from engine.policy.input import build_input, input_digest
from engine.repo import open_repo
from engine.repo.scripted import Step
from tests.support.cli import check
from tests.support.repos import FIXTURES, NOW, make_repo
from tests.support.samples import environment

SAMPLES = FIXTURES / "lockfiles"
CONFIG = "apiVersion: govops.dev/v1\nkind: Config\n"


def hashed(name: str, version: str = "1.0", digit: str = "a") -> str:
    return f"{name}=={version} --hash=sha256:{digit * 64}\n"


def _repo(tmp_path: Path, files: dict[str, str], *more: Step,
          symlinks: dict[str, str] | None = None) -> Path:
    root = tmp_path / "repo"
    make_repo(root, Step("lock", {"govops.yaml": CONFIG,
                                  "environments/serve.yaml": environment(
                                      "serve", "environments/serve.txt"),
                                  **files}, symlinks=symlinks or {}), *more)
    return root


def _load(root: Path, cache: ParseCache | None = None, rev: str = "HEAD") -> Catalog:
    repo = open_repo(root)
    return CatalogLoader(repo, cache or ParseCache(None)).load(repo.snapshot(rev))


def _error(root: Path) -> InputError:
    with pytest.raises(InputError) as caught:
        _load(root)
    return caught.value


def test_sample_include_is_merged_at_its_line_with_the_included_path(tmp_path: Path) -> None:
    root = _repo(tmp_path, {
        "environments/serve.txt": (SAMPLES / "requirements/serve.txt").read_text(),
        "environments/base.txt": (SAMPLES / "requirements/base.txt").read_text(),
    })
    lock = _load(root).locks["serve"]
    assert [(p.name, p.path, p.line) for p in lock.lock.packages] == [
        ("filelock", "environments/base.txt", 8),
        ("numpy", "environments/base.txt", 12),
        ("safetensors", "environments/base.txt", 19),
        ("typing-extensions", "environments/base.txt", 23),
        ("torch", "", 9),
        ("uvicorn", "", 13),
        ("vllm", "", 17),
        ("xformers", "", 21),
    ]
    assert lock.lock.format == "requirements"
    assert lock.lock.includes == ((8, "base.txt"),)
    repo = open_repo(root)
    base_oid = repo.snapshot("HEAD").files["environments/base.txt"].oid
    assert lock.included == (("environments/base.txt", base_oid),)
    assert lock.oids == (lock.oid, base_oid)


def test_nested_includes_resolve_relative_to_each_including_file(tmp_path: Path) -> None:
    root = _repo(tmp_path, {
        "environments/serve.txt": hashed("vllm") + "-r ../common/base.txt\n" + hashed("uvicorn"),
        "common/base.txt": "# shared\n" + hashed("numpy") + "--requirement=cuda/pins.txt\n",
        "common/cuda/pins.txt": hashed("nvidia-cuda-runtime-cu12", "12.4.127"),
    })
    lock = _load(root).locks["serve"]
    assert [(p.name, p.path, p.line) for p in lock.lock.packages] == [
        ("vllm", "", 1),
        ("numpy", "common/base.txt", 2),
        ("nvidia-cuda-runtime-cu12", "common/cuda/pins.txt", 1),
        ("uvicorn", "", 3),
    ]
    assert [path for path, _ in lock.included] == ["common/base.txt", "common/cuda/pins.txt"]


def test_a_file_included_twice_is_read_once(tmp_path: Path) -> None:
    root = _repo(tmp_path, {
        "environments/serve.txt": "-r a.txt\n-r b.txt\n-r a.txt\n",
        "environments/a.txt": hashed("alpha") + "-r base.txt\n",
        "environments/b.txt": "-r base.txt\n" + hashed("beta"),
        "environments/base.txt": hashed("numpy"),
    })
    lock = _load(root).locks["serve"]
    assert [(p.name, p.path) for p in lock.lock.packages] == [
        ("alpha", "environments/a.txt"), ("numpy", "environments/base.txt"),
        ("beta", "environments/b.txt")]
    assert [path for path, _ in lock.included] == [
        "environments/a.txt", "environments/base.txt", "environments/b.txt"]


def test_a_lock_without_includes_is_shared_as_parsed(tmp_path: Path) -> None:
    root = _repo(tmp_path, {"environments/serve.txt": hashed("numpy")})
    lock = _load(root).locks["serve"]
    assert lock.included == ()
    assert lock.oids == (lock.oid,)
    assert lock.lock.packages[0].path == ""


@pytest.mark.parametrize(("files", "symlinks", "where", "fragment"), [
    ({"environments/serve.txt": hashed("numpy") + "-r gone.txt\n"}, {},
     ("environments/serve.txt", 2), "-r gone.txt: environments/gone.txt does not exist in "
                                    "revision HEAD"),
    ({"environments/serve.txt": "-r ../../outside.txt\n"}, {},
     ("environments/serve.txt", 1), "must be inside the repository"),
    ({"environments/serve.txt": "\n-r /etc/pip/base.txt\n"}, {},
     ("environments/serve.txt", 2), "must be inside the repository"),
    ({"environments/serve.txt": "-r base.txt\n", "environments/real.txt": hashed("numpy")},
     {"environments/base.txt": "real.txt"},
     ("environments/serve.txt", 1), "environments/base.txt is a symlink"),
    ({"environments/serve.txt": hashed("numpy") + "-r serve.txt\n"}, {},
     ("environments/serve.txt", 2),
     "include cycle environments/serve.txt -> environments/serve.txt"),
    ({"environments/serve.txt": "-r a.txt\n", "environments/a.txt": "-r b.txt\n",
      "environments/b.txt": hashed("numpy") + "\n-r a.txt\n"}, {},
     ("environments/b.txt", 3),
     "include cycle environments/a.txt -> environments/b.txt -> environments/a.txt"),
    ({"environments/serve.txt": "-r base.txt\n",
      "environments/base.txt": hashed("numpy") + "numpy==1.0 --hash=sha256:abc\n"}, {},
     ("environments/base.txt", 2), "malformed --hash"),
    ({"environments/serve.txt": "-r base.txt\n",
      "environments/base.txt": "-r ../gone.txt\n"}, {},
     ("environments/base.txt", 1), "-r ../gone.txt: gone.txt does not exist"),
])
def test_include_errors_name_the_including_file_and_line(
        tmp_path: Path, files: dict[str, str], symlinks: dict[str, str],
        where: tuple[str, int], fragment: str) -> None:
    error = _error(_repo(tmp_path, files, symlinks=symlinks))
    assert (error.path, error.line) == where, error
    assert fragment in error.message, error.message


def test_included_files_are_parsed_once_per_blob_through_the_cache(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    root = _repo(tmp_path, {
        "environments/serve.txt": "-r base.txt\n" + hashed("vllm"),
        "environments/base.txt": hashed("numpy") + "-r more.txt\n",
        "environments/more.txt": hashed("uvicorn"),
    })
    cache_path = tmp_path / "cache.sqlite"
    cache = ParseCache(cache_path)
    first = _load(root, cache).locks["serve"]
    cache.close()

    def refuse(path: str, text: str) -> None:
        raise AssertionError(f"{path} parsed again")

    monkeypatch.setattr(load_module, "parse_requirements_file", refuse)
    monkeypatch.setattr(load_module, "parse_lockfile", refuse)
    cache = ParseCache(cache_path)
    again = _load(root, cache).locks["serve"]
    cache.close()
    assert again == first
    assert [p.name for p in again.lock.packages] == ["numpy", "uvicorn", "vllm"]


def test_a_cached_error_in_an_included_file_is_raised_again(tmp_path: Path) -> None:
    root = _repo(tmp_path, {"environments/serve.txt": "-r base.txt\n",
                            "environments/base.txt": "\nnot a requirement!!\n"})
    cache_path = tmp_path / "cache.sqlite"
    for _ in range(2):
        cache = ParseCache(cache_path)
        with pytest.raises(InputError) as caught:
            _load(root, cache)
        cache.close()
        assert (caught.value.path, caught.value.line) == ("environments/base.txt", 2)


def test_the_same_include_in_two_environments_is_resolved_for_each(tmp_path: Path) -> None:
    root = _repo(tmp_path, {
        "environments/serve.txt": "-r base.txt\n" + hashed("vllm"),
        "environments/train.yaml": environment("train", "environments/train/train.txt"),
        "environments/train/train.txt": "-r ../base.txt\n" + hashed("deepspeed"),
        "environments/base.txt": hashed("numpy"),
    })
    locks = _load(root).locks
    assert [(p.name, p.path) for p in locks["train"].lock.packages] == [
        ("numpy", "environments/base.txt"), ("deepspeed", "")]
    assert locks["serve"].included == locks["train"].included


# -- through `govops check`: results point into the included file; the digest covers it ------

def test_env_001_result_points_at_the_included_file_and_line(tmp_path: Path) -> None:
    root = _repo(tmp_path, {
        "environments/serve.txt": "-r base.txt\n" + hashed("vllm", "0.7.0") + "flask==3.0.3\n",
        "environments/base.txt": hashed("numpy") + "# unhashed:\nrequests==2.32.3\n",
    })
    run = check(root, "--format", "json")
    assert run.exit_code == 1, run.stderr
    env_001 = [r for r in run.json()["results"] if r["id"] == "ENV-001"]
    assert sorted((r["file"], r["line"], r["package"]) for r in env_001) == [
        ("environments/base.txt", 3, "requests"), ("environments/serve.txt", 3, "flask")]


def test_env_001_passes_when_every_included_package_is_hashed(tmp_path: Path) -> None:
    root = _repo(tmp_path, {
        "environments/serve.txt": "-r base.txt\n" + hashed("vllm", "0.7.0"),
        "environments/base.txt": hashed("numpy"),
    })
    run = check(root, "--format", "json")
    assert run.exit_code == 0, run.stdout + run.stderr
    assert [r for r in run.json()["results"] if r["id"] == "ENV-001"] == []


def test_input_digest_covers_included_files(tmp_path: Path) -> None:
    """The digest names packages by blob ids: with only the included file changed, the same
    document must digest differently against the two catalogs."""
    root = _repo(tmp_path, {
        "environments/serve.txt": "-r base.txt\n" + hashed("vllm", "0.7.0"),
        "environments/base.txt": hashed("numpy", digit="a"),
    }, Step("rehash base", {"environments/base.txt": hashed("numpy", digit="b")}))
    before, after = _load(root, rev="HEAD~1"), _load(root, rev="HEAD")
    assert before.locks["serve"].oid == after.locks["serve"].oid
    info = open_repo(root).snapshot("HEAD").info
    document = build_input(before, info, None, [], {}, AdvisoryIndex({}), NOW)
    assert input_digest(document, before) != input_digest(document, after)
    assert input_digest(document, before) == input_digest(document, _load(root, rev="HEAD~1"))
