"""Lock files of every format through `govops check`: a corrupt one is exit 2 with one line
naming file:line; sound ones evaluate, ENV-001 and ENV-003 reading what each format locks."""

from __future__ import annotations

from pathlib import Path

import pytest

from engine.repo.scripted import Step
from tests.support.cli import assert_input_error, check
from tests.support.repos import ENGINES, FIXTURES, make_repo
from tests.support.samples import environment

SAMPLES = FIXTURES / "lockfiles"
CONFIG = "apiVersion: govops.dev/v1\nkind: Config\n"
H = "sha256:" + "a" * 64
CONDA = "https://conda.anaconda.org/conda-forge/linux-64"


def _repo(tmp_path: Path, lockfile: str, files: dict[str, str], *more: Step) -> Path:
    root = tmp_path / "repo"
    make_repo(root, Step("lock", {"govops.yaml": CONFIG,
                                  "environments/serve.yaml": environment("serve", lockfile),
                                  **files}), *more)
    return root


CORRUPT = {
    "requirements": ("environments/serve.txt", {
        "environments/serve.txt": f"numpy==2.1.0 --hash={H}\nvllm==0.7.0 --hash=sha256:abc\n",
    }, "environments/serve.txt:2: malformed --hash 'sha256:abc'"),
    "requirements include missing": ("environments/serve.txt", {
        "environments/serve.txt": f"numpy==2.1.0 --hash={H}\n-r base.txt\n",
    }, "environments/serve.txt:2: -r base.txt: environments/base.txt does not exist"),
    "requirements include cycle": ("environments/serve.txt", {
        "environments/serve.txt": "-r base.txt\n",
        "environments/base.txt": f"numpy==2.1.0 --hash={H}\n-r serve.txt\n",
    }, "environments/base.txt:2: -r serve.txt: include cycle"),
    "requirements included file corrupt": ("environments/serve.txt", {
        "environments/serve.txt": "-r base.txt\n",
        "environments/base.txt": "# pins\n\nnumpy=2.1.0\n",
    }, "environments/base.txt:3: invalid requirement"),
    "pylock": ("environments/pylock.serve.toml", {
        "environments/pylock.serve.toml": 'lock-version = "1.0"\n\n[[packages]]\nname = "x"\n'
                                          'version = 2\n',
    }, "environments/pylock.serve.toml:3: x: version must be a string"),
    "uv": ("environments/uv.lock", {
        "environments/uv.lock": 'version = 1\n\n[[package]]\nname = "numpy"\nversion = "2.1.0"\n'
                                'source = { registry = "https://pypi.org/simple" }\n'
                                'wheels = [{ url = "https://x/numpy.whl", hash = "sha256:x" }]\n',
    }, "environments/uv.lock:3: numpy: malformed hash 'sha256:x'"),
    "uv malformed TOML": ("environments/uv.lock", {
        "environments/uv.lock": 'version = 1\n\n[[package]]\nname = "numpy\n',
    }, "environments/uv.lock:4: malformed TOML"),
    "conda explicit .txt": ("environments/explicit.txt", {
        "environments/explicit.txt": f"# platform: linux-64\n@EXPLICIT\n"
                                     f"{CONDA}/numpy-1.26.4-py311h64a7726_0.conda#{'b' * 32}\n"
                                     "numpy=1.26.4\n",
    }, "environments/explicit.txt:4: not a package URL"),
    "conda-lock explicit": ("environments/conda-linux-64.lock", {
        "environments/conda-linux-64.lock": f"{CONDA}/numpy-1.26.4-py311h64a7726_0.conda\n",
    }, "environments/conda-linux-64.lock:1: not a conda explicit file"),
}


@pytest.mark.parametrize("case", sorted(CORRUPT))
def test_corrupt_lock_is_one_line_exit_2(tmp_path: Path, case: str) -> None:
    lockfile, files, expected = CORRUPT[case]
    root = _repo(tmp_path, lockfile, files)
    out = tmp_path / "report.json"
    run = check(root, "--format", "json", "--output", str(out))
    assert_input_error(run, expected, out)


def test_an_unknown_lock_format_names_the_file(tmp_path: Path) -> None:
    root = _repo(tmp_path, "environments/poetry.lock", {"environments/poetry.lock": "x\n"})
    run = check(root)
    assert run.exit_code == 2
    assert run.stderr.startswith("govops: error: environments/poetry.lock: unknown lock file "
                                 "format")


TORCH_CONDA = "https://conda.anaconda.org/pytorch/linux-64/torch-2.5.1-py3.11_cuda12.4_0.tar.bz2"


@pytest.mark.parametrize("engine", ENGINES)
def test_uv_and_conda_environments_evaluate(tmp_path: Path, engine: str) -> None:
    conda_text = (SAMPLES / "conda/explicit-linux-64.txt").read_text()
    root = tmp_path / "repo"
    make_repo(root, Step("locks", {
        "govops.yaml": CONFIG,
        "environments/serve-uv.yaml": environment("serve-uv", "environments/uv/uv.lock"),
        "environments/uv/uv.lock": (SAMPLES / "uv/uv.lock").read_text(),
        "environments/serve-conda.yaml": environment("serve-conda", "environments/conda.txt"),
        "environments/conda.txt": conda_text,
    }), Step("unhashed conda package", {
        "environments/conda.txt": conda_text + TORCH_CONDA + "\n",
    }))

    first = check(root, "--rev", "HEAD~1", "--format", "json", engine=engine)
    assert first.exit_code == 1, first.stderr
    results = first.json()["results"]
    env_001 = [(r["name"], r["file"], r["line"], r["package"])
               for r in results if r["id"] == "ENV-001"]
    # Only the git-sourced flash-attn is unhashed; the editable and virtual projects are skipped
    # and every conda package carries its md5.
    assert env_001 == [("serve-uv", "environments/uv/uv.lock", 52, "flash-attn")]
    env_003 = {(r["name"], r["package"]) for r in results if r["id"] == "ENV-003"}
    # conda pytorch 2.5.1 is PyPI torch 2.5.1 by govops' conda table (issue 18).
    assert env_003 == {("serve-uv", "torch"), ("serve-uv", "vllm"), ("serve-conda", "pytorch")}

    second = check(root, "--format", "json", engine=engine)
    assert second.exit_code == 1, second.stderr
    results = second.json()["results"]
    conda_001 = [(r["file"], r["line"], r["package"])
                 for r in results if r["id"] == "ENV-001" and r["name"] == "serve-conda"]
    assert conda_001 == [("environments/conda.txt", 20, "torch")]
    message = next(r["msg"] for r in results if r["id"] == "ENV-001" and r["name"] == "serve-conda")
    assert "has no hash" in message and "not pinned" not in message
    # A conda package named `torch` is not in govops' conda table: not assumed to be PyPI
    # torch (a wrong guess would report another project's flaws); `pytorch` is.
    assert {r["package"] for r in results
            if r["id"] == "ENV-003" and r["name"] == "serve-conda"} == {"pytorch"}


def test_a_hashed_pinned_conda_environment_fails_only_on_its_known_advisory(
        tmp_path: Path) -> None:
    """Every package hashed (sha256) and pinned: nothing for ENV-001; its pytorch 2.5.1 is
    PyPI torch 2.5.1 (govops' conda table), which the torch.load advisory affects."""
    root = _repo(tmp_path, "environments/conda-linux-aarch64.lock", {
        "environments/conda-linux-aarch64.lock":
            (SAMPLES / "conda/explicit-linux-aarch64-sha256.txt").read_text(),
    })
    run = check(root, "--format", "json")
    assert run.exit_code == 1, run.stdout + run.stderr
    assert [(r["id"], r["package"], r["version"], r["advisory"])
            for r in run.json()["results"]] == [("ENV-003", "pytorch", "2.5.1", "CVE-2025-32434")]
