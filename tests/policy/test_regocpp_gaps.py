"""Issue 20's silent disagreement: `some i, j; input.x[i] == y[j]` made `govops check` FAIL on
OPA and PASS on rego-cpp. rego-cpp finds no match for `==` between two collections each indexed
by an unbound variable; the regopy backend now refuses that form (file:line, exit 2) instead
of passing, and every neighbouring form, which rego-cpp evaluates as OPA does, decides alike
on every engine."""

from __future__ import annotations

from pathlib import Path

import pytest

from engine.policy.backends.regocpp_gaps import unbound_comparisons
from engine.policy.library import PolicyModule
from engine.repo.scripted import Step
from tests.support.cli import check, one_error_line
from tests.support.repos import ENGINES, ROOT, make_repo
from tests.support.samples import GOOD

CONFIG = "apiVersion: govops.dev/v1\nkind: Config\npolicies:\n  paths: [policies/]\n"
BANNED = '["transformers", "torch"]'


def _policy(body: str) -> str:
    return f"""package govops.policies.local_001

import rego.v1

banned := {BANNED}

deny contains r if {{
\tsome name, model in input.objects.Model
\tnames := [name, "torch"]
{body}
\tr := {{"id": "LOCAL-001", "msg": "a banned name", "kind": "Model", "name": name}}
}}
"""


SILENT = "\tsome i, j\n\tnames[i] == banned[j]\n"
ALIKE = {
    "unification": "\tsome i, j\n\tnames[i] = banned[j]\n",
    "one side bound first": "\tsome x in names\n\tx == banned[_]\n",
    "membership": "\tsome x in names\n\tx in banned\n",
    "a ground side": "\tsome i\n\tnames[i] == banned[1]\n",
    "the index bound before": "\tsome i, j\n\tnames[i]\n\tbanned[j]\n\tnames[i] == banned[j]\n",
}


def _repo(tmp_path: Path, policy: str) -> Path:
    make_repo(tmp_path / "repo", Step("c1", {**GOOD, "govops.yaml": CONFIG,
                                             "policies/local.rego": policy}))
    return tmp_path / "repo"


def test_opa_fails_what_rego_cpp_would_have_passed_silently(tmp_path: Path) -> None:
    repo = _repo(tmp_path, _policy(SILENT))
    for engine in ("opa", "opa-server"):
        run = check(repo, "--format", "json", engine=engine)
        assert run.exit_code == 1, (engine, run.stderr)
        assert [r["id"] for r in run.json()["results"]] == ["LOCAL-001"]
    refused = check(repo, engine="regopy")
    assert refused.exit_code == 2
    assert one_error_line(refused).startswith(
        "govops: error: policies/local.rego:11: `names[i] == banned[j]` compares two "
        "collections each indexed by a variable nothing binds before it: rego-cpp")


@pytest.mark.parametrize("form", sorted(ALIKE))
def test_the_forms_rego_cpp_evaluates_as_opa_decide_alike(tmp_path: Path, form: str) -> None:
    repo = _repo(tmp_path, _policy(ALIKE[form]))
    runs = {engine: check(repo, "--format", "json", engine=engine) for engine in ENGINES}
    assert {e: r.exit_code for e, r in runs.items()} == {e: 1 for e in ENGINES}, form
    assert len({r.json()["decision_id"] for r in runs.values()}) == 1, form


def test_the_scan_refuses_nothing_in_published_suites() -> None:
    """No false positive: the shipped library, the pack, the corpus of third-party idioms,
    conftest's examples and OPA's own Rego (from their Go modules) are all accepted."""
    folders = [ROOT / "policies", ROOT / "fixtures" / "rego-corpus",
               ROOT / ".cache" / "go-tools" / "bin" / "conftest-kubernetes-example"]
    modules = [PolicyModule(str(p), p.read_text()) for folder in folders
               for p in sorted(folder.rglob("*.rego"))]
    assert len(modules) > 60
    assert unbound_comparisons(modules) == []


@pytest.mark.parametrize(("statement", "found"), [
    ("xs[i] == ys[j]", True),
    ("xs[_] == ys[_]", True),
    ("input.a[k].v == input.b[l].v", True),
    ("xs[i] = ys[j]", False),
    ("xs[i] != ys[j]", False),
    ("x := xs[i] == ys[j]", False),
    ("count(xs) == count(ys)", False),
    ('xs[i] == "a"', False),
])
def test_what_the_scan_finds(statement: str, found: bool) -> None:
    source = f"package p\n\nimport rego.v1\n\nr if {{\n\tsome i, j, k, l\n\t{statement}\n}}\n"
    assert bool(unbound_comparisons([PolicyModule("p.rego", source)])) is found
