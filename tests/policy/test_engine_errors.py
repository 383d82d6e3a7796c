"""Evaluation errors of a repository's own policy are one line on every engine (issue 20's
crash reproductions): a complete rule with two values, and `_` used as a call argument. OPA
names the file and line; rego-cpp gives some of these with no text at all, which crashed the
regopy backend with an IndexError (exit 1, read as "policy failed")."""

from __future__ import annotations

from pathlib import Path

import pytest

from engine.repo.scripted import Step
from tests.support.cli import check, one_error_line
from tests.support.repos import ENGINES, make_repo
from tests.support.samples import GOOD

CONFIG = "apiVersion: govops.dev/v1\nkind: Config\npolicies:\n  paths: [policies/]\n"
RESULT = '{"id": "LOCAL-001", "msg": "x", "kind": "Model", "name": "tiny"}'
POLICIES = {
    "a complete rule with two values": f"""package govops.policies.local_001

import rego.v1

v := 1 if input.objects
v := 2 if input.objects

deny contains r if {{
\tv == 1
\tr := {RESULT}
}}
""",
    "an unsafe _ as a call argument": f"""package govops.policies.local_001

import rego.v1

repos := ["ghcr.io/acme/", "registry.acme.test/"]

deny contains r if {{
\tsome env in input.objects.environments
\tnot startswith(env.spec.image, repos[_])
\tr := {RESULT}
}}
""",
}
EXPECTED = {
    ("a complete rule with two values", "opa"):
        "govops: error: policies/local.rego:6: eval_conflict_error: complete rules must not "
        "produce multiple outputs",
    ("an unsafe _ as a call argument", "opa"):
        "govops: error: policies/local.rego:9: rego_unsafe_var_error: var _ is unsafe",
}
NO_REASON = ("govops: error: regopy: the evaluation failed and rego-cpp gives no reason; "
             "OPA names it: evaluate with --engine opa")


@pytest.mark.parametrize("engine", ENGINES)
@pytest.mark.parametrize("case", sorted(POLICIES))
def test_an_evaluation_error_is_one_line_exit_2(tmp_path: Path, case: str, engine: str) -> None:
    root = tmp_path / "repo"
    make_repo(root, Step("local policy", {**GOOD, "govops.yaml": CONFIG,
                                          "policies/local.rego": POLICIES[case]}))
    run = check(root, "--format", "json", engine=engine)
    assert run.exit_code == 2, run.stdout + run.stderr
    line = one_error_line(run)
    if engine == "regopy":
        assert line == NO_REASON
    elif engine == "opa-server" and case == "a complete rule with two values":
        assert line == ("govops: error: policies/local.rego:6: eval_conflict_error: rule "
                        "data.govops.policies.local_001.v produced conflicting values: 1 at "
                        "policies/local.rego:5 2 at policies/local.rego:6")
    else:
        assert line == EXPECTED[(case, "opa")]


VALID = """package govops.policies.local_001

import rego.v1

default allowed(_) := false

allowed(licence) := true if licence == "MIT"

nothing := set()

parts := split(
\t"a/b",
\t"/",
)

deny contains r if {
\tsome name, model in input.objects.Model
\tallowed(model.spec.license)
\tcount(nothing) == 0
\tcount(parts) == 2
\tr := {"id": "LOCAL-001", "msg": "x", "kind": "Model", "name": name}
}
"""


def test_valid_rego_the_regopy_scan_refused_decides_alike_on_every_engine(
        tmp_path: Path) -> None:
    """`set()` (the empty set, not a call), `default f(_)` and a call over several lines:
    the regopy backend's builtin scan refused `set()` as an unknown builtin."""
    root = tmp_path / "repo"
    make_repo(root, Step("local policy", {**GOOD, "govops.yaml": CONFIG,
                                          "policies/local.rego": VALID}))
    decisions = set()
    for engine in ENGINES:
        run = check(root, "--format", "json", engine=engine)
        assert run.exit_code == 1, run.stderr
        assert [r["id"] for r in run.json()["results"]] == ["LOCAL-001"]
        decisions.add(run.json()["decision_id"])
    assert len(decisions) == 1


BUILTIN_ERRORS = {
    "to_number of a licence": ("to_number(model.spec.license) > 0",
                               "govops: error: policies/local.rego:8: eval_builtin_error: "
                               'to_number: strconv.ParseFloat: parsing "MIT": invalid syntax'),
    "a division by zero": ("count(model.spec.license) / 0 > 1",
                           "govops: error: policies/local.rego:8: eval_builtin_error: div: "
                           "divide by zero"),
}


@pytest.mark.parametrize("engine", ENGINES)
@pytest.mark.parametrize("case", sorted(BUILTIN_ERRORS))
def test_a_builtin_that_fails_is_an_error_on_every_engine(tmp_path: Path, case: str,
                                                         engine: str) -> None:
    """Strict builtin errors everywhere: the embedded OPA already failed here while the
    resident OPA and rego-cpp took the call as undefined and passed the check (a deny lost
    without a word)."""
    expression, expected = BUILTIN_ERRORS[case]
    policy = f"""package govops.policies.local_001

import rego.v1

deny contains r if {{
\tsome name, model in input.objects.Model
\tname == "tiny"
\t{expression}
\tr := {RESULT}
}}
"""
    root = tmp_path / "repo"
    make_repo(root, Step("local policy", {**GOOD, "govops.yaml": CONFIG,
                                          "policies/local.rego": policy}))
    run = check(root, "--format", "json", engine=engine)
    assert run.exit_code == 2, run.stdout + run.stderr
    assert one_error_line(run) == (NO_REASON if engine == "regopy" else expected)
