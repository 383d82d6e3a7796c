"""`govops admission --stack dev-sandbox`, applied to the live control plane
(tests/support/cluster.py): the real API server evaluates the CEL policy. The Deployment and
Job govops plans for the stack are admitted; the same objects with an unpinned image, without
the govops labels and annotations, or asking for more GPUs than the stack gives a workload are
refused, each with its rule's message, and so is a bare Pod."""

from __future__ import annotations

import copy
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

NAMESPACE = "sandbox"


@pytest.fixture(scope="module")
def planned(cluster: Cluster, tmp_path_factory: pytest.TempPathFactory
            ) -> Iterator[dict[str, dict[str, Any]]]:
    """The stack's policy installed, its namespace made, and its planned manifests by file."""
    from kubernetes.dynamic import DynamicClient

    tmp = tmp_path_factory.mktemp("admission")
    make_repo(tmp / "repo", Step("acme", unwaived(fixture("acme-ml"))))
    policy = govops("admission", "--repo", str(tmp / "repo"), "--stack", "dev-sandbox")
    assert policy.exit_code == 0, policy.stderr
    plan = govops("plan", "--repo", str(tmp / "repo"), "--stack", "dev-sandbox", "--output",
                  str(tmp / "plan"), "--now", NOW)
    assert plan.exit_code == 0, plan.stderr
    dynamic = DynamicClient(client(cluster))
    for doc in yaml.safe_load_all(policy.stdout):
        dynamic.resources.get(api_version=doc["apiVersion"], kind=doc["kind"]).create(body=doc)
    dynamic.resources.get(api_version="v1", kind="Namespace").create(
        body={"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": NAMESPACE}})
    yield {p.name: yaml.safe_load(p.read_text()) for p in Path(tmp / "plan").glob("*.yaml")}


def _create(cluster: Cluster, doc: dict[str, Any]) -> str | None:
    """None when the API server admits `doc`, else its refusal."""
    from kubernetes.dynamic import DynamicClient
    from kubernetes.dynamic.exceptions import DynamicApiError

    resource = DynamicClient(client(cluster)).resources.get(api_version=doc["apiVersion"],
                                                            kind=doc["kind"])
    try:
        resource.create(body=doc, namespace=NAMESPACE, dry_run="All")
    except DynamicApiError as exc:
        return str(exc.body if hasattr(exc, "body") else exc)
    return None


def _admitted_once_active(cluster: Cluster, doc: dict[str, Any]) -> None:
    """The policy takes effect a moment after it is created: wait until a bad object is
    refused, so that the checks below see the policy, not its absence."""
    bad = copy.deepcopy(doc)
    bad["metadata"]["annotations"].pop("govops.dev/decision-id")
    deadline = time.monotonic() + 30
    while _create(cluster, bad) is None:
        assert time.monotonic() < deadline, "the admission policy never took effect"
        time.sleep(0.5)


def test_the_planned_workloads_are_admitted(cluster: Cluster,
                                            planned: dict[str, dict[str, Any]]) -> None:
    deployment = planned["sandbox.deployment.support-eval.yaml"]
    _admitted_once_active(cluster, deployment)
    assert _create(cluster, deployment) is None
    assert _create(cluster, planned["sandbox.job.support-finetune.yaml"]) is None


def _pod_spec(doc: dict[str, Any]) -> dict[str, Any]:
    spec: dict[str, Any] = doc["spec"]["template"]["spec"]
    return spec


def _relabel(doc: dict[str, Any], stack: str | None) -> None:
    """The pods' stack label removed or changed, in the selector too (else the API server's
    own validation refuses the Deployment before admission sees it)."""
    for labels in (doc["spec"]["selector"]["matchLabels"],
                   doc["spec"]["template"]["metadata"]["labels"]):
        if stack is None:
            labels.pop("govops.dev/stack")
        else:
            labels["govops.dev/stack"] = stack


@pytest.mark.parametrize(("what", "change", "message"), [
    ("an unpinned image", lambda d: _pod_spec(d)["containers"][0].update(
        image="ghcr.io/acme/vllm:latest"), "every image must be pinned by digest"),
    ("an unpinned init container", lambda d: _pod_spec(d).update(initContainers=[
        {"name": "fetch", "image": "busybox:1.36"}]), "every image must be pinned by digest"),
    ("no stack label", lambda d: _relabel(d, None),
     "the pod must carry the label govops.dev/stack: dev-sandbox"),
    ("another stack's label", lambda d: _relabel(d, "prod-inference"),
     "the label govops.dev/stack: dev-sandbox"),
    ("no model digest", lambda d: d["spec"]["template"]["metadata"]["annotations"].pop(
        "govops.dev/model-digest"), "the govops.dev/model-digest annotation"),
    ("no decision id", lambda d: d["metadata"]["annotations"].pop("govops.dev/decision-id"),
     "the govops.dev/decision-id annotation"),
    ("more GPUs than any workload", lambda d: _pod_spec(d)["containers"][0]["resources"].update(
        limits={"nvidia.com/gpu": "8"}, requests={"nvidia.com/gpu": "8"}),
     "at most 4 nvidia.com/gpu in stack dev-sandbox"),
])
def test_a_workload_around_govops_is_refused(cluster: Cluster,
                                             planned: dict[str, dict[str, Any]], what: str,
                                             change: Any, message: str) -> None:
    doc = copy.deepcopy(planned["sandbox.deployment.support-eval.yaml"])
    _admitted_once_active(cluster, doc)
    change(doc)
    refusal = _create(cluster, doc)
    assert refusal is not None, f"{what} was admitted"
    assert "ValidatingAdmissionPolicy 'govops-dev-sandbox'" in refusal and message in refusal


def test_a_bare_pod_is_refused(cluster: Cluster, planned: dict[str, dict[str, Any]]) -> None:
    deployment = planned["sandbox.deployment.support-eval.yaml"]
    _admitted_once_active(cluster, deployment)
    pod = {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "sneaky"},
           "spec": {"containers": [{"name": "x", "image": "evil.test/miner:latest",
                                    "resources": {"limits": {"nvidia.com/gpu": "1"}}}]}}
    refusal = _create(cluster, pod)
    assert refusal is not None and "every image must be pinned by digest" in refusal
