"""The installed `govops` console script as users and CI call it: exit codes, streams, files."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from engine.repo.scripted import Step
from tests.support.repos import NOW, make_repo
from tests.support.samples import GOOD, MODEL

GOVOPS = str(Path(sys.executable).with_name("govops"))


def _run(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k != "GOVOPS_POLICY_LIBRARY"}
    return subprocess.run([GOVOPS, *args], cwd=cwd, capture_output=True, text=True, env=env,
                          timeout=120, check=False)


def test_exit_codes_and_repo_defaults_to_the_current_directory(tmp_path: Path) -> None:
    root = tmp_path / "r"
    make_repo(root, Step("good", GOOD),
              Step("pickle", {"models/tiny.yaml": MODEL.replace("safetensors", "pickle")}))
    passing = _run("check", "--rev", "HEAD~1", "--now", NOW, cwd=root)
    assert passing.returncode == 0, passing.stdout + passing.stderr
    assert passing.stdout.splitlines()[-1].startswith("PASS ")
    failing = _run("check", "--now", NOW, "--format", "json", cwd=root)
    assert failing.returncode == 1
    assert json.loads(failing.stdout)["verdict"] == "fail"
    assert failing.stderr == ""
    usage = _run("check", "--format", "yaml", cwd=root)
    assert usage.returncode == 2


def test_output_file_holds_the_report_and_stdout_stays_empty(tmp_path: Path) -> None:
    root = tmp_path / "r"
    make_repo(root, Step("good", GOOD))
    out = tmp_path / "decision.json"
    run = _run("check", "--repo", str(root), "--now", NOW, "--format", "json", "--output",
               str(out), cwd=tmp_path)
    assert run.returncode == 0
    assert run.stdout == ""
    decision = json.loads(out.read_text())
    assert set(decision) >= {"decision_id", "verdict", "revision", "base", "engine",
                             "policy_digest", "results", "waived", "changes"}
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".decision")] == []


def test_regopy_compile_errors_print_exactly_one_line(tmp_path: Path) -> None:
    """rego-cpp writes compile errors to stdout from C++ unless told not to: check the real fds."""
    root = tmp_path / "r"
    make_repo(root, Step("bad policy", {
        **GOOD,
        "govops.yaml": "apiVersion: govops.dev/v1\nkind: Config\npolicies:\n  paths: [policies/]\n",
        "policies/local.rego": "package govops.policies.local\n\nimport rego.v1\n\nx := {1,, }\n"}))
    run = _run("check", "--engine", "regopy", cwd=root)
    assert run.returncode == 2
    assert run.stdout == ""
    assert run.stderr.count("\n") == 1
    assert run.stderr.startswith("govops: error: policies/local.rego:5: ")
