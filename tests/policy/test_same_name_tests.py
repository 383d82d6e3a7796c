"""Two tests of one name in one package are two tests, as `opa test` runs them (the second
reported as `test_x#01`): Rego joins them into one rule, so a failing one was hidden by a
passing one and `policy test` passed where OPA's runner fails."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.support.cli import govops
from tests.support.repos import ENGINES

TESTS = """package t

import rego.v1

test_x if 1 == 1

test_x if 1 == 2

test_y if true
"""
MORE = """package t

import rego.v1

test_x if 2 == 2
"""


@pytest.mark.parametrize("engine", ENGINES)
def test_same_name_tests_run_and_fail_one_by_one(tmp_path: Path, engine: str) -> None:
    (tmp_path / "t_test.rego").write_text(TESTS)
    (tmp_path / "more_test.rego").write_text(MORE)
    run = govops("policy", "test", "--engine", engine, "--verbose", str(tmp_path))
    assert run.exit_code == 1, run.stdout + run.stderr
    assert f"{engine}: 3 passed, 1 failed" in run.stdout
    shown = [line.split(" (")[0] for line in run.stdout.splitlines()
             if line.startswith(("PASS", "FAIL"))]
    assert shown == ["PASS  t.test_x", "PASS  t.test_x#01", "FAIL  t.test_x#02",
                     "PASS  t.test_y"]


@pytest.mark.parametrize(("pattern", "shown"), [
    ("test_x#0[12]", ["PASS  t.test_x#01", "FAIL  t.test_x#02"]),
    (r"data\.t\.test_y$", ["PASS  t.test_y"]),
])
def test_run_selects_tests_by_name_as_opa_does(tmp_path: Path, pattern: str,
                                               shown: list[str]) -> None:
    (tmp_path / "t_test.rego").write_text(TESTS)
    (tmp_path / "more_test.rego").write_text(MORE)
    run = govops("policy", "test", "--engine", "opa", "-v", "--run", pattern, str(tmp_path))
    assert [line.split(" (")[0] for line in run.stdout.splitlines()
            if line.startswith(("PASS", "FAIL"))] == shown


def test_run_that_is_not_a_regular_expression_is_one_line(tmp_path: Path) -> None:
    run = govops("policy", "test", "--engine", "opa", "--run", "[", str(tmp_path))
    assert run.exit_code == 2
    assert run.stderr == ("govops: error: govops policy test: Invalid value for --run: '[' is "
                          "not a regular expression: unterminated character set at position 0 "
                          "(see 'govops policy test --help')\n")
