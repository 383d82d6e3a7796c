"""The restricted Pod Security Standard on the live control plane (tests/support/cluster.py):
the kube-apiserver built from its Go modules runs the PodSecurity admission plugin (on by
default), and its controller-manager creates the pods of a Deployment. The workloads' Namespace
is made exactly as govops plans it (`enforce: restricted`, pinned to v1.30); then

- a Pod made from each planned pod template (the Deployments' and the Job's, one of them with
  the read-only root opted out and its own user) is admitted by a server-side dry-run create;
- a planned Deployment created for real gets its pods from the controller-manager, which the
  same admission lets through, and they run as planned;
- a Pod that departs from the template in any way the profile forbids (no security context,
  user 0, privilege escalation, an added capability, privileged, an unconfined seccomp
  profile, a hostPath volume) is refused with the profile's reason, and so are the pods of a
  Deployment created without the security context (its ReplicaSet reports the refusal)."""

from __future__ import annotations

import copy
import json
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from engine.repo.scripted import Step
from tests.support.cli import govops
from tests.support.cluster import Cluster, client, cluster
from tests.support.repos import NOW, fixture, make_repo, unwaived

__all__ = ["cluster"]  # the fixture, used by name

NAMESPACE = "restricted-sandbox"  # dev-sandbox's stack, in a namespace of this test's own
STACK_FILE = "stacks/dev-sandbox.yaml"
OPTED_OUT = b"""      gpusPerReplica: 1
      securityContext: {readOnlyRootFilesystem: false, runAsUser: 1001}
    - name: playground"""
REFUSED = 'violates PodSecurity "restricted:v1.30"'


@pytest.fixture(scope="module")
def planned(cluster: Cluster, tmp_path_factory: pytest.TempPathFactory
            ) -> Iterator[dict[str, dict[str, Any]]]:
    """dev-sandbox's planned manifests by file (support-eval opting out of the read-only
    root), its Namespace created as planned; removed at the end with what the tests made."""
    from kubernetes import client as k8s

    tmp = tmp_path_factory.mktemp("restricted")
    files = unwaived(fixture("acme-ml"))
    stack = files[STACK_FILE].replace(b"namespace: sandbox", f"namespace: {NAMESPACE}".encode())
    stack = stack.replace(b"      gpusPerReplica: 1\n    - name: playground", OPTED_OUT)
    assert OPTED_OUT in stack and NAMESPACE.encode() in stack
    make_repo(tmp / "repo", Step("acme", {**files, STACK_FILE: stack}))
    plan = govops("plan", "--repo", str(tmp / "repo"), "--stack", "dev-sandbox", "--output",
                  str(tmp / "plan"), "--now", NOW)
    assert plan.exit_code == 0, plan.stderr
    manifests = {p.name: yaml.safe_load(p.read_text()) for p in Path(tmp / "plan").glob("*.yaml")}
    core = k8s.CoreV1Api(client(cluster))
    core.create_namespace(manifests[f"_cluster.namespace.{NAMESPACE}.yaml"])
    try:
        yield manifests
    finally:
        core.delete_namespace(NAMESPACE)


def _pod(controller: dict[str, Any], name: str) -> dict[str, Any]:
    """The Pod a controller would make from its template."""
    template = copy.deepcopy(controller["spec"]["template"])
    return {"apiVersion": "v1", "kind": "Pod",
            "metadata": {**template["metadata"], "name": name},
            "spec": template["spec"]}


def _refusal(cluster: Cluster, pod: dict[str, Any]) -> str | None:
    """None when the API server admits `pod` (a dry-run create), else its refusal."""
    from kubernetes import client as k8s
    from kubernetes.client.exceptions import ApiException

    try:
        k8s.CoreV1Api(client(cluster)).create_namespaced_pod(NAMESPACE, pod, dry_run="All")
    except ApiException as exc:
        return f"{exc.status} {json.loads(exc.body)['message']}"
    return None


def test_the_namespace_enforces_restricted_as_planned(
        cluster: Cluster, planned: dict[str, dict[str, Any]]) -> None:
    from kubernetes import client as k8s

    live = k8s.CoreV1Api(client(cluster)).read_namespace(NAMESPACE).metadata.labels
    assert live["pod-security.kubernetes.io/enforce"] == "restricted"
    assert live["pod-security.kubernetes.io/enforce-version"] == "v1.30"


@pytest.mark.parametrize("file", ["restricted-sandbox.deployment.playground.yaml",
                                  "restricted-sandbox.deployment.support-eval.yaml",
                                  "restricted-sandbox.job.support-finetune.yaml"])
def test_a_pod_of_every_planned_template_is_admitted(
        cluster: Cluster, planned: dict[str, dict[str, Any]], file: str) -> None:
    assert _refusal(cluster, _pod(planned[file], "planned")) is None


def test_the_opted_out_workload_is_what_it_asked_for_and_still_admitted(
        cluster: Cluster, planned: dict[str, dict[str, Any]]) -> None:
    pod = _pod(planned["restricted-sandbox.deployment.support-eval.yaml"], "opted-out")
    assert pod["spec"]["securityContext"]["runAsUser"] == 1001
    assert pod["spec"]["containers"][0]["securityContext"]["readOnlyRootFilesystem"] is False
    assert _refusal(cluster, pod) is None  # restricted does not require a read-only root


def _without_context(pod: dict[str, Any]) -> None:
    pod["spec"].pop("securityContext")
    pod["spec"]["containers"][0].pop("securityContext")


def _container(pod: dict[str, Any]) -> dict[str, Any]:
    context: dict[str, Any] = pod["spec"]["containers"][0]["securityContext"]
    return context


@pytest.mark.parametrize(("what", "change", "reason"), [
    ("no security context", _without_context, "allowPrivilegeEscalation != false"),
    ("user 0", lambda p: p["spec"]["securityContext"].update(runAsUser=0), "runAsUser=0"),
    ("privilege escalation", lambda p: _container(p).update(allowPrivilegeEscalation=True),
     "allowPrivilegeEscalation != false"),
    ("an added capability", lambda p: _container(p).update(
        capabilities={"drop": ["ALL"], "add": ["SYS_ADMIN"]}), "unrestricted capabilities"),
    ("privileged", lambda p: _container(p).update(privileged=True,  # the two go together
                                                  allowPrivilegeEscalation=True),
     "securityContext.privileged=true"),
    ("an unconfined seccomp profile", lambda p: p["spec"]["securityContext"].update(
        seccompProfile={"type": "Unconfined"}), "seccompProfile"),
    ("a hostPath volume", lambda p: p["spec"]["volumes"].append(
        {"name": "host", "hostPath": {"path": "/srv/models"}}), "restricted volume types"),
])
def test_a_pod_the_profile_forbids_is_refused(
        cluster: Cluster, planned: dict[str, dict[str, Any]], what: str, change: Any,
        reason: str) -> None:
    pod = _pod(planned["restricted-sandbox.deployment.playground.yaml"], "insecure")
    assert _refusal(cluster, pod) is None  # as planned: admitted
    change(pod)
    refusal = _refusal(cluster, pod)
    assert refusal is not None, f"a pod with {what} was admitted"
    assert refusal.startswith("403 ") and REFUSED in refusal and reason in refusal, refusal


def _wait(what: str, probe: Any, seconds: float = 60) -> Any:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        found = probe()
        if found:
            return found
        time.sleep(0.5)
    pytest.fail(f"{what} within {seconds:.0f} s")


def test_the_controller_manager_creates_the_planned_pods_under_restricted(
        cluster: Cluster, planned: dict[str, dict[str, Any]]) -> None:
    from kubernetes import client as k8s

    api = client(cluster)
    apps, core = k8s.AppsV1Api(api), k8s.CoreV1Api(api)
    deployment = planned["restricted-sandbox.deployment.playground.yaml"]
    apps.create_namespaced_deployment(NAMESPACE, deployment)
    selector = ",".join(f"{k}={v}" for k, v in
                        sorted(deployment["spec"]["selector"]["matchLabels"].items()))

    def running() -> list[Any]:
        pods = core.list_namespaced_pod(NAMESPACE, label_selector=selector).items
        return [p for p in pods if p.status.phase == "Running"]

    (pod,) = _wait("the playground pod was not Running", running)
    assert pod.spec.security_context.run_as_user == 1000
    assert pod.spec.security_context.run_as_non_root is True
    assert pod.spec.security_context.seccomp_profile.type == "RuntimeDefault"
    container = pod.spec.containers[0].security_context
    assert container.read_only_root_filesystem is True
    assert container.capabilities.drop == ["ALL"]

    # The same Deployment without the security context: the API server takes the Deployment
    # (PodSecurity only warns on controllers), but the controller-manager's pods are refused
    # and its ReplicaSet says why.
    insecure = copy.deepcopy(deployment)
    insecure["metadata"]["name"] = "insecure"
    for labels in (insecure["spec"]["selector"]["matchLabels"],
                   insecure["spec"]["template"]["metadata"]["labels"]):
        labels["app"] = labels["govops.dev/workload"] = "insecure"
    _without_context(insecure["spec"]["template"])
    apps.create_namespaced_deployment(NAMESPACE, insecure)

    def refused() -> str:
        for replicas in apps.list_namespaced_replica_set(
                NAMESPACE, label_selector="app=insecure").items:
            for condition in replicas.status.conditions or []:
                if condition.type == "ReplicaFailure":
                    return str(condition.message)
        return ""

    message = _wait("the insecure ReplicaSet reported no ReplicaFailure", refused)
    assert "forbidden" in message and REFUSED in message, message
    assert core.list_namespaced_pod(NAMESPACE, label_selector="app=insecure").items == []
    for name in ("insecure", deployment["metadata"]["name"]):
        apps.delete_namespaced_deployment(name, NAMESPACE)
