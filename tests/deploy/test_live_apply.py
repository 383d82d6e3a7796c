"""`govops apply` for real: the Pulumi CLI and Kubernetes provider built from their Go modules
drive the acme `prod-inference` stack into a live control plane (tests/support/cluster.py):
the objects exist in the API server with the planned spec, the pods are scheduled on the H100
nodes within the GPU quota and become Ready, and the ledger's apply entry verifies."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from engine.commands.audit import run_audit_verify
from engine.ledger.store import Ledger
from engine.repo import open_repo
from engine.repo.scripted import Step
from tests.support.cli import govops
from tests.support.cluster import TOOLS, Cluster, client, cluster, write_kubeconfig
from tests.support.repos import NOW, fixture, make_repo, unwaived
from tests.support.trust import trusted

__all__ = ["cluster"]  # the fixture, used by name

STACK, NAMESPACE, CONTEXT = "prod-inference", "inference", "gpu-east-1"


@dataclass(frozen=True)
class Live:
    repo: Path
    key: Path
    commit: str
    cluster: Cluster


@pytest.fixture(scope="module")
def live(cluster: Cluster, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Live]:
    """The acme repo, attested and recorded, and an environment in which `govops apply` finds
    the built pulumi CLI and provider, a kubeconfig naming the stack's context, and nothing to
    download."""
    tmp = tmp_path_factory.mktemp("live")
    assert govops("keygen", "--output", str(tmp / "ci")).exit_code == 0
    files = {**unwaived(fixture("acme-ml")), "keys/ci.pub": (tmp / "ci.pub").read_bytes()}
    git = make_repo(tmp / "repo", Step("acme", files))
    trusted(tmp / "repo", tmp / "trust", tmp / "ci.pub")
    commit = str(git.head.target)
    run = govops("attest", "--repo", str(tmp / "repo"), "--key", str(tmp / "ci.key"),
                 "--output", str(tmp / "out"), "--now", NOW, "--record")
    assert run.exit_code == 0, run.stderr
    kubeconfig = write_kubeconfig(tmp / "kubeconfig", cluster.server, cluster.ca,
                                  cluster.token, CONTEXT)
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("PATH", f"{TOOLS}:{__import__('os').environ['PATH']}")
        patch.setenv("KUBECONFIG", str(kubeconfig))
        patch.setenv("PULUMI_HOME", str(tmp / "pulumi-home"))
        patch.setenv("PULUMI_SKIP_UPDATE_CHECK", "true")
        patch.setenv("PULUMI_DISABLE_AUTOMATIC_PLUGIN_ACQUISITION", "true")
        yield Live(tmp / "repo", tmp / "ci.key", commit, cluster)


def test_apply_creates_the_planned_objects_on_the_live_cluster(live: Live) -> None:
    from kubernetes import client as k8s

    run = govops("apply", "--repo", str(live.repo), "--stack", STACK, "--key", str(live.key))
    assert run.exit_code == 0, run.stdout + run.stderr
    api = client(live.cluster)
    core, apps = k8s.CoreV1Api(api), k8s.AppsV1Api(api)
    quota = core.read_namespaced_resource_quota(f"{STACK}-gpu-quota", NAMESPACE)
    assert quota.spec.hard == {"requests.nvidia.com/gpu": "16"}
    deployments = {d.metadata.name: d for d in apps.list_namespaced_deployment(NAMESPACE).items}
    assert sorted(deployments) == ["chat", "chat-fallback", "embeddings"]
    chat = deployments["chat"]
    assert chat.spec.replicas == 3 and chat.status.ready_replicas == 3
    container = chat.spec.template.spec.containers[0]
    assert container.resources.limits["nvidia.com/gpu"] == "1"
    assert "@sha256:" in container.image
    pods = core.list_namespaced_pod(NAMESPACE).items
    assert len(pods) == 7
    assert {p.spec.node_name for p in pods} <= {"gpu-h100-0", "gpu-h100-1"}
    assert all(p.status.phase == "Running" for p in pods)
    services = {s.metadata.name for s in core.list_namespaced_service(NAMESPACE).items}
    assert {"chat", "chat-fallback", "embeddings"} <= services
    entries = Ledger(open_repo(live.repo)).entries()
    assert entries[-1].entry.type == "apply" and entries[-1].entry.stack == STACK
    assert run_audit_verify(live.repo, None, None).report.problem is None
