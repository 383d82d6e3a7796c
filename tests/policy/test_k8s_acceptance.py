"""Issue 20's acceptance for manifest policies, end to end through `govops check`:
1. conftest's Kubernetes example, unchanged, denies a stack whose program renders an insecure
   Deployment (a team's own program, written before govops rendered secure manifests), at the
   stack's workload line, and passes once the stack uses the shipped program; a Gatekeeper
   ConstraintTemplate with its constraint (the kubernetes-security pack) does the same for a
   workload that opts out of the read-only root filesystem;
4. the stacks govops ships (the demo's, and the one `govops init` writes) pass the opt-in
   kubernetes-security pack and conftest's example."""

from __future__ import annotations

from pathlib import Path

import pytest

from engine.repo.scripted import Step
from tests.support.cli import check, govops
from tests.support.repos import ENGINES, ROOT, fixture, make_repo, unwaived

GO_TOOLS = ROOT / ".cache" / "go-tools" / "bin"
EXAMPLE = GO_TOOLS / "conftest-kubernetes-example" / "policy"
# deny.rego and labels.rego state the example's rules (kubernetes.rego is their helper);
# violation.rego and warn.rego deny every Deployment and warn on every Service by design
# ("deployments are not allowed"), so no manifest can satisfy them.
RULES = ("deny.rego", "labels.rego", "kubernetes.rego")
STACK = "stacks/prod-inference.yaml"
LEGACY = '''"""A team's own Pulumi program, written before govops rendered secure manifests: one
Deployment per workload, no securityContext, an `app` label only."""

import json

import pulumi
import pulumi_kubernetes as k8s


def program(spec):
    provider = k8s.Provider(f"{spec.name}-{spec.cluster_name}", context=spec.cluster_context)
    opts = pulumi.ResourceOptions(provider=provider)
    policy, binding = json.loads(spec.admission)
    k8s.admissionregistration.v1.ValidatingAdmissionPolicy(
        f"{spec.name}-admission-policy", opts=opts, metadata=policy["metadata"],
        spec=policy["spec"])
    k8s.admissionregistration.v1.ValidatingAdmissionPolicyBinding(
        f"{spec.name}-admission-binding", opts=opts, metadata=binding["metadata"],
        spec=binding["spec"])
    for workload in spec.workloads:
        labels = {"app": workload.name, "govops.dev/workload": workload.name}
        k8s.apps.v1.Deployment(
            f"{spec.name}-{workload.name}", opts=opts,
            metadata={"name": workload.name, "namespace": spec.namespace, "labels": labels},
            spec={"replicas": workload.replicas, "selector": {"matchLabels": labels},
                  "template": {"metadata": {"labels": labels},
                               "spec": {"containers": [{"name": workload.name,
                                                        "image": workload.image}]}}})
'''


@pytest.fixture
def programs(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """The shipped program, and the team's own legacy one beside it."""
    import shutil

    folder = tmp_path / "programs"
    shutil.copytree(ROOT / "stacks" / "gpu-workloads", folder / "gpu-workloads",
                    ignore=shutil.ignore_patterns("__pycache__"))
    (folder / "legacy-workloads").mkdir()
    (folder / "legacy-workloads" / "program.py").write_text(LEGACY)
    monkeypatch.setenv("GOVOPS_STACK_PROGRAMS", str(folder))
    return folder


def _repo(tmp_path: Path, tail: str, extra: dict[str, bytes], *edits: dict[str, bytes]) -> Path:
    files = unwaived(fixture("acme-ml"))
    files["govops.yaml"] += tail.encode()
    files.update(extra)
    make_repo(tmp_path / "repo", Step("c1", files),
              *(Step(f"c{i + 2}", edit) for i, edit in enumerate(edits)))
    return tmp_path / "repo"


def _manifest_results(run_json: dict[str, object]) -> list[tuple[str, str, int, str]]:
    results = run_json["results"]
    assert isinstance(results, list)
    return sorted((r["id"], r["file"], r["line"], r["msg"]) for r in results
                  if r["id"].startswith("main.") or "/" in r["id"])


def _example() -> dict[str, bytes]:
    return {f"k8s/{name}": (EXAMPLE / name).read_bytes() for name in RULES}


@pytest.mark.parametrize("engine", ENGINES)
def test_conftests_example_denies_an_insecure_deployment_and_passes_the_fix(
        tmp_path: Path, programs: Path, engine: str) -> None:
    stack = fixture("acme-ml")[STACK].decode()
    assert stack.count("program: gpu-workloads") == 1
    legacy = stack.replace("program: gpu-workloads", "program: legacy-workloads").encode()
    repo = _repo(tmp_path, "manifests:\n  policies: [k8s/]\n", {**_example(), STACK: legacy},
                 {STACK: stack.encode()})
    before = check(repo, "--rev", "HEAD~1", "--format", "json", engine=engine)
    assert before.exit_code == 1, before.stderr
    found = _manifest_results(before.json())
    assert ("main.deny", STACK, 18, "Deployment inference/chat: Containers must not run as root "
            "in Deployment chat") in found
    assert ("main.deny", STACK, 18, "Deployment inference/chat: Deployment chat must provide "
            "app/release labels for pod selectors") in found
    assert {(r[1], r[2]) for r in found} == {(STACK, 18), (STACK, 24), (STACK, 30)}
    after = check(repo, "--format", "json", engine=engine)
    assert after.exit_code == 0, after.stdout
    assert _manifest_results(after.json()) == []


def test_a_gatekeeper_constraint_denies_a_writable_root_and_passes_the_fix(
        tmp_path: Path) -> None:
    stack = fixture("acme-ml")[STACK].decode()
    marker = "      replicas: 3\n"
    assert stack.count(marker) == 1
    writable = stack.replace(marker, marker + "      securityContext:\n"
                             "        readOnlyRootFilesystem: false\n").encode()
    repo = _repo(tmp_path, "manifests:\n  packs: [kubernetes-security]\n", {STACK: writable},
                 {STACK: stack.encode()})
    before = check(repo, "--rev", "HEAD~1", "--format", "json")
    assert before.exit_code == 1, before.stderr
    assert [(r[0], r[1], r[2]) for r in _manifest_results(before.json())] == [
        ("GovopsReadOnlyRootFilesystem/govops-read-only-root-filesystem", STACK, 18)]
    after = check(repo, "--format", "json")
    assert after.exit_code == 0, after.stdout
    assert _manifest_results(after.json()) == []


def test_the_demo_stacks_pass_the_pack_and_conftests_example(tmp_path: Path) -> None:
    tail = "manifests:\n  policies: [k8s/]\n  packs: [kubernetes-security]\n"
    run = check(_repo(tmp_path, tail, _example()), "--format", "json")
    assert run.exit_code == 0, run.stdout
    assert _manifest_results(run.json()) == []


def test_the_stack_govops_init_writes_passes_the_pack(tmp_path: Path) -> None:
    repo = tmp_path / "new"
    made = govops("init", str(repo))
    assert made.exit_code == 0, made.stderr
    config = repo / "govops.yaml"
    config.write_text(config.read_text() + "manifests:\n  packs: [kubernetes-security]\n")
    import pygit2

    from engine.repo.scripted import stage

    stage(pygit2.Repository(str(repo)), write={"govops.yaml": config.read_text()})
    run = check(repo, "--staged", "--format", "json")
    assert run.exit_code == 0, run.stdout + run.stderr
    assert _manifest_results(run.json()) == []
