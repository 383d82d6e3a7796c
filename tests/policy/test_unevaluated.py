"""A conftest- or Gatekeeper-style policy committed under `policies.paths` decides nothing in
govops (only data.govops.policies.* is asked): `check` says so instead of passing silently."""

from __future__ import annotations

from pathlib import Path

from engine.repo.scripted import Step
from tests.support.cli import check
from tests.support.repos import make_repo
from tests.support.samples import GOOD

OR_MANIFESTS = ("or list its folder under manifests.policies to run it against rendered "
                "manifests as conftest does (docs/policies.md)")
CONFIG = "apiVersion: govops.dev/v1\nkind: Config\npolicies:\n  paths: [policies/]\n"
CONFTEST = """package main

import rego.v1

deny contains msg if {
\tinput.kind == "Deployment"
\tnot input.spec.template.spec.securityContext.runAsNonRoot
\tmsg := "Containers must not run as root"
}
"""
GATEKEEPER = """package k8srequiredlabels

import rego.v1

violation contains {"msg": msg} if {
\tprovided := {label | input.review.object.metadata.labels[label]}
\trequired := {label | label := input.parameters.labels[_]}
\tmissing := required - provided
\tcount(missing) > 0
\tmsg := sprintf("you must provide labels: %v", [missing])
}
"""
HELPER = """package acme.lib.names

import rego.v1

team(name) := split(name, "-")[0]
"""
OWN = """package govops.policies.acme_001

import rego.v1

import data.acme.lib.names

deny contains r if {
\tsome name, _ in input.objects.Model
\tnames.team(name) == "legacy"
\tr := {"id": "ACME-001", "msg": "legacy team", "kind": "Model", "name": name}
}
"""


def _warnings(tmp_path: Path, policies: dict[str, str]) -> list[str]:
    root = tmp_path / "repo"
    make_repo(root, Step("policies", {**GOOD, "govops.yaml": CONFIG, **policies}))
    run = check(root, "--format", "json")
    assert run.exit_code == 0, run.stderr
    return [line for line in run.stderr.splitlines() if "is not evaluated" in line]


def test_conftest_and_gatekeeper_policies_are_named_as_deciding_nothing(tmp_path: Path) -> None:
    assert _warnings(tmp_path, {"policies/conftest.rego": CONFTEST,
                                "policies/gatekeeper.rego": GATEKEEPER,
                                "policies/acme_001.rego": OWN,
                                "policies/names.rego": HELPER}) == [
        "govops: warning: policies/conftest.rego:5: package main is not evaluated by govops "
        "(it asks only data.govops.policies.*): this deny rule decides nothing; put the policy "
        f"in package govops.policies.<name>, {OR_MANIFESTS}",
        "govops: warning: policies/gatekeeper.rego:5: package k8srequiredlabels is not "
        "evaluated by govops (it asks only data.govops.policies.*): this violation rule "
        f"decides nothing; put the policy in package govops.policies.<name>, {OR_MANIFESTS}"]


def test_govops_policies_and_their_helpers_are_not_named(tmp_path: Path) -> None:
    assert _warnings(tmp_path, {"policies/acme_001.rego": OWN,
                                "policies/names.rego": HELPER}) == []
