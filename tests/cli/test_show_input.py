"""`govops check --show-input` (issue 17): the input the policies read, exactly the document the
engine is given, printed instead of evaluated; bad input and bad flags are one line, exit 2."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

import engine.commands.check as check_module
from engine.repo.scripted import Step
from tests.support.cli import assert_input_error, check
from tests.support.repos import fixture, make_repo


@pytest.fixture
def acme(tmp_path: Path) -> Path:
    make_repo(tmp_path / "acme", Step("acme", fixture("acme-ml")))
    return tmp_path / "acme"


def test_the_printed_input_is_what_the_engine_is_given(acme: Path,
                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    given: list[Any] = []
    decide = check_module.decide

    def spy(backend: Any, bundle: Any, catalog: Any, document: Any, *rest: Any,
            **named: Any) -> Any:
        given.append(json.loads(json.dumps(document)))
        return decide(backend, bundle, catalog, document, *rest, **named)

    monkeypatch.setattr(check_module, "decide", spy)
    assert check(acme).exit_code in (0, 1)
    shown = check(acme, "--show-input")
    assert shown.exit_code == 0, shown.stderr
    assert json.loads(shown.stdout) == given[0]
    document = given[0]
    assert set(document["objects"]) >= {"Model", "Dataset", "Environment", "Stack", "Waiver"}
    assert document["environments"]["vllm-serve"]["packages"]  # the locked packages, in full


def test_show_input_writes_the_output_file(acme: Path, tmp_path: Path) -> None:
    out = tmp_path / "input.json"
    run = check(acme, "--show-input", "--output", str(out))
    assert run.exit_code == 0 and run.stdout == ""
    assert json.loads(out.read_text())["revision"]["commit"]


@pytest.mark.parametrize("extra", [("--record",), ("--base", "HEAD")])
def test_show_input_with_record_or_base_is_refused(acme: Path, extra: tuple[str, ...]) -> None:
    assert_input_error(check(acme, "--show-input", *extra),
                       "--show-input prints the input of one revision")


def test_show_input_of_a_broken_revision_is_the_input_error(acme: Path, tmp_path: Path) -> None:
    files = fixture("acme-ml")
    files["models/llama-3-8b-instruct.yaml"] = b"apiVersion: govops.dev/v1\nkind: Modle\n"
    make_repo(tmp_path / "bad", Step("bad", files))
    out = tmp_path / "input.json"
    assert_input_error(check(tmp_path / "bad", "--show-input", "--output", str(out)),
                       "models/llama-3-8b-instruct.yaml:2: unknown kind 'Modle'", out)


def test_now_takes_times_ahead(acme: Path) -> None:
    """`--now tomorrow` and `--now 'in 30 days'` (issue 17): which waivers will have expired."""
    import datetime as dt

    for text, days in (("tomorrow", 1), ("in 30 days", 30)):
        shown = check_module.input_document(check_module.CheckOptions(repo=acme, now=text))
        ahead = dt.datetime.fromisoformat(shown["now"].replace("Z", "+00:00"))
        expected = dt.datetime.now(dt.UTC) + dt.timedelta(days=days)
        assert abs((ahead - expected).total_seconds()) < 120, (text, shown["now"])
