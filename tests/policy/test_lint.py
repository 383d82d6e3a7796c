"""Policy authoring mistakes that used to pass silently (issue 17): a result whose id is not its
METADATA id, a policy without METADATA, a result pointing at a field the format does not have.
Each is a warning of `govops check`, naming the policy file; a correct policy gets none."""

from __future__ import annotations

from pathlib import Path

import pytest

from engine.repo.scripted import Step
from tests.support.cli import check
from tests.support.repos import ENGINES, make_repo
from tests.support.samples import GOOD

CONFIG = "apiVersion: govops.dev/v1\nkind: Config\npolicies:\n  paths: [policies/]\n"
METADATA = """# METADATA
# title: Models are owned
# custom:
#   id: {declared}
#   severity: warn
#   remediation: Add an owner.
"""
POLICY = """package govops.policies.{package}

import rego.v1

warn contains v if {{
	some name, model in object.get(input.objects, "Model", {{}})
	v := {{"id": "{reported}", "msg": "x", "kind": "Model", "name": name, "field": "{field}"}}
}}
"""


def _repo(tmp_path: Path, *policies: tuple[str, str, str, str, bool]) -> Path:
    files = {**GOOD, "govops.yaml": CONFIG}
    for package, declared, reported, field, metadata in policies:
        source = POLICY.format(package=package, reported=reported, field=field)
        files[f"policies/{package}.rego"] = (METADATA.format(declared=declared) if metadata
                                             else "") + source
    make_repo(tmp_path / "repo", Step("policies", files))
    return tmp_path / "repo"


def _warnings(run_stderr: str) -> list[str]:
    return [line.removeprefix("govops: warning: ") for line in run_stderr.splitlines()
            if line.startswith("govops: warning: policies/")]


@pytest.mark.parametrize("engine", ENGINES)
def test_each_authoring_mistake_is_a_warning_naming_the_file(tmp_path: Path,
                                                             engine: str) -> None:
    root = _repo(tmp_path,
                 ("mismatch", "LOCAL-001", "LOCAL-01", "metadata.owners", True),
                 ("bare", "", "LOCAL-002", "metadata.owners", False),
                 ("typo", "LOCAL-003", "LOCAL-003", "spec.lisence", True))
    run = check(root, engine=engine)
    assert run.exit_code == 0, run.stderr  # warnings about policies never change the verdict
    assert _warnings(run.stderr) == [
        "policies/bare.rego: package govops.policies.bare has no METADATA block with "
        "custom.id: its LOCAL-002 results show no title, severity or remediation",
        "policies/mismatch.rego: package govops.policies.mismatch reports id LOCAL-01, but "
        "its METADATA declares LOCAL-001",
        "policies/typo.rego: LOCAL-003 points at Model field 'spec.lisence', which the format "
        "does not have (docs/reference.md lists every field)",
    ]


def test_a_correct_policy_gets_no_warning(tmp_path: Path) -> None:
    root = _repo(tmp_path, ("fine", "LOCAL-004", "LOCAL-004", "spec.license", True),
                 ("indexed", "LOCAL-005", "LOCAL-005", "spec.datasets[0]", True),
                 ("open", "LOCAL-006", "LOCAL-006", "metadata.labels.team", True))
    run = check(root)
    assert run.exit_code == 0, run.stderr
    assert _warnings(run.stderr) == []
