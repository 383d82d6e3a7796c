"""`govops apply` and `rollback` for real: the Pulumi CLI and Kubernetes provider built from
their Go modules drive the acme `prod-inference` stack into a live control plane
(tests/support/cluster.py). Three revisions are applied in turn and the cluster then rolled
back to the first: after each step every object the ledger entry recorded is read back from
the API server and equals what was approved (on the fields govops sets), the pods sit on the
H100 nodes within the GPU quota and are Ready, govops's own read-back (recorded in each
receipt) agrees, and the ledger verifies. Then a Deployment is scaled and a Service deleted
behind govops's back, and the read-back names both."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import yaml
from cryptography import x509
from cryptography.hazmat.primitives.serialization import Encoding

from engine.commands.audit import run_audit_verify
from engine.deploy.manifests import Manifest
from engine.deploy.readback import read_back
from engine.ledger.entry import StoredEntry
from engine.ledger.store import Ledger
from engine.repo import open_repo
from engine.repo.scripted import Step
from tests.support.cli import govops
from tests.support.cluster import Cluster, client, cluster
from tests.support.live_deploy import deploying, live_differences, recorded
from tests.support.repos import NOW, fixture, make_repo, unwaived
from tests.support.trust import trusted

__all__ = ["cluster"]  # the fixture, used by name

STACK, NAMESPACE, CONTEXT = "prod-inference", "inference", "gpu-east-1"


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
    stack = files["stacks/prod-inference.yaml"]
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
    for rev in commits:
        run = govops("attest", "--repo", str(tmp / "repo"), "--rev", rev, "--key",
                     str(tmp / "ci.key"), "--output", str(tmp / f"out-{rev}"), "--now", NOW,
                     "--record")
        assert run.exit_code == 0, run.stderr
    with deploying(cluster, tmp, CONTEXT):
        yield Live(tmp / "repo", tmp / "ci.key", commits, cluster)


def _pods(live: Live) -> dict[str, list[object]]:
    from kubernetes import client as k8s

    pods: dict[str, list[object]] = {}
    for pod in k8s.CoreV1Api(client(live.cluster)).list_namespaced_pod(NAMESPACE).items:
        if pod.metadata.deletion_timestamp is None:
            pods.setdefault(pod.metadata.labels["govops.dev/workload"], []).append(pod)
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
        "differences": {}, "cluster": {
            "server": live.cluster.server, "version": "v1.34.3",
            "caSha256": "sha256:" + hashlib.sha256(ca.public_bytes(Encoding.DER)).hexdigest()}}
    return last


def _manifests(item: StoredEntry) -> list[Manifest]:
    return [Manifest(name, doc["apiVersion"], doc["kind"], doc["metadata"].get("namespace"),
                     doc["metadata"]["name"], doc, text.encode(),
                     hashlib.sha256(text.encode()).hexdigest())
            for name, text in sorted(json.loads(item.recorded["manifests.json"]).items())
            for doc in [yaml.safe_load(text)]]


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

    # Changed behind govops's back: the read-back names each change and the digest moves.
    from kubernetes import client as k8s

    api = client(live.cluster)
    k8s.AppsV1Api(api).patch_namespaced_deployment("chat", NAMESPACE, {"spec": {"replicas": 5}})
    k8s.CoreV1Api(api).delete_namespaced_service("embeddings", NAMESPACE)
    state = read_back(_manifests(rolled), CONTEXT)
    assert not state.matches and state.digest != rolled.entry.details["manifestsDigest"]
    assert dict(state.differences) == {
        "inference.deployment.chat.yaml": ("spec.replicas: is 5, planned 3",),
        "inference.service.embeddings.yaml": ("missing from the cluster",)}
