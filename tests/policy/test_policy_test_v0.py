"""`govops policy test` on a Rego v0 suite in the idiom of gatekeeper-library (v0 syntax,
`with input as` over a rule chain, same-name tests) gives what OPA's own runner gives in its
v0 compatibility mode (`opa test --v0-compatible`): the modules are converted by OPA itself
(`opa fmt --v0-v1`), and said to be; tests are named and placed as in the files written."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest

from engine.policy.backends.resident import BINARY_ENV
from tests.support.cli import assert_input_error, govops
from tests.support.resident import OPA_BINARY

POLICY = """package k8srequiredlabels

violation[{"msg": msg}] {
\tprovided := {label | input.review.object.metadata.labels[label]}
\trequired := {label | label := input.parameters.labels[_]}
\tmissing := required - provided
\tcount(missing) > 0
\tmsg := sprintf("you must provide labels: %v", [missing])
}
"""
TESTS = """package k8srequiredlabels

test_missing {
\tr := violation with input as {"review": {"object": {"metadata": {"labels": {}}}}, "parameters": {"labels": ["team"]}}
\tcount(r) == 1
}

test_present {
\tr := violation with input as {"review": {"object": {"metadata": {"labels": {"team": "a"}}}}, "parameters": {"labels": ["team"]}}
\tcount(r) == 0
}

test_present {
\tr := violation with input as {"review": {"object": {"metadata": {"labels": {}}}}, "parameters": {"labels": ["team"]}}
\tcount(r) == 0
}
"""


def _suite(root: Path) -> Path:
    root.mkdir()
    (root / "src.rego").write_text(POLICY)
    (root / "src_test.rego").write_text(TESTS)
    return root


def _opa_says(root: Path) -> dict[str, bool]:
    done = subprocess.run([str(OPA_BINARY), "test", "--v0-compatible", "--format", "json", "."],
                          cwd=root, capture_output=True, text=True, check=False)
    return {f"{r['package'].removeprefix('data.')}.{r['name']}": not r.get("fail", False)
            for r in json.loads(done.stdout)}


@pytest.mark.parametrize("engine", ["opa", "opa-server"])
def test_a_v0_suite_gives_what_opas_runner_gives(tmp_path: Path, engine: str) -> None:
    root = _suite(tmp_path / "suite")
    run = govops("policy", "test", "--engine", engine, "-v", str(root))
    assert "read as Rego v0, converted to v1 by OPA (opa fmt --v0-v1): " in run.stderr
    ours = {line.split()[1]: line.startswith("PASS") for line in run.stdout.splitlines()
            if line.startswith(("PASS", "FAIL"))}
    assert ours == _opa_says(root) == {"k8srequiredlabels.test_missing": True,
                                       "k8srequiredlabels.test_present": True,
                                       "k8srequiredlabels.test_present#01": False}
    assert run.exit_code == 1
    placed = [line.split("(")[1].split(",")[0] for line in run.stdout.splitlines()
              if line.startswith(("PASS", "FAIL"))]
    assert placed == [f"{root / 'src_test.rego'}:{n}" for n in (3, 8, 13)]
    if engine == "opa":  # OPA's runner explains the failure, at the line as written
        assert f"fails at {root / 'src_test.rego'}:15: count(r) == 0" in run.stdout


def test_rego_cpp_fails_what_it_cannot_evaluate_never_passes_it(tmp_path: Path) -> None:
    run = govops("policy", "test", "--engine", "regopy", str(_suite(tmp_path / "suite")))
    assert run.exit_code == 1
    assert "regopy: 0 passed, 3 failed" in run.stdout


def test_without_opa_a_v0_module_is_one_line_with_the_way_out(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(BINARY_ENV, raising=False)
    monkeypatch.setenv("PATH", "/usr/bin:/bin")
    root = _suite(tmp_path / "suite")
    assert_input_error(govops("policy", "test", "--engine", "opa", str(root)),
                       f"{root / 'src.rego'}:3: rego_parse_error: `if` keyword is required "
                       "before rule body (Rego v0? govops reads v0 modules through OPA's own "
                       "converter (opa fmt --v0-v1), which needs `opa` on PATH or GOVOPS_OPA)")
