"""A policy calling a builtin the backend lacks is an error naming it, never a silent pass."""

from __future__ import annotations

from pathlib import Path

import pytest

from engine.policy.backends.calls import calls_to_builtins
from engine.policy.library import PolicyModule
from engine.repo.scripted import Step
from tests.support.cli import check
from tests.support.repos import make_repo
from tests.support.samples import GOOD

CONFIG = "apiVersion: govops.dev/v1\nkind: Config\npolicies:\n  paths: [policies/]\n"


def _policy(body: str) -> str:
    return ("package govops.policies.local\n\nimport rego.v1\n\n"
            "deny contains v if {\n"
            f"  {body}\n"
            '  v := {"id": "LOCAL-1", "msg": "schema check", "kind": "Model", "name": "tiny"}\n'
            "}\n")


def _repo(tmp_path: Path, body: str) -> Path:
    files = {**GOOD, "govops.yaml": CONFIG, "policies/local.rego": _policy(body)}
    make_repo(tmp_path / "r", Step("local policy", files))
    return tmp_path / "r"


def test_builtin_missing_in_regopy_is_an_error_that_names_it(tmp_path: Path) -> None:
    root = _repo(tmp_path, 'not graphql.is_valid("{ q }", "type Query { q: Int }")')
    run = check(root, engine="regopy")
    assert run.exit_code == 2
    assert run.stderr.strip() == (
        "govops: error: policies/local.rego:6: graphql.is_valid is not a builtin of the regopy "
        "backend (rego-cpp); evaluate with --engine opa")
    assert run.stdout == ""


def test_the_same_policy_evaluates_on_opa(tmp_path: Path) -> None:
    root = _repo(tmp_path, 'not graphql.is_valid("{ q }", "type Query { q: Int }")')
    run = check(root, "--format", "json", engine="opa")
    assert run.exit_code in (0, 1), run.stderr
    assert "LOCAL-1" not in {r["id"] for r in run.json()["results"]}


@pytest.mark.parametrize("engine", ["opa", "regopy"])
def test_undefined_function_is_an_error_on_both(tmp_path: Path, engine: str) -> None:
    root = _repo(tmp_path, "acme.frobnicate(1)")
    run = check(root, engine=engine)
    assert run.exit_code == 2
    assert run.stderr.startswith("govops: error: policies/local.rego:6:")
    assert "acme.frobnicate" in run.stderr


def test_call_scanner_skips_user_functions_imports_strings_and_comments() -> None:
    lib = PolicyModule("lib.rego", "package govops.lib.util\n\nimport rego.v1\n\n"
                       "double(x) := y if { y := x * 2 }\n")
    policy = PolicyModule("p.rego", (
        "package govops.policies.p\n\nimport rego.v1\nimport data.govops.lib.util\n"
        "import data.govops.lib.util as u2\n\n"
        "local(x) := x\n"
        "deny contains v if {\n"
        '  # graphql.parse("commented out")\n'
        '  s := "net.cidr_merge(in a string)"\n'
        "  util.double(1) == u2.double(1)\n"
        "  local(2) == data.govops.lib.util.double(1)\n"
        "  count([1]) == 1\n"
        "  strings.any_prefix_match(s, [\"n\"])\n"
        "  v := {}\n}\n"))
    names = sorted(c.name for c in calls_to_builtins([lib, policy]))
    assert names == ["count", "strings.any_prefix_match"]


def test_a_function_name_with_two_arities_is_refused_on_regopy(tmp_path: Path) -> None:
    """Legal Rego, but rego-cpp corrupts memory on it (segfaults seen): refuse, name both."""
    policy = ("package govops.policies.local\n\nimport rego.v1\n\n"
              'join(a, b) := concat("-", [a, b])\n\n'
              "deny contains v if {\n  some name, _ in input.objects.Model\n"
              '  v := {"id": "LOCAL-1", "msg": join("a", "b"), "kind": "Model", "name": name}\n}\n')
    files = {**GOOD, "govops.yaml": CONFIG, "policies/local.rego": policy}
    make_repo(tmp_path / "r", Step("local policy", files))
    run = check(tmp_path / "r", engine="regopy")
    assert run.exit_code == 2
    assert run.stderr.startswith("govops: error: policies/local.rego:5: function join takes 2 "
                                 "arguments here and 1 in @govops/lib/messages.rego:")
    assert check(tmp_path / "r", engine="opa").exit_code == 1
