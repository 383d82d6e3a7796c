"""Every kind of bad input: exit 2, one line on stderr naming the file and line, nothing written."""

from __future__ import annotations

from pathlib import Path

import pytest

from engine.repo.scripted import Step
from tests.support.cli import assert_input_error, check
from tests.support.repos import ENGINES, make_repo
from tests.support.samples import ENVIRONMENT, GOOD, MODEL


def _bad(tmp_path: Path, write: dict[str, str | bytes] | None = None,
         symlinks: dict[str, str] | None = None) -> Path:
    root = tmp_path / "repo"
    make_repo(root, Step("good", GOOD),
              Step("bad", write or {}, symlinks=symlinks or {}))
    return root


CASES = {
    "malformed YAML": (
        {"models/tiny.yaml": MODEL.replace("format: safetensors", "format: [safetensors")},
        "models/tiny.yaml:9: malformed YAML"),  # the line of the unclosed `[`
    "unknown kind": (
        {"models/tiny.yaml": MODEL.replace("kind: Model", "kind: Modle")},
        "models/tiny.yaml:2: unknown kind 'Modle'"),
    "unknown apiVersion": (
        {"models/tiny.yaml": MODEL.replace("govops.dev/v1", "govops.dev/v9")},
        "models/tiny.yaml:1: unsupported apiVersion 'govops.dev/v9'"),
    "missing required field": (
        {"models/tiny.yaml": MODEL.replace("  source: hf://acme/tiny\n", "")},
        "models/tiny.yaml:5: missing required field spec.source"),
    "wrong type": (
        {"environments/serve.yaml": ENVIRONMENT.replace('python: "3.11"', "python: 3.11")},
        "environments/serve.yaml:6: spec.python must be a string; quote it"),
    "misspelt field": (
        {"models/tiny.yaml": MODEL.replace("license:", "licence:")},
        "models/tiny.yaml:10: unknown field spec.licence (did you mean 'license'?)"),
    "duplicate name": (
        {"models/copy.yaml": MODEL},
        "models/tiny.yaml:4: duplicate Model name 'tiny' (also in models/copy.yaml:4)"),
    "lockfile that does not exist": (
        {"environments/serve.yaml": ENVIRONMENT.replace("serve.txt", "gone.txt")},
        "environments/serve.yaml:8: lockfile 'environments/gone.txt' does not exist"),
    "lockfile outside the repo": (
        {"environments/serve.yaml": ENVIRONMENT.replace("environments/serve.txt", "../x.txt")},
        "environments/serve.yaml:8: lockfile '../x.txt' must be a path inside the repository"),
    "bad lockfile line": (
        {"environments/serve.txt": "numpy==2.1.0\n-c constraints.txt\n"},
        "environments/serve.txt:2: -c is not allowed in a lock file"),
    "missing -r include": (
        {"environments/serve.txt": "numpy==2.1.0\n-r base.txt\n"},
        "environments/serve.txt:2: -r base.txt: environments/base.txt does not exist"),
    "non-UTF-8 file": (
        {"models/tiny.yaml": MODEL.encode().replace(b"hf://acme/tiny", b"hf://acme/t\xe9ny")},
        "models/tiny.yaml:6: not UTF-8 text"),
    "Config outside the root": (
        {"sub/govops.yaml": "apiVersion: govops.dev/v1\nkind: Config\n"},
        "sub/govops.yaml:2: a Config belongs in govops.yaml at the repo root"),
    "policies path with no policy": (
        {"govops.yaml": "apiVersion: govops.dev/v1\nkind: Config\npolicies:\n  paths:\n"
                        "    - policies/\n"},
        "govops.yaml:5: policies path 'policies/' holds no .rego file"),
    "Rego syntax error in a repo-local policy": (
        {"govops.yaml": "apiVersion: govops.dev/v1\nkind: Config\n"
                        "policies:\n  paths: [policies/]\n",
         "policies/local.rego": "package govops.policies.local\n\nimport rego.v1\n\n"
                                "deny contains v if {\n  v := {\"id\": \"X\",, }\n}\n"},
        "policies/local.rego:"),
}


@pytest.mark.parametrize("engine", ENGINES)
@pytest.mark.parametrize("case", sorted(CASES))
def test_bad_input_is_one_line_exit_2(tmp_path: Path, case: str, engine: str) -> None:
    write, expected = CASES[case]
    root = _bad(tmp_path, write)
    out = tmp_path / "report.json"
    run = check(root, "--format", "json", "--output", str(out), engine=engine)
    assert_input_error(run, expected, out)


def test_rego_syntax_error_names_the_line(tmp_path: Path) -> None:
    write, _ = CASES["Rego syntax error in a repo-local policy"]
    root = _bad(tmp_path, write)
    for engine in ENGINES:
        run = check(root, engine=engine)
        assert run.exit_code == 2
        assert run.stderr.startswith("govops: error: policies/local.rego:6:"), run.stderr


def test_symlink_is_refused(tmp_path: Path) -> None:
    root = _bad(tmp_path, symlinks={"models/link.yaml": "tiny.yaml"})
    run = check(root)
    assert run.exit_code == 2
    assert run.stderr.strip() == ("govops: error: models/link.yaml: is a symlink; govops reads "
                                  "only regular files (commit the file itself)")


def test_symlinked_lockfile_is_refused(tmp_path: Path) -> None:
    root = _bad(tmp_path, {"environments/real.txt": GOOD["environments/serve.txt"]},
                symlinks={"environments/serve.txt": "real.txt"})
    run = check(root)
    assert run.exit_code == 2
    assert run.stderr.startswith("govops: error: environments/serve.txt: is a symlink")


@pytest.mark.parametrize("flag", ["--rev", "--base"])
def test_unknown_revision_names_it(tmp_path: Path, flag: str) -> None:
    root = _bad(tmp_path)
    run = check(root, flag, "no-such-branch")
    assert run.exit_code == 2
    assert run.stderr.startswith("govops: error: unknown revision 'no-such-branch'")
    assert len(run.stderr.strip().splitlines()) == 1


def test_not_a_repository(tmp_path: Path) -> None:
    run = check(tmp_path)
    assert run.exit_code == 2
    assert "not a git repository" in run.stderr


def test_staged_and_rev_together_is_a_usage_error(tmp_path: Path) -> None:
    run = check(_bad(tmp_path), "--staged", "--rev", "HEAD")
    assert run.exit_code == 2
    assert "cannot be combined" in run.stderr


def test_the_good_repo_itself_is_accepted(tmp_path: Path) -> None:
    """Guards the cases above: they fail for their own reason, not because GOOD is bad."""
    root = tmp_path / "repo"
    make_repo(root, Step("good", GOOD))
    run = check(root, "--format", "json")
    assert run.exit_code in (0, 1), run.stderr
    assert run.json()["objects"] == 2
