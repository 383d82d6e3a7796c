"""A package Rego writes with a quoted part (`package acme["k8s-rules"]`, common in Gatekeeper
and trivy suites) is read whole: it was cut at the `[` (its tests were looked up in
data.acme and all failed) and, on the resident OPA, sent as one REST path segment."""

from __future__ import annotations

from pathlib import Path

import pytest

from engine.policy.backends.opa_rest import data_path
from engine.policy.metadata import package_of
from tests.support.cli import govops
from tests.support.repos import ENGINES

POLICY = """package acme["k8s-rules"]

import rego.v1

allow if input.x == 1
"""
TESTS = """package acme["k8s-rules"]

import rego.v1

test_allow if allow with input as {"x": 1}

test_deny if {
\tnot allow with input as {"x": 2}
}
"""


@pytest.mark.parametrize("engine", ENGINES)
def test_tests_of_a_quoted_package_run(tmp_path: Path, engine: str) -> None:
    (tmp_path / "q.rego").write_text(POLICY)
    (tmp_path / "q_test.rego").write_text(TESTS)
    run = govops("policy", "test", "--engine", engine, str(tmp_path / "q.rego"),
                 str(tmp_path / "q_test.rego"))
    assert run.exit_code == 0, run.stdout + run.stderr
    assert f"{engine}: 2 passed, 0 failed" in run.stdout


def test_a_quoted_package_is_read_whole_and_addressed_by_its_parts() -> None:
    assert package_of(POLICY) == 'acme["k8s-rules"]'
    assert package_of("package govops.policies.mdl_001\n") == "govops.policies.mdl_001"
    assert data_path('acme["k8s-rules"].test_allow') == "/v1/data/acme/k8s-rules/test_allow"
    assert data_path('a["x/y \\"z"]') == "/v1/data/a/x%2Fy%20%22z"
