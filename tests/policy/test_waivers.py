"""Waivers are applied by the engine: valid ones move results to `waived`; expired or too-long
ones waive nothing and WVR-001 reports them. "Added" is the commit that added the file."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from engine.repo.scripted import Step, stage
from tests.support.cli import check
from tests.support.repos import ENGINES, make_repo
from tests.support.samples import GOOD, LLAMA


def waiver(expires: str, reason: str = "Legal approved LEGAL-123",
           approved: str = "[alice@acme.test]") -> str:
    return ("apiVersion: govops.dev/v1\nkind: Waiver\nmetadata:\n  name: llama-ok\nspec:\n"
            "  policy: MDL-002\n  target:\n    kind: Model\n    name: llama\n"
            f"  reason: {reason}\n  approvedBy: {approved}\n  expires: {expires}\n")


def _repo(tmp_path: Path, *steps: Step) -> Path:
    root = tmp_path / "r"
    make_repo(root, Step("base", {**GOOD, "models/llama.yaml": LLAMA}, time="2026-11-01T09:00:00Z"),
              *steps)
    return root


def _ids(decision: dict[str, Any]) -> list[tuple[str, str]]:
    return sorted((r["id"], r["name"]) for r in decision["results"])


@pytest.mark.parametrize("engine", ENGINES)
def test_valid_waiver_moves_the_result_into_waived(tmp_path: Path, engine: str) -> None:
    root = _repo(tmp_path, Step("waive", {"waivers/llama.yaml": waiver("2027-01-15")},
                                time="2026-11-02T10:00:00Z"))
    run = check(root, "--format", "json", engine=engine)
    assert run.exit_code == 0, run.stdout
    decision = run.json()
    assert _ids(decision) == []
    assert [(w["id"], w["name"], w["waiver"], w["file"], w["line"]) for w in decision["waived"]] \
        == [("MDL-002", "llama", "llama-ok", "models/llama.yaml", 10)]


def test_without_the_waiver_the_result_denies(tmp_path: Path) -> None:
    run = check(_repo(tmp_path), "--format", "json")
    assert run.exit_code == 1
    assert _ids(run.json()) == [("MDL-002", "llama")]


@pytest.mark.parametrize("engine", ENGINES)
def test_expired_waiver_waives_nothing_and_is_reported(tmp_path: Path, engine: str) -> None:
    root = _repo(tmp_path, Step("waive", {"waivers/llama.yaml": waiver("2026-11-19")},
                                time="2026-11-02T10:00:00Z"))
    run = check(root, "--format", "json", engine=engine)
    assert run.exit_code == 1
    decision = run.json()
    assert decision["waived"] == []
    assert _ids(decision) == [("MDL-002", "llama"), ("WVR-001", "llama-ok")]
    wvr = next(r for r in decision["results"] if r["id"] == "WVR-001")
    assert (wvr["file"], wvr["line"], wvr["field"]) == ("waivers/llama.yaml", 12, "spec.expires")
    assert "2026-11-19" in wvr["msg"]
    # The day it expires it still counts; the day after it does not.
    still = check(root, "--format", "json", "--now", "2026-11-19T23:00:00Z", engine=engine)
    assert still.exit_code == 0, still.stdout


def test_waiver_longer_than_90_days_from_its_commit_fails(tmp_path: Path) -> None:
    # Added 2026-11-02; 2027-01-31 is 90 days later (allowed), 2027-02-01 is 91 (refused).
    ok = _repo(tmp_path / "ok", Step("waive", {"waivers/llama.yaml": waiver("2027-01-31")},
                                     time="2026-11-02T10:00:00Z"))
    assert check(ok, "--format", "json").exit_code == 0
    long = _repo(tmp_path / "long", Step("waive", {"waivers/llama.yaml": waiver("2027-02-01")},
                                         time="2026-11-02T10:00:00Z"))
    run = check(long, "--format", "json")
    assert run.exit_code == 1
    assert _ids(run.json()) == [("MDL-002", "llama"), ("WVR-001", "llama-ok")]
    assert run.json()["waived"] == []


def test_editing_a_waiver_later_does_not_restart_its_clock(tmp_path: Path) -> None:
    """Added on 2026-11-02; pushing the expiry out on 2026-11-19 is judged from 2026-11-02."""
    root = _repo(tmp_path,
                 Step("waive", {"waivers/llama.yaml": waiver("2027-01-15")},
                      time="2026-11-02T10:00:00Z"),
                 Step("extend", {"waivers/llama.yaml": waiver("2027-02-10")},
                      time="2026-11-19T10:00:00Z"))
    run = check(root, "--format", "json")
    assert run.exit_code == 1
    assert ("WVR-001", "llama-ok") in _ids(run.json())


@pytest.mark.parametrize(("reason", "approved", "field"), [
    ("''", "[alice@acme.test]", "spec.reason"),
    ("Legal approved", "[]", "spec.approvedBy"),
])
def test_waiver_needs_a_reason_and_an_approver(tmp_path: Path, reason: str, approved: str,
                                               field: str) -> None:
    root = _repo(tmp_path, Step("waive", {"waivers/llama.yaml": waiver("2027-01-15", reason,
                                                                         approved)},
                                time="2026-11-02T10:00:00Z"))
    decision = check(root, "--format", "json").json()
    assert decision["waived"] == []
    assert [r["field"] for r in decision["results"] if r["id"] == "WVR-001"] == [field]


def test_staged_waiver_counts_from_now(tmp_path: Path) -> None:
    import pygit2

    root = _repo(tmp_path)
    stage(pygit2.Repository(str(root)), write={"waivers/llama.yaml": waiver("2027-02-15")})
    # 2027-02-15 is 87 days after the evaluation day 2026-11-20: fine for a waiver added today.
    run = check(root, "--staged", "--format", "json")
    assert run.exit_code == 0, run.stdout
    assert [w["waiver"] for w in run.json()["waived"]] == ["llama-ok"]
