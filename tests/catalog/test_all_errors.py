"""Every input error of a revision in one run (issue 17): two typos in two files are two lines
of one run, not one run each. Still exit 2 and nothing written; one line per error, each with
its file and line. And the messages point at the mistake: a misspelt required field is named
as the typo it is, case aside, and a YAML error is reported where the mistake is, not where
libyaml noticed it."""

from __future__ import annotations

from pathlib import Path

import pytest

from engine.catalog.schema import suggest
from engine.catalog.yamldoc import parse_yaml
from engine.errors import InputError, InputErrors
from engine.repo.scripted import Step
from tests.support.cli import assert_input_error, check
from tests.support.repos import ENGINES, make_repo
from tests.support.samples import ENVIRONMENT, GOOD, MODEL

DATASET = """apiVersion: govops.dev/v1
kind: Dataset
metadata:
  name: docs
spec:
  source: s3://acme/docs/
  digest: sha256:{d}
  license: CC-BY-4.0
  pii: false
""".format(d="3" * 64)


def _repo(tmp_path: Path, write: dict[str, str]) -> Path:
    root = tmp_path / "repo"
    make_repo(root, Step("good", {**GOOD, "datasets/docs.yaml": DATASET}), Step("bad", write))
    return root


@pytest.mark.parametrize("engine", ENGINES)
def test_three_errors_in_three_files_are_reported_in_one_run(tmp_path: Path,
                                                             engine: str) -> None:
    root = _repo(tmp_path, {
        "models/tiny.yaml": MODEL.replace("  format: safetensors", "  format safetensors"),
        "datasets/docs.yaml": DATASET.replace("  pii: false", "  PII: false"),
        "environments/serve.txt": GOOD["environments/serve.txt"] + "-c constraints.txt\n",
    })
    out = tmp_path / "report.json"
    run = check(root, "--format", "json", "--output", str(out), engine=engine)
    assert run.exit_code == 2, run.stdout + run.stderr
    assert run.stdout == "" and not out.exists()
    assert run.stderr.splitlines() == [
        "govops: error: datasets/docs.yaml:9: unknown field spec.PII (did you mean 'pii'?)",
        "govops: error: environments/serve.txt:2: -c is not allowed in a lock file: list "
        "every package here, pinned and hashed",
        "govops: error: models/tiny.yaml:9: malformed YAML: missing ':' after "
        "'format safetensors'",
    ]


def test_one_error_is_still_one_line(tmp_path: Path) -> None:
    root = _repo(tmp_path, {"models/tiny.yaml": MODEL.replace("license:", "licence:")})
    assert_input_error(check(root), "models/tiny.yaml:10: unknown field spec.licence "
                                    "(did you mean 'license'?)")


def test_an_environment_in_error_does_not_hide_its_neighbours(tmp_path: Path) -> None:
    """A lock file named by a broken environment is not read; the other files still are."""
    root = _repo(tmp_path, {
        "environments/serve.yaml": ENVIRONMENT.replace("serve.txt", "gone.txt"),
        "models/tiny.yaml": MODEL.replace("kind: Model", "kind: Modle"),
    })
    run = check(root)
    assert run.exit_code == 2
    assert [line.split(": ")[2] for line in run.stderr.splitlines()] == [
        "environments/serve.yaml:8", "models/tiny.yaml:2"]


def test_a_misspelt_required_field_is_named_as_the_typo(tmp_path: Path) -> None:
    """`metdata:` used to read "missing required field metadata" on line 1."""
    root = _repo(tmp_path, {"models/tiny.yaml": MODEL.replace("metadata:", "metdata:")})
    assert_input_error(check(root), "models/tiny.yaml:3: unknown field metdata (did you mean "
                                    "'metadata'?)")


@pytest.mark.parametrize(("word", "candidates", "expected"), [
    ("PII", ["pii", "source"], "pii"),
    ("Licence", ["license", "format"], "license"),
    ("metdata", ["metadata", "spec", "kind"], "metadata"),
    ("zzz", ["metadata", "spec"], None),
])
def test_suggestions_ignore_case(word: str, candidates: list[str],
                                 expected: str | None) -> None:
    assert suggest(word, candidates) == expected


@pytest.mark.parametrize(("text", "line", "message"), [
    ("a: 1\nspec:\n  source hf://x\n  revision: abc\n", 3, "missing ':' after 'source hf://x'"),
    ("a: 1\nkind: \"Model\nspec:\n  b: 2\n", 2,
     "found unexpected end of stream (while scanning a quoted scalar that starts here)"),
    ("a: 1\nspec: {b: 1\nc:\n  d: 2\n", 2,
     "did not find expected ',' or '}' (while parsing a flow mapping that starts here)"),
    ("a: 1\nspec:\n  b: 1\n   c: 2\n", 4, "mapping values are not allowed in this context"),
    ("a: 1\nspec:\n  url: http://x: y\n", 3, "mapping values are not allowed in this context"),
    ("a: 1\nspec:\n  format safetensors\n  license: MIT\n", 3,
     "missing ':' after 'format safetensors'"),
])
def test_a_yaml_error_is_reported_on_the_line_of_the_mistake(text: str, line: int,
                                                             message: str) -> None:
    with pytest.raises(InputError) as caught:
        parse_yaml("f.yaml", text.encode())
    assert (caught.value.line, caught.value.message) == (line, f"malformed YAML: {message}")


def test_input_errors_read_as_their_first() -> None:
    """Callers that expect one InputError (path, line, message) still get the first."""
    errors = InputErrors([InputError("b.yaml", 3, "x"), InputError("a.yaml", 9, "y")])
    assert (errors.path, errors.line, errors.message) == ("a.yaml", 9, "y")
    assert str(errors) == "a.yaml:9: y\nb.yaml:3: x"
