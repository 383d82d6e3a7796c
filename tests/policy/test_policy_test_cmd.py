"""`govops policy test`: the library's Rego tests pass on both backends, per test, and every
policy id has deny and allow cases."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from engine.shipped import library_dir
from tests.support.cli import govops
from tests.support.repos import ENGINES
from tests.support.samples import ALL_IDS


@pytest.mark.parametrize("engine", ENGINES)
def test_library_tests_pass_and_are_reported_one_by_one(engine: str) -> None:
    run = govops("policy", "test", "--engine", engine, "--verbose")
    assert run.exit_code == 0, run.stdout
    lines = [ln for ln in run.stdout.splitlines() if ln.startswith(("PASS", "FAIL", "ERROR"))]
    assert len(lines) >= 2 * len(ALL_IDS)
    assert all(ln.startswith("PASS ") for ln in lines)
    summary = run.stdout.strip().splitlines()[-1]
    assert re.fullmatch(rf"{engine}: {len(lines)} passed, 0 failed", summary)
    if engine == "opa":
        assert re.search(r"coverage +\d+\.\d%  @govops/mdl_001\.rego", run.stdout)


def test_every_policy_id_has_a_deny_and_an_allow_test() -> None:
    root = library_dir()
    for policy_id in sorted(ALL_IDS):
        stem = policy_id.lower().replace("-", "_")
        assert (root / f"{stem}.rego").exists(), policy_id
        tests = (root / f"{stem}_test.rego").read_text()
        assert re.search(r"^test_denies_\w+", tests, re.M), f"{policy_id}: no test_denies_*"
        assert re.search(r"^test_allows_\w+", tests, re.M), f"{policy_id}: no test_allows_*"
        source = (root / f"{stem}.rego").read_text()
        assert f"id: {policy_id}" in source and "severity:" in source and "remediation:" in source


def _write(tmp_path: Path, test_body: str) -> Path:
    folder = tmp_path / "local"
    folder.mkdir()
    (folder / "local.rego").write_text(
        "package govops.policies.local\n\nimport rego.v1\n\n"
        "deny contains v if {\n  some name, m in input.objects.Model\n"
        "  not m.spec.task\n"
        '  v := {"id": "LOCAL-1", "msg": "no task", "kind": "Model", "name": name}\n}\n')
    (folder / "local_test.rego").write_text(
        "package govops.policies.local_test\n\nimport rego.v1\n\n" + test_body)
    return folder


@pytest.mark.parametrize("engine", ENGINES)
def test_failing_and_erroring_tests_fail_the_run(tmp_path: Path, engine: str) -> None:
    folder = _write(tmp_path, (
        "test_denies_passes if {\n"
        '  r := data.govops.policies.local.deny with input.objects as {"Model": {"m": {"spec": {}}}}\n'
        "  count(r) == 1\n}\n\n"
        "test_allows_wrong if {\n"
        '  r := data.govops.policies.local.deny with input.objects as {"Model": {"m": {"spec": {}}}}\n'
        "  count(r) == 0\n}\n"))
    run = govops("policy", "test", "--engine", engine, str(folder))
    assert run.exit_code == 1
    assert re.search(r"^FAIL +govops\.policies\.local_test\.test_allows_wrong \(.*local_test\.rego:10",
                     run.stdout, re.M)
    assert run.stdout.strip().endswith(f"{engine}: 1 passed, 1 failed")


def test_a_test_using_a_builtin_regopy_lacks_is_an_error_there(tmp_path: Path) -> None:
    folder = _write(tmp_path, 'test_graphql if {\n  graphql.is_valid("{ q }", "type Query { q: Int }")\n}\n')
    assert govops("policy", "test", "--engine", "opa", str(folder)).exit_code == 0
    run = govops("policy", "test", "--engine", "regopy", str(folder))
    assert run.exit_code == 2
    assert "graphql.is_valid is not a builtin of the regopy backend" in run.stderr


def _governed(tmp_path: Path, local_policies: bool = True) -> Path:
    from engine.repo.scripted import Step
    from tests.support.repos import fixture, make_repo

    files = fixture("acme-ml")
    if not local_policies:
        files = {p: v for p, v in files.items() if not p.startswith("policies/")}
        files["govops.yaml"] = b"apiVersion: govops.dev/v1\nkind: Config\n"
    make_repo(tmp_path / "repo", Step("acme", files))
    return tmp_path / "repo"


def test_repo_runs_the_governed_repos_own_tests_as_staged(tmp_path: Path) -> None:
    import pygit2

    from engine.repo.scripted import stage

    repo = _governed(tmp_path)
    run = govops("policy", "test", "--repo", str(repo), "--engine", "opa", "--verbose")
    assert run.exit_code == 0, run.stdout
    assert run.stdout.count("PASS  govops.policies.acme_001_test.") == 2
    assert "coverage 100.0%  policies/acme_001.rego" in run.stdout
    assert "@govops/" not in run.stdout  # the library's own coverage is not this run's
    test_file = "policies/acme_001_test.rego"
    broken = (repo / test_file).read_text().replace("count(results) == 0", "count(results) == 9")
    stage(pygit2.Repository(str(repo)), write={test_file: broken})
    run = govops("policy", "test", "--repo", str(repo), "--engine", "opa")
    assert run.exit_code == 1
    assert "FAIL  govops.policies.acme_001_test.test_allows_model_with_an_acme_owner" in run.stdout


def test_repo_without_local_policies_has_nothing_to_test(tmp_path: Path) -> None:
    repo = _governed(tmp_path, local_policies=False)
    run = govops("policy", "test", "--repo", str(repo))
    assert run.exit_code == 0
    assert "govops.yaml declares no policies (policies.paths): nothing to test" in run.stdout


def test_repo_and_paths_are_exclusive(tmp_path: Path) -> None:
    run = govops("policy", "test", "--repo", str(tmp_path), str(tmp_path))
    assert run.exit_code == 2
    assert run.stderr.strip() == "govops: error: give PATHS or --repo, not both"


# -- issue 17: what a failing test says, durations, and which tests run where --------------------


@pytest.mark.parametrize("engine", ENGINES)
def test_a_failing_test_names_the_expression_that_failed(tmp_path: Path, engine: str) -> None:
    """Not "got None": the line of the test that failed, traced by the official OPA."""
    folder = _write(tmp_path, (
        "test_allows_wrong if {\n"
        '  r := data.govops.policies.local.deny with input.objects as {"Model": {"m": {"spec": {}}}}\n'
        "  count(r) == 0\n}\n"))
    run = govops("policy", "test", "--engine", engine, str(folder))
    assert run.exit_code == 1
    detail = run.stdout.splitlines()[1].strip()
    assert detail.startswith(f"fails at {folder / 'local_test.rego'}:7: count(r) == 0"), detail


@pytest.mark.parametrize("engine", ENGINES)
def test_verbose_times_each_test_on_its_own(engine: str) -> None:
    """OPA's test runner's own duration of each test, whichever backend judged them."""
    run = govops("policy", "test", "--engine", engine, "--verbose")
    assert run.exit_code == 0
    durations = re.findall(r"^PASS .*, ([0-9.]+) ms\)$", run.stdout, re.M)
    assert len(durations) > 100
    assert len(set(durations)) > 5  # each its own, not one batch's time shared out (1 value)


def test_inside_a_governed_repo_its_own_tests_run(tmp_path: Path,
                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    repo = _governed(tmp_path)
    monkeypatch.chdir(repo / "models")
    run = govops("policy", "test", "--engine", "opa", "--verbose")
    assert run.exit_code == 0, run.stdout + run.stderr
    assert run.stdout.count("PASS  govops.policies.acme_001_test.") == 2
    assert "@govops/" not in run.stdout
    assert f"testing the policies of the governed repository {repo}" in run.stderr
    library = govops("policy", "test", "--engine", "opa", "--library")
    assert library.exit_code == 0 and "@govops/mdl_001.rego" in library.stdout


def test_an_unstaged_govops_yaml_is_said_not_nothing_to_test(tmp_path: Path) -> None:
    import pygit2

    pygit2.init_repository(str(tmp_path / "new"))
    (tmp_path / "new" / "govops.yaml").write_text(
        "apiVersion: govops.dev/v1\nkind: Config\npolicies:\n  paths: [policies/]\n")
    run = govops("policy", "test", "--repo", str(tmp_path / "new"))
    assert run.exit_code == 2
    assert run.stderr.strip() == (f"govops: error: {tmp_path / 'new' / 'govops.yaml'} is not "
                                  "staged: the policies tested are those of what is staged "
                                  "(what the hook tests); git add it")
