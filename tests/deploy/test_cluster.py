"""The test cluster itself (tests/support/cluster.py), before govops touches it: four GPU nodes
Ready with 8 GPUs each and one system node without GPUs or taint, a pod asking for a GPU scheduled onto the product its selector names
and Ready, and the real ResourceQuota admission refusing a pod over the GPU quota."""

from __future__ import annotations

import os
import time
from pathlib import Path

import pytest

from tests.support.cluster import (
    GPU_NODES,
    GPUS_PER_NODE,
    NODES,
    Cluster,
    Processes,
    client,
    cluster,
    free_port,
    wait_ready,
)

__all__ = ["cluster"]  # the fixture, used by name


def _pod(name: str, gpus: int, product: str) -> dict[str, object]:
    return {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": name},
            "spec": {"containers": [{"name": "c", "image": "example.test/c@sha256:" + "0" * 64,
                                     "resources": {"limits": {"nvidia.com/gpu": str(gpus)}}}],
                     "nodeSelector": {"nvidia.com/gpu.product": product},
                     "tolerations": [{"key": "nvidia.com/gpu", "operator": "Exists",
                                      "effect": "NoSchedule"}]}}


def test_gpu_nodes_are_ready_with_their_gpus(cluster: Cluster) -> None:
    from kubernetes import client as k8s

    nodes = k8s.CoreV1Api(client(cluster)).list_node().items
    assert sorted(n.metadata.name for n in nodes) == sorted(name for name, _ in NODES)
    gpu_nodes = {name for name, _ in GPU_NODES}
    for node in nodes:
        assert {c.type: c.status for c in node.status.conditions}["Ready"] == "True"
        if node.metadata.name in gpu_nodes:
            assert node.status.allocatable["nvidia.com/gpu"] == str(GPUS_PER_NODE)
            assert node.spec.taints[0].key == "nvidia.com/gpu"
        else:  # the system node: no GPUs, no taint
            assert "nvidia.com/gpu" not in node.status.allocatable
            assert not node.spec.taints


def test_a_gpu_pod_is_scheduled_on_its_product_and_becomes_ready(cluster: Cluster) -> None:
    from kubernetes import client as k8s

    core = k8s.CoreV1Api(client(cluster))
    core.create_namespace({"apiVersion": "v1", "kind": "Namespace",
                           "metadata": {"name": "smoke"}})
    core.create_namespaced_pod("smoke", _pod("a100", 2, "NVIDIA-A100-SXM4-80GB"))
    deadline = time.monotonic() + 60
    pod = core.read_namespaced_pod("a100", "smoke")
    while time.monotonic() < deadline and pod.status.phase != "Running":
        time.sleep(0.5)
        pod = core.read_namespaced_pod("a100", "smoke")
    assert pod.status.phase == "Running"
    assert pod.spec.node_name in {"gpu-a100-0", "gpu-a100-1"}
    assert {c.type: c.status for c in pod.status.conditions}["Ready"] == "True"


def test_the_gpu_quota_is_enforced_by_the_api_server(cluster: Cluster) -> None:
    from kubernetes import client as k8s
    from kubernetes.client.exceptions import ApiException

    core = k8s.CoreV1Api(client(cluster))
    core.create_namespace({"apiVersion": "v1", "kind": "Namespace",
                           "metadata": {"name": "quota"}})
    core.create_namespaced_resource_quota("quota", {
        "apiVersion": "v1", "kind": "ResourceQuota", "metadata": {"name": "gpus"},
        "spec": {"hard": {"requests.nvidia.com/gpu": "2"}}})
    deadline = time.monotonic() + 30  # the quota controller fills in status.hard first
    while time.monotonic() < deadline and not core.read_namespaced_resource_quota(
            "gpus", "quota").status.hard:
        time.sleep(0.2)
    core.create_namespaced_pod("quota", _pod("within", 2, "NVIDIA-H100-80GB-HBM3"))
    with pytest.raises(ApiException) as refused:
        core.create_namespaced_pod("quota", _pod("beyond", 1, "NVIDIA-H100-80GB-HBM3"))
    assert refused.value.status == 403
    assert "exceeded quota: gpus" in refused.value.body


def test_every_process_started_is_stopped_by_pid(tmp_path: Path) -> None:
    """What the session fixture does at its end, on a process of its own: etcd started,
    healthy, then stopped; its PID is gone (not merely signalled)."""
    processes = Processes(tmp_path)
    port, peer = free_port(), free_port()
    etcd = processes.start(
        "etcd", "--data-dir", str(tmp_path / "etcd"),
        "--listen-client-urls", f"http://127.0.0.1:{port}",
        "--advertise-client-urls", f"http://127.0.0.1:{port}",
        "--listen-peer-urls", f"http://127.0.0.1:{peer}",
        "--initial-advertise-peer-urls", f"http://127.0.0.1:{peer}",
        "--initial-cluster", f"default=http://127.0.0.1:{peer}",
        "--listen-metrics-urls", f"http://127.0.0.1:{free_port()}")
    wait_ready(f"http://127.0.0.1:{port}/health", None, None, processes, "etcd")
    processes.stop()
    assert etcd.poll() is not None
    with pytest.raises(ProcessLookupError):
        os.kill(etcd.pid, 0)


def test_a_missing_binary_fails_rather_than_skips(tmp_path: Path) -> None:
    with pytest.raises(pytest.fail.Exception, match=r"kubelet is missing: run `make tools`"):
        Processes(tmp_path).start("kubelet")
