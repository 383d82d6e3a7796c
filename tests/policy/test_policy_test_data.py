"""`govops policy test PATHS` reads the JSON and YAML data files under PATHS as `opa test`
does (each at its folder's path below the root given, a file given itself at the root); a
`.json` PATH was read as Rego."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.support.cli import assert_input_error, govops
from tests.support.repos import ENGINES

TESTS = """package t

import rego.v1

test_nested_json if data.x.a == 1

test_nested_yaml if data.x.c == [3]

test_top if data.b == 2
"""


def _suite(root: Path) -> Path:
    (root / "x").mkdir(parents=True)
    (root / "x" / "foo.json").write_text('{"a": 1}')
    (root / "x" / "bar.yaml").write_text("c:\n  - 3\n")
    (root / "top.json").write_text('{"b": 2}')
    (root / "t_test.rego").write_text(TESTS)
    return root


@pytest.mark.parametrize("engine", ENGINES)
def test_data_files_are_read_as_opa_test_reads_them(tmp_path: Path, engine: str) -> None:
    run = govops("policy", "test", "--engine", engine, str(_suite(tmp_path / "suite")))
    assert run.exit_code == 0, run.stdout + run.stderr
    assert f"{engine}: 3 passed, 0 failed" in run.stdout


def test_a_json_path_given_itself_is_data_at_the_root(tmp_path: Path) -> None:
    root = _suite(tmp_path / "suite")
    run = govops("policy", "test", "--engine", "opa", str(root / "t_test.rego"),
                 str(root / "top.json"))
    assert "test_top" not in run.stdout.split("FAIL")[-1] if "FAIL" in run.stdout else True
    assert "opa: 1 passed, 2 failed" in run.stdout, run.stdout  # data.x was not given


def test_two_files_giving_one_key_two_values_are_refused(tmp_path: Path) -> None:
    root = _suite(tmp_path / "suite")
    (root / "x" / "other.json").write_text('{"a": 2}')
    assert_input_error(govops("policy", "test", "--engine", "opa", str(root)),
                       f"{root / 'x' / 'other.json'}: data.x.a is given another value")


def test_a_malformed_data_file_names_its_line(tmp_path: Path) -> None:
    root = _suite(tmp_path / "suite")
    (root / "x" / "foo.json").write_text('{\n  "a": 1,\n}\n')
    assert_input_error(govops("policy", "test", "--engine", "opa", str(root)),
                       f"{root / 'x' / 'foo.json'}:3: malformed JSON")


@pytest.mark.parametrize("engine", ENGINES)
def test_data_of_an_earlier_run_is_gone_in_the_next(tmp_path: Path, engine: str) -> None:
    """The resident OPA keeps data between commands: keys an earlier bundle loaded and this
    one does not have must not be there any more."""
    assert govops("policy", "test", "--engine", engine,
                  str(_suite(tmp_path / "first"))).exit_code == 0
    later = tmp_path / "later"
    later.mkdir()
    (later / "t_test.rego").write_text(
        "package t\n\nimport rego.v1\n\ntest_no_x if not data.x\n\ntest_no_b if not data.b\n")
    run = govops("policy", "test", "--engine", engine, str(later))
    assert run.exit_code == 0, run.stdout + run.stderr
    assert f"{engine}: 2 passed, 0 failed" in run.stdout
