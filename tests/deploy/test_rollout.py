"""`spec.rollout.timeoutSeconds`: how long apply waits for a Deployment to roll out (the
provider's `pulumi.com/timeoutSeconds` and Kubernetes' `progressDeadlineSeconds`), and Jobs
not awaited beyond their creation (a training run outlives any apply)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from engine.repo.scripted import Step
from tests.support.cli import assert_input_error, govops
from tests.support.repos import NOW, fixture, make_repo, unwaived

STACK_FILE = "stacks/prod-inference.yaml"


def _repo(tmp_path: Path, rollout: bytes) -> Path:
    files = unwaived(fixture("acme-ml"))
    files[STACK_FILE] = files[STACK_FILE].replace(b"  pulumi:\n", rollout + b"  pulumi:\n")
    make_repo(tmp_path / "repo", Step("acme", files))
    return tmp_path / "repo"


def _planned(repo: Path, stack: str, out: Path) -> dict[str, Any]:
    run = govops("plan", "--repo", str(repo), "--stack", stack, "--output", str(out), "--now",
                 NOW)
    assert run.exit_code == 0, run.stderr
    return {p.name: yaml.safe_load(p.read_text()) for p in out.glob("*.yaml")}


def test_the_stacks_timeout_bounds_every_deployments_rollout(tmp_path: Path) -> None:
    repo = _repo(tmp_path, b"  rollout:\n    timeoutSeconds: 90\n")
    manifests = _planned(repo, "prod-inference", tmp_path / "plan")
    deployments = [m for m in manifests.values() if m["kind"] == "Deployment"]
    assert len(deployments) == 3
    for deployment in deployments:
        assert deployment["spec"]["progressDeadlineSeconds"] == 90
        assert deployment["metadata"]["annotations"]["pulumi.com/timeoutSeconds"] == "90"


def test_without_it_the_providers_ten_minutes_hold(tmp_path: Path) -> None:
    repo = _repo(tmp_path, b"")
    chat = _planned(repo, "prod-inference", tmp_path / "plan")["inference.deployment.chat.yaml"]
    assert chat["spec"]["progressDeadlineSeconds"] == 600
    assert chat["metadata"]["annotations"]["pulumi.com/timeoutSeconds"] == "600"


def test_a_training_job_is_not_awaited_to_completion(tmp_path: Path) -> None:
    repo = _repo(tmp_path, b"")
    jobs = [m for m in _planned(repo, "dev-sandbox", tmp_path / "plan").values()
            if m["kind"] == "Job"]
    # awaited until the API server holds it: a custom waitFor, not skipAwait, which would also
    # skip awaiting its deletion when a changed template replaces it
    assert jobs and all(j["metadata"]["annotations"]["pulumi.com/waitFor"] ==
                        "jsonpath={.metadata.uid}" for j in jobs)
    assert not any("pulumi.com/skipAwait" in j["metadata"]["annotations"] for j in jobs)


def test_a_timeout_that_is_not_a_positive_integer_is_an_input_error(tmp_path: Path) -> None:
    zero = _repo(tmp_path / "zero", b"  rollout:\n    timeoutSeconds: 0\n")
    run = govops("plan", "--repo", str(zero), "--stack", "prod-inference", "--now", NOW)
    assert_input_error(run, f"{STACK_FILE}:37: spec.rollout.timeoutSeconds: 0 is not a "
                            "positive number of seconds")
    text = _repo(tmp_path / "text", b"  rollout:\n    timeoutSeconds: 10m\n")
    run = govops("plan", "--repo", str(text), "--stack", "prod-inference", "--now", NOW)
    assert_input_error(run, f"{STACK_FILE}:37: spec.rollout.timeoutSeconds")
