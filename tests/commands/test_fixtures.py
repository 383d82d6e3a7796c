"""The fixtures end to end: acme-ml passes, the violating repo reports every policy id at the
line that carries its `# expect:` marker, and both backends decide identically."""

from __future__ import annotations

import datetime as dt
import re
from pathlib import Path
from typing import Any

import pygit2
import pytest

from engine.commands.demo import build_demo_repo
from engine.repo.scripted import Step, stage
from tests.support.approvals import approve_all
from tests.support.cli import check
from tests.support.repos import ENGINES, fixture, make_repo
from tests.support.samples import ALL_IDS

RETIRED = "models/retired-model.yaml"
_EXPECT = re.compile(r"#\s*expect:\s*([A-Z0-9-]+(?:\s*,\s*[A-Z0-9-]+)*)")


def expectations(files: dict[str, bytes]) -> dict[tuple[str, int], set[str]]:
    found: dict[tuple[str, int], set[str]] = {}
    for path, data in files.items():
        for number, line in enumerate(data.decode().splitlines(), start=1):
            match = _EXPECT.search(line)
            if match:
                found[(path, number)] = {i.strip() for i in match.group(1).split(",")}
    return found


@pytest.fixture
def violations(tmp_path: Path) -> Path:
    root = tmp_path / "violations"
    make_repo(root, Step("everything wrong", fixture("violations")),
              Step("retire a model a stack still uses", delete=[RETIRED]))
    return root


def _located(results: list[dict[str, Any]]) -> dict[tuple[str, int], set[str]]:
    out: dict[tuple[str, int], set[str]] = {}
    for r in results:
        out.setdefault((r["file"], r["line"]), set()).add(r["id"])
    return out


@pytest.mark.parametrize("engine", ENGINES)
def test_violations_report_every_policy_at_its_line(violations: Path, engine: str) -> None:
    run = check(violations, "--base", "HEAD~1", "--format", "json", engine=engine)
    assert run.exit_code == 1, run.stderr
    decision = run.json()
    results = decision["results"] + decision["waived"]
    assert {r["id"] for r in decision["results"]} >= ALL_IDS
    files = fixture("violations")
    del files[RETIRED]
    expected = expectations(files)
    located = _located(results)
    unexpected = {k: v - expected.get(k, set()) for k, v in located.items()
                  if v - expected.get(k, set())}
    missing = {k: v - located.get(k, set()) for k, v in expected.items()
               if v - located.get(k, set())}
    assert unexpected == {}, "results on lines without a matching # expect: marker"
    assert missing == {}, "# expect: markers no result landed on"
    for r in results:
        assert r["severity"] in ("deny", "warn")
        assert r["msg"] and r["kind"] and r["name"]


def test_lock_file_results_point_at_the_package_line(violations: Path) -> None:
    decision = check(violations, "--format", "json").json()
    lock_results = [r for r in decision["results"] if r["id"] in ("ENV-001", "ENV-003")
                    and r.get("package")]
    assert lock_results
    files = fixture("violations")
    for r in lock_results:
        line = files[r["file"]].decode().splitlines()[r["line"] - 1]
        assert re.match(re.escape(r["package"]).replace("\\-", "[-_.]"), line, re.I), (r, line)


@pytest.mark.parametrize("engine", ENGINES)
def test_acme_ml_passes_with_its_waiver(acme: Path, engine: str, tmp_path: Path) -> None:
    unapproved = check(acme, "--format", "json", engine=engine)
    assert unapproved.exit_code == 1
    assert {(r["id"], r["name"]) for r in unapproved.json()["results"]} == {
        ("MDL-002", "llama-3-8b-instruct"), ("WVR-001", "llama-license-ok")}
    approve_all(acme, tmp_path / "keys")
    run = check(acme, "--format", "json", engine=engine)
    assert run.exit_code == 0, run.stdout + run.stderr
    decision = run.json()
    assert decision["verdict"] == "pass"
    assert [r for r in decision["results"] if r["severity"] == "deny"] == []
    assert [(w["id"], w["name"], w["waiver"]) for w in decision["waived"]] == [
        ("MDL-002", "llama-3-8b-instruct", "llama-license-ok")]
    assert decision["objects"] >= 12


def test_text_report_groups_by_object_with_a_verdict_line(violations: Path) -> None:
    run = check(violations, "--base", "HEAD~1")
    assert run.exit_code == 1
    assert not re.search(r"^Model retired-model", run.stdout, re.M)
    assert re.search(r"^Stack dev-sandbox", run.stdout, re.M)
    assert re.search(r"^FAIL [0-9a-f]{12}: \d+ denied, \d+ warnings, \d+ waived", run.stdout, re.M)
    assert re.search(r"models/\S+\.yaml:\d+ +│ MDL-005 +│ deny", run.stdout)


def _all_fixture_revisions(tmp_path: Path) -> list[tuple[Path, str, str | None]]:
    acme = tmp_path / "acme"
    make_repo(acme, Step("acme-ml", fixture("acme-ml")))
    bad = tmp_path / "bad"
    make_repo(bad, Step("violations", fixture("violations")), Step("retire", delete=[RETIRED]))
    demo = tmp_path / "demo"
    build_demo_repo(demo, dt.datetime(2026, 11, 19, 9, 0, tzinfo=dt.UTC))
    return [(acme, "HEAD", None), (bad, "HEAD~1", None), (bad, "HEAD", None),
            (bad, "HEAD", "HEAD~1"), (demo, "HEAD~2", None), (demo, "HEAD~1", "HEAD~2"),
            (demo, "HEAD", "HEAD~1")]


def test_parity_every_backend_decides_identically_on_every_fixture_revision(
        tmp_path: Path) -> None:
    """The embedded OPA, rego-cpp and the official OPA as a (resident) server."""
    for root, rev, base in _all_fixture_revisions(tmp_path):
        args = ["--rev", rev, "--format", "json"] + (["--base", base] if base else [])
        runs = [check(root, *args, engine=e) for e in ENGINES]
        assert len({r.exit_code for r in runs}) == 1, (root, rev, [r.stderr for r in runs])
        a, *others = (r.json() for r in runs)
        assert [d["engine"] for d in (a, *others)] == list(ENGINES)
        for b in others:
            assert a["results"] == b["results"], (root, rev, b["engine"])
            assert a["waived"] == b["waived"], (root, rev, b["engine"])
            assert a["decision_id"] == b["decision_id"], (root, rev, b["engine"])


def test_base_reports_changes_and_chg001_fires_only_with_a_base(violations: Path) -> None:
    with_base = check(violations, "--base", "HEAD~1", "--format", "json").json()
    assert with_base["base"]["commit"] is not None
    assert {"path": RETIRED, "kind": "Model", "name": "retired-model",
            "change": "deleted"} in with_base["changes"]
    assert "CHG-001" in {r["id"] for r in with_base["results"]}
    without = check(violations, "--format", "json").json()
    assert without["changes"] == [] and without["base"] is None
    assert "CHG-001" not in {r["id"] for r in without["results"]}
    assert with_base["decision_id"] != without["decision_id"]


def test_moving_an_object_is_not_a_deletion(acme: Path, tmp_path: Path) -> None:
    approve_all(acme, tmp_path / "keys")
    repo = pygit2.Repository(str(acme))
    files = fixture("acme-ml")
    model = next(p for p in files if p.startswith("models/"))
    stage(repo, write={"moved/" + model: files[model]}, delete=[model])
    decision = check(acme, "--staged", "--format", "json").json()
    assert decision["verdict"] == "pass", decision["results"]
    assert [c["change"] for c in decision["changes"]] == ["modified"] or decision["changes"] == []


def test_staged_evaluates_the_index_against_head(acme: Path, tmp_path: Path) -> None:
    approve_all(acme, tmp_path / "keys")
    repo = pygit2.Repository(str(acme))
    stacks = [p for p, d in fixture("acme-ml").items() if p.startswith("stacks/")]
    used = re.search(rb"model: *([\w.-]+)", fixture("acme-ml")[stacks[0]])
    assert used is not None
    model_file = next(p for p, d in fixture("acme-ml").items()
                      if p.startswith("models/") and b"name: " + used.group(1) in d)
    # Unstaged damage in the work tree is not what would be committed: ignored.
    (acme / "govops.yaml").write_text("this: [is not yaml\n")
    clean = check(acme, "--staged", "--format", "json")
    assert clean.exit_code == 0, clean.stderr
    assert clean.json()["revision"]["commit"] is None
    # A staged deletion of a model a stack uses is what would be committed: caught.
    stage(repo, delete=[model_file])
    run = check(acme, "--staged", "--format", "json")
    assert run.exit_code == 1
    ids = {r["id"] for r in run.json()["results"]}
    assert {"CHG-001", "STK-002"} <= ids
    assert run.json()["base"]["commit"] == str(repo.head.target)
