"""`govops policy test` gives what OPA's own test runner gives (issue 20, acceptance 2), on a
corpus written in the idioms of the public suites (fixtures/rego-corpus: conftest's,
gatekeeper-library's, GCP policy-library's and trivy-checks' ways of writing policies and
tests; Rego v0 and v1, data files, custom and quoted packages, same-name tests, `with` over
rule chains, failing, erroring, skipped and printing tests).

Every expectation is what the real `opa test` says at test time, run on the suite as its
users run it (`--v0-compatible` for the v0 suites, the paths they give): per test its
package, name, verdict, location, what it printed and, for a failure, the expression of the
test that failed; and the counts. rego-cpp (`regopy`, the last-resort engine) may differ from
OPA, but only where govops says so: an error naming the difference, never a different pass or
fail given silently.
"""

from __future__ import annotations

import base64
import functools
import json
import re
import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from tests.support.cli import govops
from tests.support.repos import FIXTURES
from tests.support.resident import OPA_BINARY

CORPUS = FIXTURES / "rego-corpus"
V0 = ("--v0-compatible",)
# suite: (the paths its users give opa test, the flags OPA needs for it)
SUITES: dict[str, tuple[tuple[str, ...], tuple[str, ...]]] = {
    "conftest-k8s": ((".",), V0),
    "gatekeeper-templates": ((".",), V0),
    "gcp-validator": (("lib", "validator"), V0),
    "mixed-v0-v1": ((".",), V0),
    "trivy-checks": ((".",), ()),
    "admission-v1": ((".",), ()),
}


@dataclass(frozen=True)
class Outcome:
    status: str  # pass | fail | error | skip
    location: tuple[str, int]
    failed_at: tuple[str, int] | None
    output: str
    error_at: tuple[str, int, str] | None  # an error's file, line and code


_ERROR = re.compile(r"^(\S+\.rego):(\d+): (\w+):")


Results = dict[tuple[str, str], Outcome]  # (package, test name) -> outcome


def _status(result: dict[str, Any]) -> str:
    if result.get("error"):
        return "error"
    if result.get("skip"):
        return "skip"
    return "fail" if result.get("fail") else "pass"


def _failed_at(result: dict[str, Any]) -> tuple[str, int] | None:
    """Where OPA's trace has the test's own body fail: the first Fail event of the query it
    entered at the test's location."""
    where = result["location"]
    trace = result.get("trace") or []
    body = next((e["QueryID"] for e in trace if e["Op"] == "Enter"
                 and (e.get("Location") or {}).get("file") == where["file"]
                 and (e.get("Location") or {}).get("row") == where["row"]), None)
    for event in trace:
        if event["Op"] == "Fail" and event["QueryID"] == body:
            return event["Location"]["file"], event["Location"]["row"]
    return None


@functools.cache
def opa_says(suite: str) -> tuple[int, Results]:
    """Exit code and results of the real `opa test` on the suite, run where its users run it."""
    paths, flags = SUITES[suite]
    done = subprocess.run([str(OPA_BINARY), "test", "--format", "json", "-v", *flags, *paths],
                          cwd=CORPUS / suite, capture_output=True, text=True, check=False)
    assert done.returncode in (0, 2), done.stderr  # 1: OPA could not load the suite
    results: Results = {}
    for result in json.loads(done.stdout):
        status = _status(result)
        output = base64.b64decode(result.get("output") or "").decode()
        key = (result["package"], result["name"])
        assert key not in results, key
        error = result.get("error")
        error = error[0] if isinstance(error, list) else error
        where = (error or {}).get("location") or {}
        results[key] = Outcome(status, (result["location"]["file"], result["location"]["row"]),
                               _failed_at(result) if status == "fail" else None, output,
                               (where["file"], where["row"], error["code"]) if error else None)
    return done.returncode, results


def govops_says(suite: str, engine: str, monkeypatch: pytest.MonkeyPatch
                ) -> tuple[int, Results, dict[str, Any]]:
    monkeypatch.chdir(CORPUS / suite)
    run = govops("policy", "test", "--engine", engine, "--format", "json", *SUITES[suite][0])
    assert run.exit_code in (0, 1), run.stdout + run.stderr
    report = run.json()
    results: Results = {}
    for result in report["results"]:
        key = (result["package"], result["name"])
        assert key not in results, key
        failed = result.get("failed_at")
        error = _ERROR.match(result["detail"]) if result["status"] == "error" else None
        results[key] = Outcome(result["status"],
                               (result["location"]["file"], result["location"]["row"]),
                               (failed["file"], failed["row"]) if failed else None,
                               result.get("output", ""),
                               (error[1], int(error[2]), error[3]) if error else None)
    return run.exit_code, results, report


def test_every_suite_of_the_corpus_is_compared() -> None:
    assert sorted(SUITES) == sorted(p.name for p in CORPUS.iterdir() if p.is_dir())


def test_the_corpus_is_not_trivial() -> None:
    """What OPA says of the corpus as a whole: enough tests, and of every kind."""
    every = [(suite, key, outcome) for suite in SUITES
             for key, outcome in opa_says(suite)[1].items()]
    statuses = [outcome.status for _, _, outcome in every]
    assert len(every) >= 90
    assert statuses.count("pass") >= 60
    assert statuses.count("fail") >= 10
    assert statuses.count("error") >= 3
    assert statuses.count("skip") >= 4
    assert sum(1 for _, _, o in every if o.output) >= 3
    assert sum(1 for _, (_, name), _ in every if "#0" in name) >= 5  # same-name tests
    assert any('["' in package for _, (package, _), _ in every)  # quoted packages
    assert {suite for suite in SUITES if SUITES[suite][1]} >= {"conftest-k8s", "mixed-v0-v1"}
    failing = [o for _, _, o in every if o.status == "fail"]
    assert all(o.failed_at is not None for o in failing if o.location[0].endswith("_test.rego"))


@pytest.mark.parametrize("engine", ["opa", "opa-server"])
@pytest.mark.parametrize("suite", sorted(SUITES))
def test_policy_test_gives_what_opa_test_gives(suite: str, engine: str,
                                               monkeypatch: pytest.MonkeyPatch) -> None:
    opa_exit, expected = opa_says(suite)
    exit_code, got, report = govops_says(suite, engine, monkeypatch)
    assert sorted(got) == sorted(expected)
    differences = {key: (got[key], expected[key]) for key in expected
                   if got[key] != expected[key]}
    assert differences == {}
    counts = {s: sum(1 for o in expected.values() if o.status == s)
              for s in ("pass", "fail", "error", "skip")}
    assert report["counts"] == counts
    assert (exit_code != 0) == (opa_exit != 0)
    stopped = [r for r in report["results"] if "a builtin error, undefined for opa test" in
               r["detail"]]
    assert all(r["status"] in ("pass", "fail") for r in stopped)
    if SUITES[suite][1] == V0:
        assert report["v0"], "a v0 suite is read through OPA's converter, and says so"


@pytest.mark.parametrize("suite", sorted(SUITES))
def test_rego_cpp_differs_from_opa_only_where_it_says_so(suite: str,
                                                         monkeypatch: pytest.MonkeyPatch
                                                         ) -> None:
    """The last-resort engine: each test has OPA's verdict or is an error that says why and
    names OPA's verdict; a suite rego-cpp cannot load at all is refused with one line naming
    the file."""
    _, expected = opa_says(suite)
    monkeypatch.chdir(CORPUS / suite)
    run = govops("policy", "test", "--engine", "regopy", "--format", "json", *SUITES[suite][0])
    if run.exit_code == 2:  # refused whole: one line naming the file and rego-cpp
        assert run.stdout == ""
        assert len(run.stderr.strip().splitlines()) == 1
        assert re.match(r"govops: error: \S+\.rego:\d+: ", run.stderr), run.stderr
        assert "regopy" in run.stderr or "rego-cpp" in run.stderr, run.stderr
        return
    report = run.json()
    got = {(r["package"], r["name"]): r for r in report["results"]}
    assert sorted(got) == sorted(expected)
    for key, outcome in expected.items():
        ours = got[key]
        assert ours["status"] in (outcome.status, "error"), (key, ours, outcome)
        if ours["status"] != outcome.status:  # an error that names OPA's verdict
            assert f"OPA's test runner says {outcome.status}" in ours["detail"], (key, ours)


def test_the_corpus_has_tests_that_builtin_errors_stop(monkeypatch: pytest.MonkeyPatch) -> None:
    """opa test reads a builtin error as undefined, where every backend stops: the corpus has
    such tests, and each says whose verdict it has."""
    stopped = [r["name"] for suite in SUITES
               for r in govops_says(suite, "opa", monkeypatch)[2]["results"]
               if "a builtin error, undefined for opa test: OPA's test runner says" in
               r["detail"]]
    assert len(stopped) >= 5, stopped


def _suite(root: Path, files: dict[str, str]) -> Path:
    for name, text in files.items():
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_text(text)
    return root


def _both(root: Path, engine: str, *flags: str) -> tuple[dict[str, str], dict[str, str]]:
    """(opa test's verdicts, govops policy test's) by test name."""
    done = subprocess.run([str(OPA_BINARY), "test", "--format", "json", *flags, "."],
                          cwd=root, capture_output=True, text=True, check=False)
    assert done.returncode in (0, 2), done.stderr
    theirs = {r["name"]: _status(r) for r in json.loads(done.stdout)}
    run = govops("policy", "test", "--engine", engine, "--format", "json", str(root))
    assert run.exit_code in (0, 1), run.stderr
    return theirs, {r["name"]: r["status"] for r in run.json()["results"]}


@pytest.mark.parametrize("engine", ["opa", "opa-server"])
def test_builtins_rego_v1_dropped_run_as_in_v0(tmp_path: Path, engine: str) -> None:
    """re_match, any, all, set_diff, net.cidr_overlap and cast_* are refused by OPA's v0 to v1
    converter; their calls are rewritten, never inside a string or a comment."""
    root = _suite(tmp_path / "suite", {"p.rego": """package p

# any(x) in a comment stays
deny[msg] {
\tre_match("^a", input.name)
\tnot any([false, input.flag])
\tall([true])
\tset_diff({1, 2}, {2}) == {1}
\tnet.cidr_overlap("10.0.0.0/8", "10.1.0.0/16")
\tcast_set([1, 1]) == {1}
\tmsg := "re_match(\\"x\\") # any(y) `all(z)`"
}

bad_any := any(input.x)
""", "p_test.rego": """package p

test_deny {
\tdeny["re_match(\\"x\\") # any(y) `all(z)`"] with input as {"name": "ab", "flag": false}
}

test_flag {
\tcount(deny) == 0 with input as {"name": "ab", "flag": true}
}

test_no_match {
\tcount(deny) == 0 with input as {"name": "b", "flag": false}
}

test_any_of_a_string_is_undefined {
\tnot bad_any with input as {"x": "not a collection"}
}

test_any_of_a_string_is_not_false {
\tbad_any == false with input as {"x": "not a collection"}
}
"""})
    theirs, ours = _both(root, engine, "--v0-compatible")
    assert ours == theirs
    assert ours == {"test_deny": "pass", "test_flag": "pass", "test_no_match": "pass",
                    "test_any_of_a_string_is_undefined": "pass",
                    "test_any_of_a_string_is_not_false": "fail"}


def test_a_v0_module_the_converter_refuses_is_one_line_with_its_reason(tmp_path: Path) -> None:
    """A v0 rule named `contains` (a v1 keyword) runs in OPA's v0 mode but has no v1 form:
    the one line says why, where."""
    root = _suite(tmp_path / "suite", {"p.rego": "package p\n\ncontains[x] {\n\tx := 1\n}\n",
                                       "p_test.rego": "package p\n\ntest_x {\n\ttrue\n}\n"})
    run = govops("policy", "test", "--engine", "opa", str(root))
    assert run.exit_code == 2 and run.stdout == ""
    assert len(run.stderr.strip().splitlines()) == 1
    assert f"{root / 'p.rego'}:" in run.stderr
    reason = run.stderr.split("read as Rego v0, OPA's converter refuses it: ")[1]
    assert "contains keyword cannot be used for rule name" in reason


@pytest.mark.parametrize("engine", ["opa", "opa-server"])
def test_skipped_tests_fail_the_run_unless_z_as_opa_test(tmp_path: Path, engine: str) -> None:
    root = _suite(tmp_path / "suite", {"p.rego": "package p\n\ntest_a if true\n\n"
                                       "todo_test_b if false\n"})
    opa = subprocess.run([str(OPA_BINARY), "test", "."], cwd=root, capture_output=True,
                         check=False)
    opa_z = subprocess.run([str(OPA_BINARY), "test", "-z", "."], cwd=root,
                           capture_output=True, check=False)
    assert (opa.returncode, opa_z.returncode) == (2, 0)
    run = govops("policy", "test", "--engine", engine, str(root))
    assert run.exit_code == 1
    assert f"SKIP  p.todo_test_b ({root / 'p.rego'}:5)" in run.stdout
    assert run.stdout.strip().endswith(f"{engine}: 1 passed, 0 failed, 1 skipped")
    assert govops("policy", "test", "--engine", engine, "-z", str(root)).exit_code == 0


def test_rego_cpp_says_where_its_verdict_is_not_opas(tmp_path: Path) -> None:
    """Iterating two collections with one `some i, j` finds matches on OPA and none on
    rego-cpp (docs/policies.md): the test is an error naming both verdicts, not a failure."""
    root = _suite(tmp_path / "suite", {"p_test.rego": """package p

import rego.v1

xs := ["a", "b"]

ys := ["c", "b"]

test_common if {
\tsome i, j
\txs[i] == ys[j]
}

test_plain if {
\tcount(xs) == 2
}
"""})
    done = subprocess.run([str(OPA_BINARY), "test", "--format", "json", "."], cwd=root,
                          capture_output=True, text=True, check=False)
    assert {r["name"]: _status(r) for r in json.loads(done.stdout)} == {
        "test_common": "pass", "test_plain": "pass"}
    run = govops("policy", "test", "--engine", "regopy", "--format", "json", str(root))
    got = {r["name"]: r for r in run.json()["results"]}
    assert got["test_plain"]["status"] == "pass"
    assert got["test_common"]["status"] == "error"
    assert got["test_common"]["detail"].startswith(
        "rego-cpp says fail, OPA's test runner says pass")
    assert run.exit_code == 1
