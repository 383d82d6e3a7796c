"""Repo-local policies and data from govops.yaml, read from the evaluated revision's git objects,
and results the engine refuses to guess about."""

from __future__ import annotations

import re
from pathlib import Path

import pygit2
import pytest

from engine.repo.scripted import Step, stage
from tests.support.approvals import approve_all
from tests.support.cli import check
from tests.support.repos import ENGINES, fixture, make_repo
from tests.support.samples import GOOD, LLAMA

CONFIG = "apiVersion: govops.dev/v1\nkind: Config\npolicies:\n  paths: [policies/]\n"


@pytest.mark.parametrize("engine", ENGINES)
def test_repo_local_warn_is_reported_and_does_not_fail(acme: Path, engine: str,
                                                       tmp_path: Path) -> None:
    approve_all(acme, tmp_path / "keys")
    files = fixture("acme-ml")
    path = next(p for p, d in files.items() if p.startswith("models/") and b"@acme.test" in d)
    edited = re.sub(rb"@acme\.test", b"@partner.example", files[path])
    stage(pygit2.Repository(str(acme)), write={path: edited})
    run = check(acme, "--staged", "--format", "json", engine=engine)
    assert run.exit_code == 0, run.stdout
    warns = [r for r in run.json()["results"] if r["id"] == "ACME-001"]
    assert len(warns) == 1 and warns[0]["severity"] == "warn" and warns[0]["file"] == path


def test_repo_local_policy_comes_from_the_revision_not_the_work_tree(tmp_path: Path) -> None:
    policy = ("package govops.policies.local\n\nimport rego.v1\n\n"
              "deny contains v if {\n  some name, _ in input.objects.Model\n"
              '  v := {"id": "LOCAL-1", "msg": "no models allowed", "kind": "Model", "name": name}\n}\n')
    root = tmp_path / "r"
    make_repo(root, Step("local", {**GOOD, "govops.yaml": CONFIG, "policies/local.rego": policy}))
    (root / "policies" / "local.rego").write_text("package govops.policies.local\n")
    run = check(root, "--format", "json")
    assert run.exit_code == 1
    assert [r["id"] for r in run.json()["results"]] == ["LOCAL-1"]


def test_policies_data_in_govops_yaml_overrides_library_defaults(tmp_path: Path) -> None:
    config = CONFIG.replace("  paths: [policies/]\n",
                            "  data:\n    allowedLicenses: [MIT, llama3]\n")
    root = tmp_path / "r"
    make_repo(root, Step("allow llama3", {**GOOD, "govops.yaml": config,
                                          "models/llama.yaml": LLAMA}))
    for engine in ENGINES:
        run = check(root, "--format", "json", engine=engine)
        assert run.exit_code == 0, run.stdout
    make_repo(tmp_path / "default", Step("defaults", {**GOOD, "models/llama.yaml": LLAMA}))
    assert check(tmp_path / "default").exit_code == 1


@pytest.mark.parametrize(("rule", "fragment"), [
    ('deny contains {"id": "LOCAL-2", "kind": "Model", "name": "tiny"} if true',
     "a deny result must be an object with string id, msg, kind and name"),
    ('deny contains "just a string" if true', "a deny result must be an object"),
    ('deny := "not a set"', "data.govops.policies.local.deny must be a set of result objects"),
])
@pytest.mark.parametrize("engine", ENGINES)
def test_malformed_results_fail_closed(tmp_path: Path, rule: str, fragment: str,
                                       engine: str) -> None:
    policy = f"package govops.policies.local\n\nimport rego.v1\n\n{rule}\n"
    root = tmp_path / "r"
    make_repo(root, Step("local", {**GOOD, "govops.yaml": CONFIG, "policies/local.rego": policy}))
    run = check(root, engine=engine)
    assert run.exit_code == 2
    assert fragment in run.stderr
    assert len(run.stderr.strip().splitlines()) == 1
