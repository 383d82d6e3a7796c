"""Upgrading a cluster govops deployed before issue 20, and replacing a Job afterwards, on the
live control plane (tests/support/cluster.py) with the real Pulumi CLI and Kubernetes provider.

The Deployment selector gained `app` and `release`, which Kubernetes never lets change in
place, and the pod templates gained a security context, which a Job's immutable template
cannot take either: the provider replaces both (delete, then create: their names are fixed).
A stack is applied with the program as it was (the selector of govops's two labels, no security
context, no Pod Security labels, Jobs marked `pulumi.com/skipAwait`), then the same revision
with the shipped program. The provider does not wait for the deletion of a skipAwait Job, so
while the old Job still terminates (held here by a finalizer on its pod, as a slow node would)
its replacement is refused as "field is immutable": one line, exit 1, nothing recorded. Once it
is gone, the apply again completes the upgrade: both objects replaced, the namespace
enforcing `restricted`, the new pods running under it, the read-back clean, and later applies
replace nothing; a rollback to what was deployed before the upgrade is refused (exit 3: the
commit no longer plans to the digest it deployed). The shipped program awaits a Job's deletion (a custom `pulumi.com/waitFor`
instead of skipAwait), so a later change to the Job's template replaces it even while its old
pod is held. README.md's upgrade note describes this path."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from engine.ledger.entry import StoredEntry
from engine.ledger.store import Ledger
from engine.repo import open_repo
from engine.repo.scripted import Step
from engine.shipped import programs_dir
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
from tests.support.trust import trusted

__all__ = ["cluster"]  # the fixture, used by name

STACK, NAMESPACE, CONTEXT = "upgrade", "upgrade", "gpu-east-1"
# On the A100 nodes, which the other live tests leave room on.
STACK_YAML = b"""apiVersion: govops.dev/v1
kind: Stack
metadata:
  name: upgrade
spec:
  cluster: {name: gpu-east-1, context: gpu-east-1}
  namespace: upgrade
  gpu: {type: nvidia-a100-80gb, quota: 3}
  workloads:
    - {name: serve, kind: inference, model: llama-3-8b-instruct, environment: vllm-serve,
       replicas: 2, gpusPerReplica: 1}
    - {name: tune, kind: training, model: acme-support-assistant, environment: train,
       replicas: 1, gpusPerReplica: 1}
"""
# The program as govops shipped it before: each (new, old) replaced in the shipped source.
BEFORE = (
    ('''    return {**_selector(spec, workload), "app": label_safe(workload.name),
            "release": label_safe(spec.name)}''', "    return _selector(spec, workload)"),
    ("            security_context=_pod_security(container),\n", ""),
    ("                security_context=_container_security(container),\n", ""),
    ("labels={**_labels(spec), **POD_SECURITY},", "labels=_labels(spec),"),
    ('{"pulumi.com/waitFor": JOB_ACCEPTED}', '{"pulumi.com/skipAwait": "true"}'),
)
HOLD = "govops.test/hold"


@dataclass(frozen=True)
class Upgrade:
    repo: Path
    key: Path
    commits: tuple[str, str]  # the stack; then its training Job with one more env var
    cluster: Cluster
    old_programs: Path

    def entries(self) -> list[StoredEntry]:
        return Ledger(open_repo(self.repo)).entries()

    def command(self, commit: str) -> list[str]:
        return [str(Path(sys.executable).parent / "govops"), "apply", "--repo", str(self.repo),
                "--stack", STACK, "--rev", commit, "--key", str(self.key)]

    def run(self, commit: str) -> tuple[int, str, str]:
        """`govops apply` as its own process: the stderr checked is all the user sees, and a
        program compiled for the run (the old one here) is not compiled on a thread of the
        test process (Python 3.11's parser keeps its recursion count per process, and two
        threads parsing at once leave it wrong for the rest of the session)."""
        run = subprocess.run(self.command(commit), capture_output=True, text=True,
                             timeout=600, check=False)
        return run.returncode, run.stdout, run.stderr

    def apply(self, commit: str | None = None) -> StoredEntry:
        code, out, err = self.run(commit or self.commits[0])
        assert code == 0, out + err
        last = self.entries()[-1]
        assert last.entry.type == "apply"
        assert live_differences(self.cluster, last) == {}
        return last


@pytest.fixture(scope="module")
def upgrade(cluster: Cluster, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Upgrade]:
    tmp = tmp_path_factory.mktemp("upgrade")
    assert govops("keygen", "--output", str(tmp / "ci")).exit_code == 0
    files = {**unwaived(fixture("acme-ml")), "keys/ci.pub": (tmp / "ci.pub").read_bytes(),
             "stacks/upgrade.yaml": STACK_YAML}
    tuned = STACK_YAML.replace(b"       replicas: 1, gpusPerReplica: 1}",
                               b"       replicas: 1, gpusPerReplica: 1,\n"
                               b"       env: [{name: EPOCHS, value: '3'}]}")
    assert tuned != STACK_YAML
    git = make_repo(tmp / "repo", Step("acme and the upgrade stack", files),
                    Step("tune for 3 epochs", {"stacks/upgrade.yaml": tuned}))
    trusted(tmp / "repo", tmp / "trust", tmp / "ci.pub")
    head = git.head.peel()
    commits = (str(head.parents[0].id), str(head.id))
    attest_recorded(tmp / "repo", tmp / "ci.key", commits, tmp / "out")
    source = (programs_dir() / "gpu-workloads" / "program.py").read_text()
    for new, old in BEFORE:
        assert source.count(new) == 1, new
        source = source.replace(new, old)
    old_programs = tmp / "programs"
    (old_programs / "gpu-workloads").mkdir(parents=True)
    (old_programs / "gpu-workloads" / "program.py").write_text(source)
    with deploying(cluster, tmp, CONTEXT):
        yield Upgrade(tmp / "repo", tmp / "ci.key", commits, cluster, old_programs)


def _pods(cluster: Cluster, workload: str) -> list[Any]:
    from kubernetes import client as k8s

    return [p for p in k8s.CoreV1Api(client(cluster)).list_namespaced_pod(
                NAMESPACE, label_selector=f"govops.dev/workload={workload}").items
            if p.metadata.deletion_timestamp is None]


def _running(cluster: Cluster, workload: str, count: int) -> list[Any]:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        pods = _pods(cluster, workload)
        if len(pods) == count and all(p.status.phase in ("Running", "Succeeded")
                                      for p in pods):
            return pods
        time.sleep(0.5)
    pytest.fail(f"{workload}: not {count} started pods within 60 s: "
                f"{[(p.metadata.name, p.status.phase) for p in _pods(cluster, workload)]}")


def _hold(cluster: Cluster, workload: str) -> list[str]:
    """Put a finalizer of the test's own on the workload's pods: deleting them (and so, in the
    foreground, their Job) then waits until _release."""
    from kubernetes import client as k8s

    core = k8s.CoreV1Api(client(cluster))
    pods = _running(cluster, workload, 1)
    for pod in pods:
        add = ({"op": "add", "path": "/metadata/finalizers/-", "value": HOLD}
               if pod.metadata.finalizers else
               {"op": "add", "path": "/metadata/finalizers", "value": [HOLD]})
        core.patch_namespaced_pod(pod.metadata.name, NAMESPACE, [add])
    return [pod.metadata.name for pod in pods]


def _release(cluster: Cluster, names: list[str]) -> None:
    """Take the finalizer off again (a pod already gone was released before)."""
    from kubernetes import client as k8s
    from kubernetes.client.exceptions import NotFoundException

    core = k8s.CoreV1Api(client(cluster))
    for name in names:
        try:
            finalizers = core.read_namespaced_pod(name, NAMESPACE).metadata.finalizers or []
        except NotFoundException:
            continue
        if HOLD in finalizers:
            core.patch_namespaced_pod(name, NAMESPACE, [
                {"op": "remove", "path": f"/metadata/finalizers/{finalizers.index(HOLD)}"}])


def _gone(cluster: Cluster, manifest: dict[str, Any]) -> None:
    deadline = time.monotonic() + 60
    while live_object(cluster, manifest) is not None:
        assert time.monotonic() < deadline, f"{manifest['metadata']['name']} never went"
        time.sleep(0.5)


def _live(upgrade: Upgrade, item: StoredEntry, *files: str) -> list[dict[str, Any]]:
    found = [live_object(upgrade.cluster, recorded(item)[file]) for file in files]
    assert all(f is not None for f in found), files
    return found  # type: ignore[return-value]


DEPLOYMENT, JOB, NS = ("upgrade.deployment.serve.yaml", "upgrade.job.tune.yaml",
                       "_cluster.namespace.upgrade.yaml")


def test_upgrading_replaces_the_deployment_and_the_job_once(
        upgrade: Upgrade, monkeypatch: pytest.MonkeyPatch) -> None:
    with monkeypatch.context() as before:
        before.setenv("GOVOPS_STACK_PROGRAMS", str(upgrade.old_programs))
        old = upgrade.apply()
    deployment, job, namespace = _live(upgrade, old, DEPLOYMENT, JOB, NS)
    assert deployment["spec"]["selector"]["matchLabels"] == {
        "govops.dev/stack": STACK, "govops.dev/workload": "serve"}
    assert "securityContext" not in deployment["spec"]["template"]["spec"]["containers"][0]
    assert "pod-security.kubernetes.io/enforce" not in namespace["metadata"]["labels"]
    assert job["metadata"]["annotations"]["pulumi.com/skipAwait"] == "true"
    old_pods = {p.metadata.name for p in _running(upgrade.cluster, "serve", 2)}

    # The old Job's deletion is not awaited: while it still terminates, its replacement is
    # refused, one line, and nothing is recorded.
    held = _hold(upgrade.cluster, "tune")
    before_entries = len(upgrade.entries())
    code, out, err = upgrade.run(upgrade.commits[0])
    assert code == 1 and out == "" and len(err.strip().splitlines()) == 1, out + err
    assert err.startswith(f"govops: error: pulumi failed for stack {STACK}: ")
    assert 'Job.batch "tune" is invalid: spec.template' in err and "field is immutable" in err
    assert len(upgrade.entries()) == before_entries
    _release(upgrade.cluster, held)
    _gone(upgrade.cluster, recorded(old)[JOB])

    new = upgrade.apply()  # once it is gone, the upgrade completes: exit 0, read-back clean
    assert json.loads(new.files["deployment.json"])["live"]["matchesApproved"] is True
    replaced, rerun, namespace = _live(upgrade, new, DEPLOYMENT, JOB, NS)
    assert replaced["metadata"]["uid"] != deployment["metadata"]["uid"]
    assert rerun["metadata"]["uid"] != job["metadata"]["uid"]
    assert rerun["metadata"]["annotations"]["pulumi.com/waitFor"] == "jsonpath={.metadata.uid}"
    assert replaced["spec"]["selector"]["matchLabels"] == {
        "app": "serve", "release": STACK, "govops.dev/stack": STACK,
        "govops.dev/workload": "serve"}
    assert namespace["metadata"]["labels"]["pod-security.kubernetes.io/enforce"] == "restricted"
    pods = _running(upgrade.cluster, "serve", 2)
    assert not {p.metadata.name for p in pods} & old_pods
    for pod in pods + _running(upgrade.cluster, "tune", 1):
        assert pod.metadata.labels["release"] == STACK
        assert pod.spec.security_context.run_as_non_root is True
        assert pod.spec.containers[0].security_context.read_only_root_filesystem is True

    again = upgrade.apply()  # from now on an apply replaces nothing
    changes = json.loads(again.files["deployment.json"])["updateSummary"]["resourceChanges"]
    assert "replace" not in changes, changes

    # What was deployed before the upgrade no longer plans to its digest: rollback refuses it
    back = govops("rollback", "--repo", str(upgrade.repo), "--stack", STACK, "--to",
                  str(old.entry.seq), "--dry-run")
    assert back.exit_code == 3, back.stdout + back.stderr
    assert "the program (stacks/) or its data changed since" in back.stderr


def test_a_changed_job_is_replaced_after_its_old_pods_are_gone(upgrade: Upgrade) -> None:
    """The shipped program: the provider awaits the old Job's deletion, so a new template
    replaces it even while its pod is held. `govops apply` runs as its own process here; while
    the old Job terminates it is still waiting, and once the pod is released it finishes."""
    first = upgrade.apply()
    (job,) = _live(upgrade, first, JOB)
    held = _hold(upgrade.cluster, "tune")
    process = subprocess.Popen(upgrade.command(upgrade.commits[1]), stdout=subprocess.PIPE,
                               stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.monotonic() + 120
        while (live_object(upgrade.cluster, recorded(first)[JOB]) or {}).get(
                "metadata", {}).get("deletionTimestamp") is None:
            assert process.poll() is None, process.communicate()
            assert time.monotonic() < deadline, "the old Job was never deleted"
            time.sleep(0.5)
        time.sleep(3)  # the old Job terminating: the apply waits rather than create over it
        assert process.poll() is None, process.communicate()
        assert live_object(upgrade.cluster, recorded(first)[JOB])["metadata"]["uid"] == \
            job["metadata"]["uid"]
    finally:
        _release(upgrade.cluster, held)
    out, err = process.communicate(timeout=300)
    assert process.returncode == 0, out + err
    tuned = upgrade.entries()[-1]
    assert tuned.entry.type == "apply" and tuned.entry.revision == upgrade.commits[1]
    assert live_differences(upgrade.cluster, tuned) == {}
    changes = json.loads(tuned.files["deployment.json"])["updateSummary"]["resourceChanges"]
    assert changes.get("replace") == 1, changes  # the Job, nothing else
    (rerun,) = _live(upgrade, tuned, JOB)
    assert rerun["metadata"]["uid"] != job["metadata"]["uid"]
    assert {"name": "EPOCHS", "value": "3"} in \
        rerun["spec"]["template"]["spec"]["containers"][0]["env"]
