"""The NVIDIA GPU operator as a pinned Helm release, when a Stack asks for it (spec.gpu.operator).

dev-sandbox in fixtures/acme-ml asks for it (v25.3.4, driver disabled); prod-inference does not.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pulumi.runtime.mocks
import pytest
import yaml

from engine.commands.plan import PlanOptions, stack_spec
from engine.deploy.mock import capture, load_program
from engine.deploy.spec import StackSpec
from engine.repo.scripted import Step
from engine.shipped import programs_dir
from tests.support.cli import assert_input_error, check, govops
from tests.support.repos import NOW, fixture, make_repo, unwaived

STACK_FILE = "stacks/dev-sandbox.yaml"
RELEASE_FILE = "gpu-operator.release.gpu-operator.yaml"


def sandbox_with(operator: str | None) -> dict[str, bytes]:
    """acme-ml with dev-sandbox's `operator:` block replaced by `operator` (None: removed)."""
    files = unwaived(fixture("acme-ml"))
    text = files[STACK_FILE].decode()
    start = text.index("    operator:")
    end = text.index("  workloads:")
    files[STACK_FILE] = (text[:start] + (operator or "") + text[end:]).encode()
    return files


def plan_json(repo: Path, *args: str) -> Any:
    run = govops("plan", "--repo", str(repo), "--stack", "dev-sandbox", "--format", "json", *args)
    assert run.exit_code == 0, run.stderr
    return run.json()


def test_the_operator_is_a_pinned_release_in_its_own_privileged_namespace(
        acme: Path, tmp_path: Path) -> None:
    out = tmp_path / "out"
    result = plan_json(acme, "--output", str(out))
    files = {m["file"] for m in result["manifests"]}
    assert {RELEASE_FILE, "_cluster.namespace.gpu-operator.yaml"} <= files
    release = yaml.safe_load((out / RELEASE_FILE).read_text())
    assert release == {
        "apiVersion": "helm.sh/v3", "kind": "Release",
        "metadata": {"name": "gpu-operator", "namespace": "gpu-operator"},
        "spec": {"chart": "gpu-operator", "version": "v25.3.4",
                 "repositoryOpts": {"repo": "https://helm.ngc.nvidia.com/nvidia"},
                 "values": {"driver": {"enabled": False}}, "createNamespace": False,
                 "atomic": True, "cleanupOnFail": True, "timeout": 900, "maxHistory": 10,
                 "compat": "true"}}
    namespace = yaml.safe_load((out / "_cluster.namespace.gpu-operator.yaml").read_text())
    assert namespace["metadata"]["labels"]["pod-security.kubernetes.io/enforce"] == "privileged"


def test_every_workload_waits_for_the_operator(acme: Path,
                                               monkeypatch: pytest.MonkeyPatch) -> None:
    """Pods requesting nvidia.com/gpu stay Pending until the operator's device plugin runs, so
    the quota and every workload depend on the release (as the engine is told)."""
    seen: dict[str, tuple[str, list[str]]] = {}
    original = pulumi.runtime.mocks.MockMonitor.RegisterResource

    def recording(self: Any, request: Any) -> Any:
        seen[request.name] = (request.type, list(request.dependencies))
        return original(self, request)

    monkeypatch.setattr(pulumi.runtime.mocks.MockMonitor, "RegisterResource", recording)
    spec = stack_spec(PlanOptions(repo=acme, stack="dev-sandbox"))
    capture(load_program(programs_dir() / spec.program), spec, spec.program, spec.name)
    release_urns = [name for name, (typ, _) in seen.items()
                    if typ == "kubernetes:helm.sh/v3:Release"]
    assert release_urns == ["dev-sandbox-gpu-operator"]
    waiting = {name for name, (typ, deps) in seen.items()
               if any(d.endswith("::dev-sandbox-gpu-operator") for d in deps)}
    workloads = {name for name, (typ, _) in seen.items()
                 if typ.split(":")[-1] in ("Deployment", "Job", "Service", "ResourceQuota")}
    assert workloads and workloads <= waiting
    operator_ns = seen["dev-sandbox-gpu-operator"][1]
    assert [d.rsplit("::", 1)[-1] for d in operator_ns] == ["dev-sandbox-gpu-operator-namespace"]


def test_a_stack_that_does_not_ask_gets_no_operator(acme: Path) -> None:
    run = govops("plan", "--repo", str(acme), "--stack", "prod-inference", "--format", "json")
    assert run.exit_code == 0, run.stderr
    kinds = {m["kind"] for m in run.json()["manifests"]}
    assert "Release" not in kinds
    spec = stack_spec(PlanOptions(repo=acme, stack="prod-inference"))
    assert spec.gpu_operator is None
    assert StackSpec.from_json(spec.as_json()) == spec


def test_the_spec_round_trips_through_the_stack_config(acme: Path) -> None:
    spec = stack_spec(PlanOptions(repo=acme, stack="dev-sandbox"))
    assert spec.gpu_operator is not None and spec.gpu_operator.version == "v25.3.4"
    assert StackSpec.from_json(spec.as_json()) == spec


def test_a_new_revision_does_not_upgrade_the_release_a_new_version_does(tmp_path: Path) -> None:
    files = unwaived(fixture("acme-ml"))
    stack = files[STACK_FILE].decode()
    repo = tmp_path / "repo"
    make_repo(repo, Step("acme", files),
              Step("more playground replicas", {STACK_FILE: stack.replace(
                  "      replicas: 1\n      gpusPerReplica: 1\n  pulumi:",
                  "      replicas: 2\n      gpusPerReplica: 1\n  pulumi:")}),
              Step("operator v25.10.0", {STACK_FILE: stack.replace(
                  "      replicas: 1\n      gpusPerReplica: 1\n  pulumi:",
                  "      replicas: 2\n      gpusPerReplica: 1\n  pulumi:").replace(
                  "version: v25.3.4", "version: v25.10.0")}),
              )
    first = tmp_path / "first"
    plan_json(repo, "--rev", "HEAD~2", "--output", str(first))
    second = tmp_path / "second"
    scaled = plan_json(repo, "--rev", "HEAD~1", "--previous", str(first), "--output",
                       str(second))
    changed = {c["file"] for c in scaled["changes"]}
    assert "sandbox.deployment.playground.yaml" in changed
    assert RELEASE_FILE not in changed
    upgraded = plan_json(repo, "--previous", str(second))
    assert {"action": "update", "file": RELEASE_FILE, "kind": "release",
            "namespace": "gpu-operator", "name": "gpu-operator"} in upgraded["changes"]


@pytest.mark.parametrize(("operator", "line", "message"), [
    ("    operator:\n      version: latest\n", 18,
     "spec.gpu.operator.version must be an exact version such as v25.3.4"),
    ("    operator:\n      version: v25.3\n", 18,
     "spec.gpu.operator.version must be an exact version such as v25.3.4"),
    ("    operator:\n      version: '>=25.3.0'\n", 18,
     "spec.gpu.operator.version must be an exact version such as v25.3.4"),
    ("    operator:\n      namespace: gpu-operator\n", 17,
     "missing required field spec.gpu.operator.version"),
    ("    operator:\n      version: v25.3.4\n      chartPath: other\n", 19,
     "unknown field spec.gpu.operator.chartPath (did you mean 'chart'?)"),
])
def test_an_unpinned_or_malformed_operator_is_an_input_error(
        tmp_path: Path, operator: str, line: int, message: str) -> None:
    repo = tmp_path / "repo"
    make_repo(repo, Step("acme", sandbox_with(operator)))
    assert_input_error(check(repo), f"{STACK_FILE}:{line}: {message}")
    assert_input_error(govops("plan", "--repo", str(repo), "--stack", "dev-sandbox",
                              "--output", str(tmp_path / "out")),
                       f"{STACK_FILE}:{line}: {message}", tmp_path / "out")


def test_the_operator_cannot_share_the_workloads_namespace(tmp_path: Path) -> None:
    repo = tmp_path / "repo"
    make_repo(repo, Step("acme", sandbox_with(
        "    operator:\n      version: v25.3.4\n      namespace: sandbox\n")))
    assert check(repo).exit_code == 0  # structurally fine; the plan cannot build it
    assert_input_error(govops("plan", "--repo", str(repo), "--stack", "dev-sandbox",
                              "--now", NOW, "--output", str(tmp_path / "out")),
                       f"{STACK_FILE}:19: spec.gpu.operator.namespace: the operator needs its "
                       "own namespace", tmp_path / "out")
