"""The rendered manifests are secure by default (issue 20): every workload pod runs as a
non-root user under the runtime's seccomp profile, its containers without privilege,
escalation or capabilities on a read-only root filesystem with a writable /tmp and HOME; the
workloads' namespace enforces the restricted Pod Security Standard; every workload object
carries Kubernetes' recommended labels with valid values; and conftest's own Kubernetes example
(deny.rego, labels.rego, copied from the Go module cache at test time) finds nothing to deny in
the demo fixtures. A workload may name its user, group and fsGroup and opt out of the read-only
root, never run as root; both the override and the refusal are checked here with the line.
(The live API server's PodSecurity admission is tests/deploy/test_pod_security.py.)"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

from engine.commands.plan import PlanOptions, run_plan
from engine.repo.scripted import Step
from tests.support.cli import assert_input_error, check, govops
from tests.support.repos import NOW, ROOT, fixture, make_repo, unwaived
from tests.support.samples import ACME_CHAT

STACK_FILE = "stacks/prod-inference.yaml"
STACKS = ("dev-sandbox", "prod-inference")
WORKLOAD_KINDS = ("Deployment", "Job", "Service", "PodDisruptionBudget")
RECOMMENDED = tuple(f"app.kubernetes.io/{k}" for k in ("name", "instance", "version",
                                                       "component", "part-of", "managed-by"))
# Kubernetes' label value grammar (apimachinery's validation.IsValidLabelValue)
LABEL_VALUE = re.compile(r"^(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?$")
CONFTEST = ROOT / ".cache" / "go-tools" / "bin" / "conftest"
EXAMPLE = Path("github.com/open-policy-agent/conftest@v0.71.1/examples/kubernetes/policy")
EXAMPLE_POLICIES = ("deny.rego", "labels.rego", "kubernetes.rego")


@pytest.fixture(scope="module")
def acme(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("acme") / "repo"
    make_repo(path, Step("acme fixtures", fixture("acme-ml")))
    return path


@pytest.fixture(scope="module")
def rendered(acme: Path) -> dict[str, dict[str, dict[str, Any]]]:
    """stack -> file -> manifest, for the shipped demo fixtures."""
    return {stack: {m.file: dict(m.doc) for m in run_plan(PlanOptions(repo=acme,
                                                                        stack=stack)).manifests}
            for stack in STACKS}


def _pods(manifests: dict[str, dict[str, Any]]) -> list[tuple[str, dict[str, Any]]]:
    return [(file, doc["spec"]["template"]) for file, doc in sorted(manifests.items())
            if doc["kind"] in ("Deployment", "Job")]


def _valid(value: str) -> bool:
    return len(value) <= 63 and bool(LABEL_VALUE.match(value))


@pytest.mark.parametrize("stack", STACKS)
def test_every_workload_pod_runs_restricted(rendered: dict[str, dict[str, dict[str, Any]]],
                                           stack: str) -> None:
    pods = _pods(rendered[stack])
    assert len(pods) == 3  # dev-sandbox: two Deployments and a Job; prod-inference: three
    for file, template in pods:
        spec = template["spec"]
        assert spec["securityContext"] == {
            "runAsNonRoot": True, "runAsUser": 1000, "runAsGroup": 1000, "fsGroup": 1000,
            "fsGroupChangePolicy": "OnRootMismatch",
            "seccompProfile": {"type": "RuntimeDefault"}}, file
        (container,) = spec["containers"]
        assert container["securityContext"] == {
            "allowPrivilegeEscalation": False, "privileged": False,
            "capabilities": {"drop": ["ALL"]}, "readOnlyRootFilesystem": True}, file
        # the scratch space a read-only root leaves out, and HOME pointing into it
        assert {"name": "HOME", "value": "/home/govops"} in container["env"]
        assert container["volumeMounts"] == [{"mountPath": "/tmp", "name": "govops-tmp"},
                                             {"mountPath": "/home/govops",
                                              "name": "govops-home"}]
        assert spec["volumes"] == [{"emptyDir": {}, "name": "govops-tmp"},
                                   {"emptyDir": {}, "name": "govops-home"}]


@pytest.mark.parametrize("stack", STACKS)
def test_the_workload_namespace_enforces_restricted_and_the_operators_stays_privileged(
        rendered: dict[str, dict[str, dict[str, Any]]], stack: str) -> None:
    namespaces = {d["metadata"]["name"]: d["metadata"]["labels"]
                  for d in rendered[stack].values() if d["kind"] == "Namespace"}
    workloads = "sandbox" if stack == "dev-sandbox" else "inference"
    pss = {k: v for k, v in namespaces.pop(workloads).items()
           if k.startswith("pod-security.kubernetes.io/")}
    assert pss == {"pod-security.kubernetes.io/enforce": "restricted",
                   "pod-security.kubernetes.io/enforce-version": "v1.30",
                   "pod-security.kubernetes.io/warn": "restricted",
                   "pod-security.kubernetes.io/warn-version": "latest",
                   "pod-security.kubernetes.io/audit": "restricted",
                   "pod-security.kubernetes.io/audit-version": "latest"}
    # dev-sandbox runs the GPU operator, whose driver and toolkit pods need the host
    assert {name: labels["pod-security.kubernetes.io/enforce"]
            for name, labels in namespaces.items()} == (
        {"gpu-operator": "privileged"} if stack == "dev-sandbox" else {})


@pytest.mark.parametrize("stack", STACKS)
def test_every_workload_object_carries_the_recommended_labels(
        rendered: dict[str, dict[str, dict[str, Any]]], stack: str) -> None:
    kinds = {"inference": 0, "training": 0}
    checked = 0
    for file, doc in rendered[stack].items():
        if doc["kind"] not in WORKLOAD_KINDS:
            continue
        workload = doc["metadata"]["labels"]["govops.dev/workload"]
        model = doc["metadata"]["annotations"]["govops.dev/model-digest"]
        component = "training" if doc["kind"] == "Job" else "inference"
        kinds[component] += 1
        expected = {"app.kubernetes.io/name": workload,
                    "app.kubernetes.io/instance": f"{stack}-{workload}",
                    "app.kubernetes.io/version": model.removeprefix("sha256:")[:12],
                    "app.kubernetes.io/component": component,
                    "app.kubernetes.io/part-of": stack,
                    "app.kubernetes.io/managed-by": "govops"}
        places = [doc["metadata"]["labels"]]
        if "template" in doc["spec"]:
            places.append(doc["spec"]["template"]["metadata"]["labels"])
        for labels in places:
            assert {k: labels[k] for k in RECOMMENDED} == expected, file
            assert all(_valid(value) for value in labels.values()), file
            checked += 1
    assert checked == {"dev-sandbox": 8, "prod-inference": 12}[stack]
    assert kinds == ({"inference": 4, "training": 1} if stack == "dev-sandbox" else
                     {"inference": 9, "training": 0})


@pytest.mark.parametrize("stack", STACKS)
def test_a_deployment_selects_by_app_and_release_and_its_pods_match(
        rendered: dict[str, dict[str, dict[str, Any]]], stack: str) -> None:
    deployments = [d for d in rendered[stack].values() if d["kind"] == "Deployment"]
    assert deployments
    for doc in deployments:
        name = doc["metadata"]["name"]
        selector = doc["spec"]["selector"]["matchLabels"]
        assert selector == {"app": name, "release": stack, "govops.dev/stack": stack,
                            "govops.dev/workload": name}
        labels = doc["spec"]["template"]["metadata"]["labels"]
        assert selector.items() <= labels.items()
    services = [d for d in rendered[stack].values() if d["kind"] == "Service"]
    assert services and all(set(s["spec"]["selector"]) == {"govops.dev/stack",
                                                           "govops.dev/workload"}
                            for s in services)


def _repo_with(tmp_path: Path, chat: bytes, extra: dict[str, bytes] | None = None) -> Path:
    files = unwaived(fixture("acme-ml"))
    assert ACME_CHAT in files[STACK_FILE]
    files[STACK_FILE] = files[STACK_FILE].replace(ACME_CHAT, chat)
    make_repo(tmp_path / "repo", Step("acme", {**files, **(extra or {})}))
    return tmp_path / "repo"


def _plan(repo: Path, out: Path, stack: str = "prod-inference") -> dict[str, dict[str, Any]]:
    run = govops("plan", "--repo", str(repo), "--stack", stack, "--output", str(out),
                 "--now", NOW)
    assert run.exit_code == 0, run.stderr
    return {p.name: yaml.safe_load(p.read_text()) for p in out.glob("*.yaml")}


def test_a_workload_names_its_own_ids_and_opts_out_of_the_read_only_root(
        tmp_path: Path) -> None:
    chat = ACME_CHAT + b"""      securityContext:
        runAsUser: 1001
        runAsGroup: 2000
        fsGroup: 3000
        readOnlyRootFilesystem: false
"""
    repo = _repo_with(tmp_path, chat)
    assert check(repo).exit_code == 0
    planned = _plan(repo, tmp_path / "plan")
    pod = planned["inference.deployment.chat.yaml"]["spec"]["template"]["spec"]
    assert pod["securityContext"] == {
        "runAsNonRoot": True, "runAsUser": 1001, "runAsGroup": 2000, "fsGroup": 3000,
        "fsGroupChangePolicy": "OnRootMismatch", "seccompProfile": {"type": "RuntimeDefault"}}
    # false is written as false (not dropped, which Kubernetes would read as its default)
    assert pod["containers"][0]["securityContext"]["readOnlyRootFilesystem"] is False
    assert "readOnlyRootFilesystem: false" in (
        tmp_path / "plan" / "inference.deployment.chat.yaml").read_text()
    assert pod["containers"][0]["securityContext"]["allowPrivilegeEscalation"] is False
    # the other workloads keep the defaults
    other = planned["inference.deployment.embeddings.yaml"]["spec"]["template"]["spec"]
    assert other["securityContext"]["runAsUser"] == 1000
    assert other["containers"][0]["securityContext"]["readOnlyRootFilesystem"] is True


def test_a_user_alone_brings_its_group_and_fsgroup(tmp_path: Path) -> None:
    repo = _repo_with(tmp_path, ACME_CHAT + b"      securityContext: {runAsUser: 1001}\n")
    pod = _plan(repo, tmp_path / "plan")["inference.deployment.chat.yaml"]["spec"]["template"]
    assert {k: pod["spec"]["securityContext"][k] for k in ("runAsUser", "runAsGroup",
                                                            "fsGroup")} == {
        "runAsUser": 1001, "runAsGroup": 1001, "fsGroup": 1001}
    assert pod["spec"]["containers"][0]["securityContext"]["readOnlyRootFilesystem"] is True


def test_a_workloads_own_home_and_tmp_take_the_place_of_the_scratch_volumes(
        tmp_path: Path) -> None:
    chat = ACME_CHAT + b"""      env:
        - {name: HOME, value: /models/home}
      volumes:
        - name: scratch
          mountPath: /tmp/
          ephemeral: {size: 100Gi}
"""
    repo = _repo_with(tmp_path, chat)
    pod = _plan(repo, tmp_path / "plan")["inference.deployment.chat.yaml"]["spec"]["template"]
    (container,) = pod["spec"]["containers"]
    assert [e for e in container["env"] if e["name"] == "HOME"] == [
        {"name": "HOME", "value": "/models/home"}]
    assert container["volumeMounts"] == [{"mountPath": "/tmp/", "name": "scratch"}]
    assert [v["name"] for v in pod["spec"]["volumes"]] == ["scratch"]


def test_long_names_still_give_valid_distinct_label_values(tmp_path: Path) -> None:
    stack = "acme-customer-facing-inference-for-the-eu-west-region"  # 53 characters
    assert len(stack) <= 63
    text = (fixture("acme-ml")[STACK_FILE]
            .replace(b"name: prod-inference", f"name: {stack}".encode())
            .replace(b"namespace: inference", b"namespace: long")
            .replace(b"- name: chat-fallback", b"- name: chat-fallback-streaming-replica-a")
            .replace(b"- name: embeddings", b"- name: chat-fallback-streaming-replica-b"))
    repo = _repo_with(tmp_path, ACME_CHAT, {f"stacks/{stack}.yaml": text})
    planned = _plan(repo, tmp_path / "plan", stack)
    instances = {}
    for file, doc in planned.items():
        for labels in (doc["metadata"].get("labels", {}),
                       doc.get("spec", {}).get("template", {}).get("metadata", {}).get(
                           "labels", {})):
            assert all(_valid(v) for v in labels.values()), (file, labels)
        if doc["kind"] == "Deployment":
            instances[doc["metadata"]["name"]] = doc["metadata"]["labels"][
                "app.kubernetes.io/instance"]
    assert instances["chat"] == f"{stack}-chat"
    long_a = instances["chat-fallback-streaming-replica-a"]
    long_b = instances["chat-fallback-streaming-replica-b"]
    assert long_a != long_b and len(long_a) == len(long_b) == 63
    assert long_a.startswith(f"{stack}-chat-fallback-streaming-replica-"[:50])


def test_label_values_from_names_and_digests_a_label_cannot_hold() -> None:
    from engine.deploy.mock import load_program
    from engine.shipped import programs_dir

    program = load_program(programs_dir() / "gpu-workloads").__globals__
    label_safe, model_version = program["label_safe"], program["model_version"]
    assert model_version("sha256:" + "0123456789abcdef" * 4) == "0123456789ab"
    odd = ["sha256:" + "ABCDEF0123456789" * 4, "sha256:12ab", "md5:0123", "weights v2", "",
           ":", "sha256:" + "g" * 64, "-" * 80, "é" * 70]
    versions = [model_version(digest) for digest in odd]
    assert all(_valid(v) and v for v in versions), versions
    assert len(set(versions)) == len(versions)
    assert model_version("") == "unknown"
    assert label_safe("chat") == "chat" and label_safe("a" * 63) == "a" * 63
    long = [label_safe("a" * 64), label_safe("a" * 65), label_safe("x." * 40)]
    assert all(_valid(v) and len(v) >= 62 for v in long) and len(set(long)) == 3
    assert label_safe("-" * 80) == label_safe("-" * 80) != label_safe("-" * 81)
    assert all(_valid(label_safe(v)) for v in ("-" * 80, "é" * 70, "a:b", "_x_", "x" * 300))


@pytest.mark.parametrize(("block", "fragment", "message"), [
    (b"      securityContext: {runAsUser: 0}\n", b"      securityContext",
     "spec.workloads[0].securityContext.runAsUser: 0 is root; govops runs workloads as a "
     "non-root user (the namespace enforces the restricted Pod Security Standard): give the "
     "image's own non-root user id, or leave runAsUser out for 1000"),
    (b"      securityContext:\n        runAsGroup: -1\n", b"        runAsGroup",
     "spec.workloads[0].securityContext.runAsGroup: -1 is not a user or group id "
     "(0 to 2147483647)"),
    (b"      securityContext:\n        fsGroup: 2147483648\n", b"        fsGroup",
     "spec.workloads[0].securityContext.fsGroup: 2147483648 is not a user or group id"),
    (b"      securityContext:\n        readOnlyRootFilesystem: no-thanks\n",
     b"        readOnlyRootFilesystem",
     "spec.workloads[0].securityContext.readOnlyRootFilesystem must be true or false"),
    (b"      securityContext:\n        privileged: true\n", b"        privileged",
     "unknown field spec.workloads[0].securityContext.privileged"),
    (b"      volumes:\n        - name: govops-tmp\n          mountPath: /scratch\n"
     b"          ephemeral: {size: 1Gi}\n", b"        - name: govops-tmp",
     "spec.workloads[0].volumes[0].name: govops-* names are the volumes govops makes"),
])
def test_a_workload_that_would_run_as_root_or_loosen_the_rest_is_refused_with_the_line(
        tmp_path: Path, block: bytes, fragment: bytes, message: str) -> None:
    repo = _repo_with(tmp_path, ACME_CHAT + block)
    stack = (repo / STACK_FILE).read_bytes()
    line = stack[:stack.index(fragment)].count(b"\n") + 1
    assert_input_error(check(repo), f"{STACK_FILE}:{line}: {message}")
    out = tmp_path / "plan"
    run = govops("plan", "--repo", str(repo), "--stack", "prod-inference", "--output",
                 str(out), "--now", NOW)
    assert_input_error(run, f"{STACK_FILE}:{line}: {message}", out)


def example_policies(into: Path) -> Path:
    """conftest's Kubernetes example, as v0.71.1 ships it, copied from the Go module cache
    (where `make tools` put it when it built conftest): deny.rego, labels.rego and the
    kubernetes.rego they import. violation.rego (it denies every Deployment, by design) and
    warn.rego (every Service) are left out: they say nothing about how a Deployment is made."""
    go = shutil.which("go")
    if go is None:
        pytest.fail("go is not on PATH: conftest's example policies are found in the Go "
                    "module cache (`go env GOMODCACHE`); install Go and run `make tools`")
    cache = subprocess.run([go, "env", "GOMODCACHE"], capture_output=True, text=True,
                           check=False).stdout.strip()
    source = Path(cache) / EXAMPLE
    if not cache or not source.is_dir():
        pytest.fail(f"{source} is missing: `make tools` (tools/build_go_tools.py) downloads "
                    "the conftest v0.71.1 module into the Go module cache")
    into.mkdir()
    for name in EXAMPLE_POLICIES:
        shutil.copyfile(source / name, into / name)
    return into


def conftest(policy: Path, files: list[Path]) -> list[dict[str, Any]]:
    if not CONFTEST.exists():
        pytest.fail(f"{CONFTEST} is missing: run `make tools` (tools/build_go_tools.py)")
    run = subprocess.run([str(CONFTEST), "test", "--no-color", "--output", "json", "--policy",
                          str(policy), *map(str, files)], capture_output=True, text=True,
                         check=False)
    assert run.returncode in (0, 1), run.stderr
    results: list[dict[str, Any]] = json.loads(run.stdout)
    return results


def test_conftests_kubernetes_example_denies_nothing_in_the_demo_fixtures(
        acme: Path, tmp_path: Path) -> None:
    policy = example_policies(tmp_path / "policy")
    files: list[Path] = []
    for stack in STACKS:
        run = govops("plan", "--repo", str(acme), "--stack", stack, "--output",
                     str(tmp_path / stack), "--now", NOW)
        assert run.exit_code == 0, run.stderr
        files += sorted((tmp_path / stack).glob("*.yaml"))
    results = conftest(policy, files)
    assert [(r["filename"], r.get("failures")) for r in results if r.get("failures")] == []
    assert [r["filename"] for r in results if r.get("exceptions")] == []
    by_file = {Path(r["filename"]).name: r for r in results}
    deployments = [name for name in by_file if ".deployment." in name]
    assert len(deployments) == 5 and len(by_file) == len(files)
    # every Deployment was evaluated by both deny rules and the labels rule
    assert all(by_file[name]["successes"] == 3 for name in deployments)


@pytest.mark.parametrize(("change", "denied"), [
    (lambda d: d["spec"]["template"]["spec"].pop("securityContext"),
     "Containers must not run as root in Deployment chat"),
    (lambda d: d["spec"]["template"]["spec"]["securityContext"].update(runAsNonRoot=False),
     "Containers must not run as root in Deployment chat"),
    (lambda d: d["spec"]["selector"]["matchLabels"].pop("release"),
     "Deployment chat must provide app/release labels for pod selectors"),
    (lambda d: d["metadata"]["labels"].pop("app.kubernetes.io/version"),
     "chat must include Kubernetes recommended labels"),
])
def test_conftests_example_denies_a_deployment_without_what_govops_adds(
        rendered: dict[str, dict[str, dict[str, Any]]], tmp_path: Path, change: Any,
        denied: str) -> None:
    policy = example_policies(tmp_path / "policy")
    doc = json.loads(json.dumps(rendered["prod-inference"]["inference.deployment.chat.yaml"]))
    change(doc)
    path = tmp_path / "chat.yaml"
    path.write_text(yaml.safe_dump(doc))
    (result,) = conftest(policy, [path])
    assert len(result["failures"]) == 1 and result["failures"][0]["msg"].startswith(denied)
