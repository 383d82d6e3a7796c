"""action.yml: the composite action's shape, and its check and comment steps run for real.

GitHub Actions itself cannot run here; the steps' scripts are plain bash that read only their
`env:`, so each is run with bash exactly as the runner would (same env names, GITHUB_OUTPUT and
GITHUB_STEP_SUMMARY files), against a governed repo and the GitHub API stand-in.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

from engine.repo.scripted import Step
from tests.support.approvals import approve_all
from tests.support.github_stub import STUB_TOKEN, GitHubStub, github_stub
from tests.support.repos import ROOT, fixture, make_repo

__all__ = ["github_stub"]  # the fixture, used by name

ACTION = yaml.safe_load((ROOT / "action.yml").read_text())
STEPS = {s.get("id") or s.get("name"): s for s in ACTION["runs"]["steps"]}
ENV_FILE = "environments/vllm-serve.yaml"
STACK = "stacks/prod-inference.yaml"
PINNED = "ghcr.io/acme/vllm@sha256:c0be114bf260e9f05643f4bd755a2cf35674646de21b424d86c2a5e489fe33c6"


def test_the_action_is_a_well_formed_composite() -> None:
    assert ACTION["runs"]["using"] == "composite"
    for step in ACTION["runs"]["steps"]:
        assert ("run" in step) != ("uses" in step), step
        if "run" in step:
            assert step["shell"] == "bash"
            # Scripts read their env only: no ${{ }} inside (injection-safe), except the
            # action's own path and the check step's exit code.
            for expression in re.findall(r"\$\{\{(.*?)\}\}", step["run"]):
                assert expression.strip() in ("github.action_path",
                                              "steps.check.outputs.exit-code"), expression
    text = (ROOT / "action.yml").read_text()
    used = set(re.findall(r"inputs\.([a-z-]+)", text))
    assert used <= set(ACTION["inputs"]), used - set(ACTION["inputs"])
    assert ACTION["outputs"]["exit-code"]["value"] == "${{ steps.check.outputs.exit-code }}"
    assert "check" in STEPS


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    """base: an unpinned image (ENV-002); head: also one chat replica (STK-004, new)."""
    files = fixture("acme-ml")
    env = files[ENV_FILE].decode().replace(PINNED, "ghcr.io/acme/vllm:latest")
    stack = files[STACK].decode().replace("      replicas: 3\n", "      replicas: 1\n", 1)
    make_repo(tmp_path / "repo", Step("base", {**files, ENV_FILE: env.encode()}),
              Step("head", {STACK: stack}))
    approve_all(tmp_path / "repo", tmp_path / "keys")
    return tmp_path / "repo"


def run_step(name: str, env: dict[str, str], cwd: Path) -> tuple[subprocess.CompletedProcess[str],
                                                                  dict[str, str]]:
    step: dict[str, Any] = STEPS[name]
    output, summary = cwd / "github-output", cwd / "step-summary"
    output.write_text("")
    summary.write_text("")
    full = {**{k: v for k, v in os.environ.items() if not k.startswith("GOVOPS_")},
            **env, "GITHUB_OUTPUT": str(output), "GITHUB_STEP_SUMMARY": str(summary),
            "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}"}
    done = subprocess.run(["bash", "-e", "-o", "pipefail", "-c", step["run"]], cwd=cwd,
                          env=full, capture_output=True, text=True, timeout=300)
    outputs = dict(line.split("=", 1) for line in output.read_text().splitlines() if line)
    return done, {**outputs, "summary": summary.read_text()}


def check_env(repo: Path, fail_on: str) -> dict[str, str]:
    return {"GOVOPS_BASE": "HEAD~1", "GOVOPS_HEAD": "HEAD", "GOVOPS_REPO": str(repo),
            "GOVOPS_FAIL_ON": fail_on}


def test_the_check_step_writes_sarif_summary_annotations_and_the_exit_code(
        repo: Path, tmp_path: Path) -> None:
    done, outputs = run_step("check", check_env(repo, "new"), tmp_path)
    assert done.returncode == 0, done.stderr  # the step records the code; Verdict exits
    assert outputs["exit-code"] == "1"
    assert (tmp_path / "govops.sarif").is_file()
    assert '"version": "2.1.0"' in (tmp_path / "govops.sarif").read_text()
    assert outputs["summary"].startswith("## ❌ govops check: FAIL")
    errors = [line for line in done.stdout.splitlines() if line.startswith("::error ")]
    assert len(errors) == 1 and "STK-004" in errors[0]  # --new-only: ENV-002 is inherited
    assert f"file={STACK},line=" in errors[0]


def test_fail_on_new_passes_a_change_that_only_inherits_failures(repo: Path,
                                                                 tmp_path: Path) -> None:
    env = {**check_env(repo, "new"), "GOVOPS_HEAD": "HEAD~1"}
    _, outputs = run_step("check", env, tmp_path)
    assert outputs["exit-code"] == "0"
    _, strict = run_step("check", {**env, "GOVOPS_FAIL_ON": "any"}, tmp_path)
    assert strict["exit-code"] == "1"


def test_the_comment_step_posts_through_the_api(repo: Path, tmp_path: Path,
                                                github_stub: GitHubStub) -> None:
    env = {"GITHUB_TOKEN": STUB_TOKEN, "GITHUB_API_URL": github_stub.url,
           "GITHUB_REPOSITORY": "acme/ml", "GOVOPS_BASE": "HEAD~1", "GOVOPS_HEAD": "HEAD",
           "GOVOPS_REPO": str(repo), "GOVOPS_PR": "3", "NO_PROXY": "127.0.0.1"}
    done, _ = run_step("Pull-request comment", env, tmp_path)
    assert done.returncode == 0, done.stderr
    [made] = github_stub.comments("acme/ml", 3)
    assert "STK-004" in made["body"]
    assert [r.method for r in github_stub.requests] == ["GET", "POST"]
