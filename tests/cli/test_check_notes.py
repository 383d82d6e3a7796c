"""What `govops check` says beside its verdict (issue 17): a plain check of a repository with
edits it does not evaluate says so and names them, an empty repository and a repository without
govops.yaml get a clear line instead of a git error or silence."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pygit2

from engine.repo.scripted import Step
from tests.support.cli import assert_input_error, check
from tests.support.repos import fixture, make_repo
from tests.support.samples import GOOD, MODEL

CHANGED = "govops: warning: {n} governed file{s} changed since HEAD and not evaluated ({paths})"


def _repo(tmp_path: Path, files: dict[str, str] = GOOD) -> Path:
    root = tmp_path / "repo"
    make_repo(root, Step("good", files))
    subprocess.run(["git", "-C", str(root), "reset", "--hard", "-q"], check=True)
    return root


def test_an_edited_model_is_named_when_head_is_what_was_checked(tmp_path: Path) -> None:
    root = _repo(tmp_path)
    (root / "models" / "tiny.yaml").write_text(MODEL.replace("MIT", "proprietary"))
    (root / "notes.md").write_text("not governed\n")
    run = check(root)
    assert run.exit_code == 0  # HEAD is fine: the verdict is about HEAD
    assert run.stderr.splitlines() == [CHANGED.format(n=1, s="", paths="models/tiny.yaml") +
                                       ": this checked HEAD; `govops check --staged` checks "
                                       "what is staged (git add the rest first)"]


def test_staged_and_untracked_governed_files_are_counted(tmp_path: Path) -> None:
    root = _repo(tmp_path)
    (root / "models" / "new.yaml").write_text(MODEL.replace("name: tiny", "name: new"))
    (root / "environments" / "serve.txt").write_text("numpy==2.1.1 --hash=sha256:" + "3" * 64)
    subprocess.run(["git", "-C", str(root), "add", "environments/serve.txt"], check=True)
    run = check(root)
    assert run.stderr.startswith(CHANGED.format(
        n=2, s="s", paths="environments/serve.txt, models/new.yaml"))


def test_staged_or_explicit_revisions_say_nothing_of_the_work_tree(tmp_path: Path) -> None:
    root = _repo(tmp_path)
    (root / "models" / "tiny.yaml").write_text(MODEL.replace("MIT", "Apache-2.0"))
    assert "not evaluated" not in check(root, "--staged").stderr
    assert "not evaluated" not in check(root, "--rev", "HEAD").stderr
    subprocess.run(["git", "-C", str(root), "checkout", "-q", "models/tiny.yaml"], check=True)
    assert check(root).stderr == ""  # a clean tree: nothing to say


def test_an_empty_repository_is_one_clear_line(tmp_path: Path) -> None:
    pygit2.init_repository(str(tmp_path / "empty"))
    assert_input_error(check(tmp_path / "empty"),
                       f"{tmp_path / 'empty'}: the repository has no commit yet: `govops check "
                       "--staged` checks what is staged, or commit first")


def test_a_repository_without_govops_yaml_is_told_so(tmp_path: Path) -> None:
    files = {k: v for k, v in GOOD.items() if k != "govops.yaml"}
    run = check(_repo(tmp_path, files))
    assert run.exit_code == 0
    assert "govops: warning: no govops.yaml in HEAD: this repository is not governed yet " \
           "(`govops init` makes it so)" in run.stderr


def test_a_waiver_targeting_no_object_is_named_with_a_suggestion(tmp_path: Path) -> None:
    """Issue 17: it was accepted without a word; it waives nothing now and would waive an
    object created later under that name."""
    waiver = ("apiVersion: govops.dev/v1\nkind: Waiver\nmetadata:\n  name: tiny-ok\nspec:\n"
              "  policy: MDL-002\n  target:\n    kind: Model\n    name: tinny\n"
              "  reason: a typo in the target\n  expires: 2027-01-15\n")
    root = _repo(tmp_path, {**GOOD, "waivers/tiny-ok.yaml": waiver})
    run = check(root)
    assert ("govops: warning: waivers/tiny-ok.yaml:9: waiver tiny-ok targets Model 'tinny', "
            "which this revision does not have (did you mean 'tiny'?)") in run.stderr.splitlines()
    fixed = _repo(tmp_path / "fixed", {**GOOD, "waivers/tiny-ok.yaml":
                                       waiver.replace("name: tinny", "name: tiny")})
    assert "does not have" not in check(fixed).stderr


def test_dangling_references_name_the_closest_object_with_file_and_line(tmp_path: Path) -> None:
    """Issue 17: `model: bge-m3-v2` and `gpu.type: nvidia-h100` had no suggestion."""
    files = fixture("acme-ml")
    stack = files["stacks/prod-inference.yaml"]
    assert b"model: llama-3-8b-instruct" in stack and b"type: nvidia-h100-80gb" in stack
    files["stacks/prod-inference.yaml"] = (
        stack.replace(b"model: llama-3-8b-instruct", b"model: llama-3-8b-instrct", 1)
        .replace(b"type: nvidia-h100-80gb", b"type: nvidia-h100", 1))
    root = tmp_path / "repo"
    make_repo(root, Step("typos", files))
    run = check(root, "--format", "json")
    assert run.exit_code == 1
    found = {(r["id"], r["file"], r["line"], r["msg"]) for r in json.loads(run.stdout)["results"]
             if r["id"] in {"STK-002", "STK-003"}}
    line = {text: n for n, text in enumerate(files["stacks/prod-inference.yaml"].decode()
                                           .splitlines(), start=1)}
    assert ("STK-002", "stacks/prod-inference.yaml", line["      model: llama-3-8b-instrct"],
            "Workload chat of stack prod-inference names model \"llama-3-8b-instrct\", but no "
            "Model of that name exists (did you mean \"llama-3-8b-instruct\"?).") in found
    assert ("STK-003", "stacks/prod-inference.yaml", line["    type: nvidia-h100"],
            "Stack prod-inference uses GPU type \"nvidia-h100\", which is not in "
            "data.govops.gpus (did you mean \"nvidia-h100-80gb\"?), so its workloads cannot be "
            "sized.") in found
