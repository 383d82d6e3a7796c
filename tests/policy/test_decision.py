"""decision_id: content-derived, independent of backend, clock and machine."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

from engine.policy.decision import Decision, Result
from engine.repo import RevisionInfo
from engine.repo.scripted import Step
from tests.support.cli import check
from tests.support.repos import make_repo
from tests.support.samples import GOOD, MODEL

REV = RevisionInfo("a" * 40, "b" * 40, "A <a@acme.test>", "2026-11-02T10:00:00Z", "HEAD")
RESULT = Result("models/m.yaml", 7, "MDL-005", "Model", "m", "deny", "pickle", "spec.format")


def _decision(**changes: object) -> Decision:
    base = Decision(REV, None, "opa", "1", "sha256:p", "sha256:i", (RESULT,), (), (), 1)
    return replace(base, **changes)  # type: ignore[arg-type]


def test_decision_id_ignores_engine_version_ref_and_time() -> None:
    one = _decision()
    assert one.decision_id == _decision(engine="regopy", engine_version="2").decision_id
    assert one.decision_id == _decision(revision=replace(REV, ref="main",
                                                         time="2030-01-01T00:00:00Z")).decision_id


def test_decision_id_changes_with_what_was_decided() -> None:
    one = _decision().decision_id
    assert one != _decision(results=()).decision_id
    assert one != _decision(policy_digest="sha256:q").decision_id
    assert one != _decision(input_digest="sha256:j").decision_id
    assert one != _decision(revision=replace(REV, commit="c" * 40)).decision_id
    assert one != _decision(results=(replace(RESULT, line=8),)).decision_id


def test_same_revision_same_id_across_runs_and_clocks(tmp_path: Path) -> None:
    root = tmp_path / "r"
    make_repo(root, Step("m", {**GOOD, "models/tiny.yaml": MODEL.replace("safetensors", "pt")}))
    first = check(root, "--format", "json").json()
    again = check(root, "--format", "json", "--now", "2026-11-21T08:00:00Z").json()
    assert first["decision_id"] == again["decision_id"]
    assert first["decision_id"].startswith("sha256:") and len(first["decision_id"]) == 71
