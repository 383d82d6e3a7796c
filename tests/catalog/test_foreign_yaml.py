"""YAML that is not govops's but mentions `govops.dev/` (the labels of the manifests `govops
plan` writes) is ignored like any other YAML; committing plan's output broke `check` with
"unsupported apiVersion 'v1'". A govops file with a misspelt apiVersion is still refused."""

from __future__ import annotations

from pathlib import Path

from engine.repo.scripted import Step
from tests.support.cli import assert_input_error, check, govops
from tests.support.repos import fixture, make_repo, unwaived
from tests.support.samples import GOOD, MODEL


def test_committed_plan_output_is_not_read_as_govops_objects(tmp_path: Path) -> None:
    files = unwaived(fixture("acme-ml"))
    root = tmp_path / "repo"
    make_repo(root, Step("acme", files))
    before = check(root, "--format", "json")
    assert before.exit_code in (0, 1), before.stderr
    out = tmp_path / "manifests"
    planned = govops("plan", "--repo", str(root), "--stack", "prod-inference", "--engine", "opa",
                     "--output", str(out))
    assert planned.exit_code == 0, planned.stderr
    manifests = {f"deploy/prod-inference/{p.name}": p.read_bytes()
                 for p in sorted(out.glob("*.yaml"))}
    assert manifests and all(b"govops.dev/" in text for text in manifests.values())
    make_repo(root := tmp_path / "with-manifests", Step("acme", {**files, **manifests}))
    after = check(root, "--format", "json")
    assert after.exit_code == before.exit_code, after.stderr
    assert after.json()["objects"] == before.json()["objects"]


def test_a_govops_kind_with_another_api_version_is_still_refused(tmp_path: Path) -> None:
    """Only YAML whose apiVersion and kind are both someone else's is skipped: a Model that
    mentions govops.dev/ with a wrong apiVersion is a mistake in a govops file."""
    root = tmp_path / "repo"
    model = MODEL.replace("apiVersion: govops.dev/v1", "apiVersion: v1").replace(
        "  name: tiny\n", "  name: tiny\n  labels: {govops.dev/team: ml}\n")
    make_repo(root, Step("typo", {**GOOD, "models/tiny.yaml": model}))
    assert_input_error(check(root), "models/tiny.yaml:1: unsupported apiVersion 'v1'")


def test_a_stream_of_kubernetes_documents_is_not_read_as_govops_objects(
        tmp_path: Path) -> None:
    """Rendered manifests joined with `---` (kubectl's way), or a file of Gatekeeper
    constraints selecting govops.dev/ labels: several documents, none of them govops's."""
    out = tmp_path / "manifests"
    root = tmp_path / "repo"
    make_repo(root, Step("acme", unwaived(fixture("acme-ml"))))
    assert govops("plan", "--repo", str(root), "--stack", "prod-inference", "--engine", "opa",
                  "--output", str(out)).exit_code == 0
    stream = b"---\n".join(p.read_bytes() for p in sorted(out.glob("*.yaml")))
    assert stream.count(b"---\n") >= 5 and b"govops.dev/" in stream
    make_repo(root := tmp_path / "with-stream",
              Step("acme", {**GOOD, "deploy/all.yaml": stream}))
    assert check(root).exit_code == 0


def test_a_govops_file_with_a_second_document_is_still_refused(tmp_path: Path) -> None:
    root = tmp_path / "repo"
    stray = MODEL + "---\napiVersion: v1\nkind: ConfigMap\nmetadata: {name: x}\n"
    make_repo(root, Step("stray", {**GOOD, "models/tiny.yaml": stray}))
    line = MODEL.count("\n") + 2
    assert_input_error(check(root), f"models/tiny.yaml:{line}: one object per file: found a "
                       "second document")
