"""Every error is one line on stderr, whatever it quotes: click's usage errors (four lines of
usage, hint and message before) and errors quoting data with control characters."""

from __future__ import annotations

from pathlib import Path

import pytest

from engine.errors import GovopsError, InputError, InputErrors, one_line
from engine.repo.scripted import Step
from tests.support.cli import check, govops, one_error_line
from tests.support.repos import make_repo
from tests.support.samples import GOOD, MODEL


@pytest.mark.parametrize(("args", "expected"), [
    (("check", "--bogus"),
     "govops: error: govops check: No such option '--bogus'. Did you mean '--base'? "
     "(see 'govops check --help')"),
    (("nosuch",), "govops: error: govops: No such command 'nosuch'. (see 'govops --help')"),
    (("--bogus",), "govops: error: govops: No such option '--bogus'. (see 'govops --help')"),
    (("audit", "nosuch"),
     "govops: error: govops audit: No such command 'nosuch'. (see 'govops audit --help')"),
    (("check", "--format", "nope"),
     "govops: error: govops check: Invalid value for '--format': 'nope' is not one of 'text', "
     "'json', 'markdown', 'sarif', 'junit', 'github'. (see 'govops check --help')"),
    (("policy", "test", "--library", "x"),  # raised by the command itself
     "govops: error: govops policy test: --library tests the shipped library: drop --repo and "
     "PATHS (see 'govops policy test --help')"),
    (("check", "--rev"),
     "govops: error: govops check: Option '--rev' requires an argument. "
     "(see 'govops check --help')"),
])
def test_usage_errors_are_one_line_exit_2(args: tuple[str, ...], expected: str) -> None:
    run = govops(*args)
    assert run.exit_code == 2
    assert run.stdout == ""
    assert run.stderr == expected + "\n"


def test_a_bare_group_still_shows_its_help() -> None:
    """`govops audit` with no command is a request for the list of commands, not a mistake
    to put in one line."""
    run = govops("audit")
    assert run.exit_code == 2
    assert "Commands:" in run.stdout + run.stderr


def test_control_characters_in_an_error_are_escapes() -> None:
    hostile = "a\nb\rc\x1b[31md\u2028e\u202ef\x00"
    assert one_line(hostile) == "a\\nb\\rc\\x1b[31md\\u2028e\\u202ef\\x00"
    assert str(InputError(f"models/{hostile}.yaml", 3, hostile)) == (
        "models/a\\nb\\rc\\x1b[31md\\u2028e\\u202ef\\x00.yaml:3: "
        "a\\nb\\rc\\x1b[31md\\u2028e\\u202ef\\x00")
    several = InputErrors([InputError("a.yaml", 1, "x\ny"), InputError("b.yaml", 2, "z")])
    assert str(several).splitlines() == ["a.yaml:1: x\\ny", "b.yaml:2: z"]


def test_a_file_name_with_a_newline_is_one_line(tmp_path: Path) -> None:
    """git allows any byte but NUL and '/' in a file name: a governed file called
    `evil\\nPASS.yaml` must not print a second line."""
    root = tmp_path / "repo"
    bad = MODEL.replace("license: MIT", "license: [MIT")
    make_repo(root, Step("good", {**GOOD, "models/evil\nPASS\x1b[0m.yaml": bad}))
    line = one_error_line(check(root))
    assert line.startswith("govops: error: models/evil\\nPASS\\x1b[0m.yaml:10: malformed YAML")


def test_a_generic_error_with_a_newline_is_one_line() -> None:
    import click

    from engine.cli.errors import HandledCommand

    @click.command(cls=HandledCommand)
    def boom() -> None:
        raise GovopsError("first\nsecond \x1b]0;title\x07")

    from click.testing import CliRunner

    result = CliRunner().invoke(boom, [])
    assert result.exit_code == 2
    assert result.stderr == "govops: error: first\\nsecond \\x1b]0;title\\x07\n"
