"""The hooks of .pre-commit-hooks.yaml through the real pre-commit framework.

`pre-commit try-repo <this checkout> <hook>` clones the project, builds a virtualenv, installs
govops into it with pip (as a user's pre-commit would), and runs the hook on what is staged in
a temporary governed repo. pip installs from the wheelhouse `make test` fills (.venv/wheelhouse)
with no index, so nothing leaves the machine. The embedded OPA cannot be installed in that
environment: with the official `opa` on PATH (what the README asks a developer to install
once) the hook is answered by a resident OPA server; without it, `--engine auto` falls back
to rego-cpp and says so.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from collections.abc import Iterator, Mapping
from pathlib import Path

import pytest

from engine.repo.scripted import Step
from tests.support.approvals import approve_all
from tests.support.repos import ROOT, fixture, make_repo
from tests.support.resident import OPA_BINARY, stop_residents

WHEELHOUSE = ROOT / ".venv" / "wheelhouse"
ENV_FILE = "environments/vllm-serve.yaml"
PINNED = "ghcr.io/acme/vllm@sha256:c0be114bf260e9f05643f4bd755a2cf35674646de21b424d86c2a5e489fe33c6"


@pytest.fixture(scope="module")
def hook_env(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, str]]:
    """An environment for pre-commit: its own cache (shared by this module's tests, so the
    hook environment is built once), pip offline on the wheelhouse, no govops overrides but
    a state folder of its own, whose govops daemons and OPA servers are stopped at the end."""
    assert (WHEELHOUSE / ".complete").is_file(), "run `make test`: it fills .venv/wheelhouse"
    home = tmp_path_factory.mktemp("pre-commit-home")
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("GOVOPS_", "PIP_", "VIRTUAL_ENV", "PYTHON"))}
    env.update({
        "PRE_COMMIT_HOME": str(home),
        "PIP_NO_INDEX": "1",
        "PIP_FIND_LINKS": str(WHEELHOUSE),
        "PIP_CONFIG_FILE": os.devnull,
        "PIP_DISABLE_PIP_VERSION_CHECK": "1",
        "PATH": f"{Path(sys.executable).parent}{os.pathsep}{env.get('PATH', '')}",
        "GOVOPS_STATE_DIR": str(home / "state"),
    })
    try:
        yield env
    finally:
        with pytest.MonkeyPatch.context() as patch:  # stop, by PID, what the hooks started
            patch.setenv("GOVOPS_STATE_DIR", env["GOVOPS_STATE_DIR"])
            stop_residents()


def git(repo: Path, *args: str) -> None:
    subprocess.run(["git", "-C", str(repo), *args], check=True, capture_output=True)


def try_repo(repo: Path, hook: str, env: Mapping[str, str]) -> subprocess.CompletedProcess[str]:
    pre_commit = shutil.which("pre-commit", path=str(Path(sys.executable).parent))
    assert pre_commit is not None, "pre-commit is a dev dependency (pyproject.toml)"
    return subprocess.run([pre_commit, "try-repo", str(ROOT), hook, "--verbose"], cwd=repo,
                          env=dict(env), capture_output=True, text=True, timeout=900)


@pytest.fixture
def governed(tmp_path: Path) -> Path:
    repo = tmp_path / "governed"
    make_repo(repo, Step("acme", fixture("acme-ml")))
    git(repo, "reset", "--hard", "--quiet")  # the work tree matches the commit
    approve_all(repo, tmp_path / "keys")  # pins its trust root in .git/govops, as a clone would
    return repo


def test_govops_check_blocks_a_violating_staged_change(governed: Path,
                                                       hook_env: dict[str, str]) -> None:
    env_file = governed / ENV_FILE
    env_file.write_text(env_file.read_text().replace(PINNED, "ghcr.io/acme/vllm:latest"))
    git(governed, "add", ENV_FILE)
    run = try_repo(governed, "govops-check", hook_env)
    out = run.stdout + run.stderr
    assert run.returncode == 1, out
    assert "govops check (staged changes)" in out and "Failed" in out
    assert "ENV-002" in out
    assert f"{ENV_FILE}:9" in out
    assert "engine regopy" in out  # no OPA in pre-commit's environment: auto fell back
    assert "govops: warning: regopy answered (regopy" in out
    assert "the last resort (resident OPA: no `opa` on PATH" in out


def test_with_opa_on_path_the_hook_is_answered_by_the_official_opa(
        governed: Path, hook_env: dict[str, str], tmp_path: Path) -> None:
    """The developer's one-time set-up: the official `opa` binary on PATH. The hook then
    starts (and next time reuses) a resident OPA server, and the decision is OPA's. (try-repo
    builds and removes a fresh hook environment per call, so the govops daemon one call starts
    cannot answer the next: tests/cli/test_daemon.py shows that part.)"""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    (bin_dir / "opa").symlink_to(OPA_BINARY)
    state = tmp_path / "state"
    env = {**hook_env, "PATH": f"{bin_dir}{os.pathsep}{hook_env['PATH']}",
           "GOVOPS_STATE_DIR": str(state)}
    env_file = governed / ENV_FILE
    env_file.write_text(env_file.read_text().replace(PINNED, "ghcr.io/acme/vllm:latest"))
    git(governed, "add", ENV_FILE)
    try:
        first = try_repo(governed, "govops-check", env)
        second = try_repo(governed, "govops-check", env)
        for run in (first, second):
            out = run.stdout + run.stderr
            assert run.returncode == 1, out
            assert "ENV-002" in out and f"{ENV_FILE}:9" in out
            assert "engine opa-server" in out, out
            assert "engine regopy" not in out and "govops: warning" not in out
        records = list(state.glob("opa/*/server.json"))
        assert len(records) == 1  # the second commit reused the first one's server
    finally:
        with pytest.MonkeyPatch.context() as patch:  # stop, by PID, what the hook started
            patch.setenv("GOVOPS_STATE_DIR", str(state))
            stop_residents()


def test_govops_check_passes_a_clean_staged_change(governed: Path,
                                                   hook_env: dict[str, str]) -> None:
    env_file = governed / ENV_FILE
    env_file.write_text(env_file.read_text().replace("OpenAI-compatible serving",
                                                     "OpenAI-compatible model serving"))
    git(governed, "add", ENV_FILE)
    run = try_repo(governed, "govops-check", hook_env)
    out = run.stdout + run.stderr
    assert run.returncode == 0, out
    assert "govops check (staged changes)" in out and "Passed" in out
    assert "PASS staged changes" in out


def test_an_unstaged_violation_is_not_what_the_hook_judges(governed: Path,
                                                           hook_env: dict[str, str]) -> None:
    """pre-commit stashes unstaged edits; the hook judges the index, which is clean here."""
    readme = governed / "README.md"
    readme.write_text(readme.read_text() + "\nA staged note.\n")
    git(governed, "add", "README.md")
    (governed / "models" / "extra.yaml").write_text("apiVersion: govops.dev/v1\nkind: Model\n")
    run = try_repo(governed, "govops-check", hook_env)
    out = run.stdout + run.stderr
    # README.md is not a governance file: the hook is skipped, not run on the broken model.
    assert run.returncode == 0, out
    assert "govops check (staged changes)" in out and "Skipped" in out


def test_govops_policy_test_runs_the_repos_own_tests(governed: Path,
                                                     hook_env: dict[str, str]) -> None:
    test_file = governed / "policies" / "acme_001_test.rego"
    text = test_file.read_text()
    test_file.write_text(text + "\n# a comment, still passing\n")
    git(governed, "add", "policies/acme_001_test.rego")
    run = try_repo(governed, "govops-policy-test", hook_env)
    out = run.stdout + run.stderr
    assert run.returncode == 0, out
    assert "regopy: 2 passed, 0 failed" in out

    broken = text.replace("test_allows_model_with_an_acme_owner if {",
                          "test_allows_model_with_an_acme_owner if {\n\tfalse")
    assert broken != text
    test_file.write_text(broken)
    git(governed, "add", "policies/acme_001_test.rego")
    run = try_repo(governed, "govops-policy-test", hook_env)
    out = run.stdout + run.stderr
    assert run.returncode == 1, out
    assert "FAIL  govops.policies.acme_001_test.test_allows_model_with_an_acme_owner" in out
