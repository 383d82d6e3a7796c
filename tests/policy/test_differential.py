"""`check --base`: every result marked new or existing; `--new-only` keeps the new ones."""

from __future__ import annotations

from pathlib import Path

import pytest

from engine.repo.scripted import Step
from tests.support.cli import assert_input_error, check
from tests.support.repos import fixture, make_repo

ENV = "environments/vllm-serve.yaml"
STACK = "stacks/prod-inference.yaml"
PINNED = "image: ghcr.io/acme/vllm@sha256:c0be114bf260e9f05643f4bd755a2cf35674646de21b424d86c2a5e489fe33c6"


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    """c1: acme-ml with an unpinned image (ENV-002, inherited by c2).
    c2: two description lines pushed above the image (its line moves) and a production
    workload cut to one replica (STK-004: what c2 introduces)."""
    files = fixture("acme-ml")
    env = files[ENV].decode()
    assert PINNED in env
    unpinned = env.replace(PINNED, "image: ghcr.io/acme/vllm:latest")
    stack = files[STACK].decode()
    assert "      replicas: 3\n" in stack
    make_repo(tmp_path / "repo",
              Step("unpinned image", {**files, ENV: unpinned.encode()}),
              Step("one chat replica, longer description", {
                  ENV: unpinned.replace("  python:", "  # built nightly\n  # by ci\n  python:"),
                  STACK: stack.replace("      replicas: 3\n", "      replicas: 1\n", 1)}))
    return tmp_path / "repo"


def _denies(run_json: dict[str, object]) -> dict[str, tuple[str, int, str | None]]:
    results = run_json["results"]
    assert isinstance(results, list)
    return {r["id"]: (r["file"], r["line"], r.get("status"))
            for r in results if r["severity"] == "deny"}


def test_results_are_marked_new_or_existing_against_the_base(repo: Path) -> None:
    run = check(repo, "--base", "HEAD~1", "--format", "json")
    assert run.exit_code == 1
    denies = _denies(run.json())
    assert denies["STK-004"][2] == "new" and denies["STK-004"][0] == STACK
    file, line, status = denies["ENV-002"]
    assert (file, status) == (ENV, "existing")
    assert line == 11  # moved by two lines, still the same failure
    assert all(r["status"] in ("new", "existing") for r in run.json()["results"])
    assert all(w["status"] in ("new", "existing") for w in run.json()["waived"])


def test_without_base_nothing_is_marked(repo: Path) -> None:
    run = check(repo, "--format", "json")
    assert run.exit_code == 1
    assert all("status" not in r for r in run.json()["results"])


def test_new_only_keeps_what_the_change_introduces(repo: Path) -> None:
    run = check(repo, "--base", "HEAD~1", "--new-only", "--format", "json")
    assert run.exit_code == 1
    assert set(_denies(run.json())) == {"STK-004"}
    assert {r["status"] for r in run.json()["results"]} == {"new"}
    assert run.json()["verdict"] == "fail"


def test_new_only_passes_a_change_that_only_inherits_failures(repo: Path) -> None:
    """HEAD~1 against itself: ENV-002 fails, but nothing is new, so the verdict is pass."""
    full = check(repo, "--rev", "HEAD~1", "--base", "HEAD~1", "--format", "json")
    assert full.exit_code == 1 and "ENV-002" in _denies(full.json())
    run = check(repo, "--rev", "HEAD~1", "--base", "HEAD~1", "--new-only", "--format", "json")
    assert run.exit_code == 0, run.stdout
    assert run.json()["results"] == [] and run.json()["verdict"] == "pass"


def test_a_fixed_failure_is_simply_gone(repo: Path) -> None:
    """The reverse direction: against HEAD, HEAD~1 fixes STK-004 and keeps ENV-002."""
    run = check(repo, "--rev", "HEAD~1", "--base", "HEAD", "--format", "json")
    denies = _denies(run.json())
    assert "STK-004" not in denies and denies["ENV-002"][2] == "existing"


def test_new_only_needs_a_base(repo: Path) -> None:
    assert_input_error(check(repo, "--new-only"), "--new-only keeps the results a change "
                       "introduces: it needs --base")


def test_new_only_cannot_be_recorded(repo: Path, tmp_path: Path) -> None:
    key = tmp_path / "k.key"
    key.write_text("not used: refused before any signing\n")
    assert_input_error(check(repo, "--base", "HEAD~1", "--new-only", "--record", "--key",
                             str(key)),
                       "--record signs the whole decision: drop --new-only")
