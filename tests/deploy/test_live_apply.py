"""`govops apply` and `rollback` for real: the Pulumi CLI and Kubernetes provider built from
their Go modules drive the acme `prod-inference` stack into a live control plane
(tests/support/cluster.py), its chat workload a vLLM server with command, env (a Secret
reference among them), resources, /dev/shm, ports, probes and a model cache claim bound to a
volume the test provisions. Three revisions are applied in turn and the cluster then rolled
back to the first: after each step every object the ledger entry recorded is read back from
the API server and equals what was approved (on the fields govops sets), the pods sit on the
H100 nodes within the GPU quota and are Ready, govops's own read-back (recorded in each
receipt) agrees, `govops drift` finds nothing, and the ledger verifies. Then a Deployment is
scaled and its image swapped, a Service deleted and a Deployment added with the stack's label,
all behind govops's back (the admission policy apply installed first refuses an unpinned,
unlabelled one): the read-back and `govops drift` name each (exit 1, a signed drift entry with
--record); applying the approved revision again takes the fields back and recreates the
Service, and says the Deployment it never made is still there."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives.serialization import Encoding

from engine.commands.audit import run_audit_verify
from engine.deploy.applied import recorded_manifests
from engine.deploy.manifests import Manifest, parse_recorded
from engine.deploy.readback import read_back
from engine.ledger.entry import StoredEntry
from engine.ledger.store import Ledger
from engine.repo import open_repo
from engine.repo.scripted import Step
from tests.support.cli import govops
from tests.support.cluster import Cluster, client, cluster
from tests.support.live_deploy import (
    attest_recorded,
    deploying,
    live_differences,
    live_object,
    recorded,
)
from tests.support.repos import fixture, make_repo, unwaived
from tests.support.samples import ACME_CHAT
from tests.support.trust import trusted

__all__ = ["cluster"]  # the fixture, used by name

STACK, NAMESPACE, CONTEXT = "prod-inference", "inference", "gpu-east-1"
# chat as a vLLM server is deployed: its command, env (a value and a Secret reference),
# resources, /dev/shm, ports, probes and a model cache claim all reach the API server.
SERVED_CHAT = ACME_CHAT + b"""      command: [python3, -m, vllm.entrypoints.openai.api_server]
      args: [--model, /models/llama-3-8b-instruct, --port, "8000"]
      env:
        - {name: HF_HOME, value: /models}
        - name: HF_TOKEN
          secretRef: {name: huggingface, key: token}
      resources: {cpu: 8, memory: 64Gi}
      shm: 16Gi
      ports:
        - {name: openai, port: 8000}
      startup: {path: /health, failureThreshold: 60, periodSeconds: 10}
      readiness: {path: /health}
      volumes:
        - {name: model-cache, mountPath: /models, claim: model-cache, readOnly: true}
"""


@dataclass(frozen=True)
class Live:
    repo: Path
    key: Path
    commits: tuple[str, str, str]
    cluster: Cluster

    def entries(self) -> list[StoredEntry]:
        return Ledger(open_repo(self.repo)).entries()


@pytest.fixture(scope="module")
def live(cluster: Cluster, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Live]:
    """acme at three revisions, each attested and recorded: c1 as it is; c2 with one chat
    replica fewer and a bigger quota; c3 without the embeddings workload and four
    chat-fallback replicas."""
    tmp = tmp_path_factory.mktemp("live")
    assert govops("keygen", "--output", str(tmp / "ci")).exit_code == 0
    files = {**unwaived(fixture("acme-ml")), "keys/ci.pub": (tmp / "ci.pub").read_bytes()}
    assert ACME_CHAT in files["stacks/prod-inference.yaml"]
    stack = files["stacks/prod-inference.yaml"].replace(ACME_CHAT, SERVED_CHAT)
    files["stacks/prod-inference.yaml"] = stack
    c2 = stack.replace(b"quota: 16", b"quota: 20").replace(
        b"      replicas: 3\n", b"      replicas: 2\n", 1)
    embeddings = c2.index(b"    - name: embeddings")
    c3 = c2[:embeddings] + c2[c2.index(b"  pulumi:"):]
    c3 = c3.replace(b"model: mistral-7b-instruct-v0.3\n      environment: vllm-serve\n"
                    b"      replicas: 2", b"model: mistral-7b-instruct-v0.3\n      environment: "
                    b"vllm-serve\n      replicas: 4")
    assert len({stack, c2, c3}) == 3 and b"embeddings" not in c3 and b"replicas: 4" in c3
    git = make_repo(tmp / "repo", Step("acme", files),
                    Step("chat: 2 replicas, quota 20", {"stacks/prod-inference.yaml": c2}),
                    Step("drop embeddings, 4 fallbacks", {"stacks/prod-inference.yaml": c3}))
    trusted(tmp / "repo", tmp / "trust", tmp / "ci.pub")
    head = git.head.peel()
    commits = (str(head.parents[0].parents[0].id), str(head.parents[0].id), str(head.id))
    attest_recorded(tmp / "repo", tmp / "ci.key", commits, tmp / "out")
    _model_cache(cluster)
    with deploying(cluster, tmp, CONTEXT):
        yield Live(tmp / "repo", tmp / "ci.key", commits, cluster)


def _model_cache(cluster: Cluster) -> None:
    """The claim chat mounts, bound to a volume made here (as a platform team provisions a
    shared model cache; the pods cannot start until it is bound). The namespace is made first,
    as such a team would: the provider's server-side apply adopts it."""
    from kubernetes import client as k8s

    core = k8s.CoreV1Api(client(cluster))
    core.create_namespace({"metadata": {"name": NAMESPACE}})
    core.create_persistent_volume({
        "metadata": {"name": "model-cache-pv"},
        "spec": {"capacity": {"storage": "500Gi"}, "accessModes": ["ReadOnlyMany"],
                 "storageClassName": "", "hostPath": {"path": "/srv/models"}}})
    core.create_namespaced_persistent_volume_claim(NAMESPACE, {
        "metadata": {"name": "model-cache"},
        "spec": {"accessModes": ["ReadOnlyMany"], "storageClassName": "",
                 "volumeName": "model-cache-pv", "resources": {"requests": {"storage": "500Gi"}}}})
    core.create_namespaced_secret(NAMESPACE, {"metadata": {"name": "huggingface"},
                                              "stringData": {"token": "hf_test"}})


def _pods(live: Live) -> dict[str, list[object]]:
    from kubernetes import client as k8s

    pods: dict[str, list[object]] = {}
    for pod in k8s.CoreV1Api(client(live.cluster)).list_namespaced_pod(NAMESPACE).items:
        if pod.metadata.deletion_timestamp is None:
            workload = (pod.metadata.labels or {}).get("govops.dev/workload")
            if workload is not None:  # not one made behind govops's back
                pods.setdefault(workload, []).append(pod)
    return pods


def _settled(live: Live, replicas: dict[str, int]) -> None:
    """The workloads run exactly these replicas, on H100 nodes, Running (old pods of a
    scaled-down or deleted workload may take a moment to go: wait for that only)."""
    import time

    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        pods = _pods(live)
        if {w: len(p) for w, p in pods.items()} == replicas:
            break
        time.sleep(0.5)
    pods = _pods(live)
    assert {w: len(p) for w, p in pods.items()} == replicas
    for pod in (p for group in pods.values() for p in group):
        assert pod.spec.node_name in {"gpu-h100-0", "gpu-h100-1"}  # type: ignore[attr-defined]
        assert pod.status.phase == "Running"  # type: ignore[attr-defined]


def _deployed(live: Live) -> StoredEntry:
    """The entry just recorded: the test's own read-back finds the cluster equal to its
    manifests, and so did govops's (the receipt's live digest is the manifests digest, taken
    from the cluster the test started)."""
    last = live.entries()[-1]
    assert last.entry.type in ("apply", "rollback") and last.entry.stack == STACK
    assert live_differences(live.cluster, last) == {}, "live differs from the entry's manifests"
    receipt = json.loads(last.files["deployment.json"])
    ca = x509.load_pem_x509_certificate(live.cluster.ca.read_bytes())
    assert receipt["live"] == {
        "digest": last.entry.details["manifestsDigest"], "matchesApproved": True,
        "differences": {}, "added": [], "cluster": {
            "server": live.cluster.server, "version": "v1.34.3",
            "caSha256": "sha256:" + hashlib.sha256(ca.public_bytes(Encoding.DER)).hexdigest()}}
    return last


def _manifests(item: StoredEntry) -> list[Manifest]:
    files = recorded_manifests(item)
    assert files is not None
    return parse_recorded(files)


def test_apply_three_revisions_then_roll_back_to_the_first(live: Live) -> None:
    c1, c2, c3 = live.commits
    applied: dict[str, StoredEntry] = {}
    for commit, replicas in ((c1, {"chat": 3, "chat-fallback": 2, "embeddings": 2}),
                             (c2, {"chat": 2, "chat-fallback": 2, "embeddings": 2}),
                             (c3, {"chat": 2, "chat-fallback": 4})):
        run = govops("apply", "--repo", str(live.repo), "--stack", STACK, "--rev", commit,
                     "--key", str(live.key))
        assert run.exit_code == 0, run.stdout + run.stderr
        applied[commit] = _deployed(live)
        _settled(live, replicas)
    served = live_object(live.cluster, recorded(applied[c1])["inference.deployment.chat.yaml"])
    assert served is not None
    pod = served["spec"]["template"]["spec"]
    assert pod["volumes"][0]["persistentVolumeClaim"] == {"claimName": "model-cache",
                                                          "readOnly": True}
    assert pod["containers"][0]["startupProbe"]["httpGet"]["port"] == "openai"
    assert pod["containers"][0]["resources"]["limits"] == {"memory": "64Gi",
                                                           "nvidia.com/gpu": "1"}
    quota = recorded(applied[c2])["inference.resourcequota.prod-inference-gpu-quota.yaml"]
    assert quota["spec"]["hard"] == {"requests.nvidia.com/gpu": "20"}
    assert not any("embeddings" in name for name in recorded(applied[c3]))

    run = govops("rollback", "--repo", str(live.repo), "--stack", STACK, "--to",
                 str(applied[c1].entry.seq), "--key", str(live.key))
    assert run.exit_code == 0, run.stdout + run.stderr
    rolled = _deployed(live)
    assert rolled.entry.type == "rollback" and rolled.entry.revision == c1
    assert recorded(rolled) == recorded(applied[c1])
    _settled(live, {"chat": 3, "chat-fallback": 2, "embeddings": 2})
    assert run_audit_verify(live.repo, None, None).report.problem is None

    clean = govops("drift", "--repo", str(live.repo), "--stack", STACK)
    assert clean.exit_code == 0, clean.stdout + clean.stderr
    assert clean.stdout.startswith(f"no drift: stack {STACK} against rollback entry")

    # The admission policy apply installed stands in the way of a workload made around govops:
    # the real API server refuses an unpinned image without govops's labels.
    from kubernetes import client as k8s
    from kubernetes.client.exceptions import ApiException

    api = client(live.cluster)
    apps, core = k8s.AppsV1Api(api), k8s.CoreV1Api(api)
    rogue = _rogue("evil.test/x:latest", {})
    with pytest.raises(ApiException) as refused:
        apps.create_namespaced_deployment(NAMESPACE, rogue)
    assert refused.value.status == 422
    assert "ValidatingAdmissionPolicy 'govops-prod-inference'" in str(refused.value.body)
    assert "every image must be pinned by digest" in str(refused.value.body)

    # Changed behind govops's back by someone who keeps to the admission rules (a pinned image,
    # govops's labels copied): a Deployment scaled and its image swapped, a Service deleted, a
    # Deployment added. The read-back names each change, the digest moves, and `govops drift`
    # says so (exit 1), recording a signed drift entry on request.
    swapped = "ghcr.io/acme/vllm@sha256:" + "f" * 64
    apps.patch_namespaced_deployment("chat", NAMESPACE, {"spec": {"replicas": 5, "template": {
        "spec": {"containers": [{"name": "chat", "image": swapped}]}}}})
    core.delete_namespaced_service("embeddings", NAMESPACE)
    apps.create_namespaced_deployment(NAMESPACE, _rogue(swapped, {
        "govops.dev/model-digest": "sha256:" + "a" * 64}))
    state = read_back(_manifests(rolled), CONTEXT, STACK)
    assert not state.matches and state.digest != rolled.entry.details["manifestsDigest"]
    assert dict(state.differences) == {
        "inference.deployment.chat.yaml": (
            "spec.replicas: is 5, planned 3",
            f"spec.template.spec.containers[0].image: is {swapped!r}, planned "
            "'ghcr.io/acme/vllm@sha256:c0be114bf260e9f05643f4bd755a2cf35674646de21b424d86c2a5e"
            "489fe33c6'"),
        "inference.service.embeddings.yaml": ("missing from the cluster",)}
    assert state.added == ("Deployment inference/rogue",)

    drift = govops("drift", "--repo", str(live.repo), "--stack", STACK, "--record", "--key",
                   str(live.key))
    assert drift.exit_code == 1, drift.stdout + drift.stderr
    assert drift.stdout.startswith(f"DRIFTED: stack {STACK} against rollback entry "
                                   f"#{rolled.entry.seq}")
    assert "  changed inference.deployment.chat.yaml: spec.replicas: is 5, planned 3" in \
        drift.stdout
    assert "  deleted inference.service.embeddings.yaml" in drift.stdout
    assert "  added   Deployment inference/rogue" in drift.stdout
    assert "refresh would" in drift.stdout  # Pulumi's own refresh sees the changes too
    recorded_drift = live.entries()[-1]
    assert recorded_drift.entry.type == "drift"
    assert recorded_drift.entry.links == {"deployment": rolled.hash}
    assert recorded_drift.entry.details["drifted"] is True
    assert run_audit_verify(live.repo, None, None).report.problem is None

    # Applying the approved revision again takes the changed fields back from the manager that
    # changed them and recreates the Service; the Deployment govops never made is not its to
    # delete, so the read-back still finds it: the entry is recorded (the apply happened) and
    # the command says the cluster is not what was approved (exit 1).
    again = govops("apply", "--repo", str(live.repo), "--stack", STACK, "--rev", c1, "--key",
                   str(live.key))
    assert again.exit_code == 1, again.stdout + again.stderr
    reapplied = live.entries()[-1]
    assert reapplied.entry.type == "apply" and reapplied.entry.revision == c1
    assert again.stderr.strip() == (
        f"govops: error: recorded apply entry #{reapplied.entry.seq}, but the cluster does not "
        "hold what was approved: Deployment inference/rogue: not in the plan")
    assert live_differences(live.cluster, reapplied) == {}
    assert json.loads(reapplied.files["deployment.json"])["live"]["added"] == [
        "Deployment inference/rogue"]
    apps.delete_namespaced_deployment("rogue", NAMESPACE)
    _settled(live, {"chat": 3, "chat-fallback": 2, "embeddings": 2})
    clean = govops("drift", "--repo", str(live.repo), "--stack", STACK)
    assert clean.exit_code == 0, clean.stdout + clean.stderr
    assert run_audit_verify(live.repo, None, None).report.problem is None


def _rogue(image: str, annotations: dict[str, str]) -> dict[str, object]:
    """A Deployment made with the Kubernetes client, labelled as the stack's, on A100s."""
    labels = {"govops.dev/stack": STACK, "app": "rogue"}
    return {
        "apiVersion": "apps/v1", "kind": "Deployment",
        "metadata": {"name": "rogue", "labels": {"govops.dev/stack": STACK},
                     "annotations": {"govops.dev/decision-id": "sha256:" + "b" * 64}},
        "spec": {"replicas": 1, "selector": {"matchLabels": {"app": "rogue"}}, "template": {
            "metadata": {"labels": labels, "annotations": annotations},
            "spec": {"containers": [{"name": "x", "image": image}],
                     "nodeSelector": {"nvidia.com/gpu.product": "NVIDIA-A100-SXM4-80GB"},
                     "tolerations": [{"key": "nvidia.com/gpu", "operator": "Exists"}]}}}}
