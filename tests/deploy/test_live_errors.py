"""When the engine fails against the live control plane (tests/support/cluster.py), the user
gets one line saying why, exit 1, and the ledger records nothing.

- Over quota: a stack whose GPU quota its workloads fill exactly is applied; the next revision
  changes a workload's model, so its rolling update needs one more pod than the quota allows.
  The namespace's ResourceQuota (a real quota admission in the API server) refuses the pod, the
  provider gives up at the stack's `spec.rollout.timeoutSeconds`, and govops adds the
  Deployment's own `ReplicaFailure` message ("exceeded quota") to the engine's line.
- Unschedulable: a pod asking for more GPUs than any node has is created and stays Pending;
  govops adds its `PodScheduled` condition (the scheduler's "Insufficient nvidia.com/gpu").
- Invalid object: a team's own program (GOVOPS_STACK_PROGRAMS) registers a Deployment with a
  negative replica count; the API server refuses it and the engine's refusal is the line.
"""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from engine.ledger.store import Ledger
from engine.repo import open_repo
from engine.repo.scripted import Step
from engine.shipped import programs_dir
from tests.support.cli import govops
from tests.support.cluster import Cluster, cluster
from tests.support.live_deploy import attest_recorded, deploying
from tests.support.repos import fixture, make_repo, unwaived
from tests.support.trust import trusted

__all__ = ["cluster"]  # the fixture, used by name

STACK, CONTEXT = "tight", "gpu-east-1"
# One pod asking for 9 GPUs: within the quota and the admission policy, but no node has 9.
HUGE = b"""apiVersion: govops.dev/v1
kind: Stack
metadata:
  name: huge
spec:
  cluster: {name: gpu-east-1, context: gpu-east-1}
  namespace: huge
  gpu: {type: nvidia-h100-80gb, quota: 9}
  rollout: {timeoutSeconds: 15}
  workloads:
    - {name: big, kind: inference, model: llama-3-8b-instruct, environment: vllm-serve,
       replicas: 1, gpusPerReplica: 9}
"""


@dataclass(frozen=True)
class Tight:
    repo: Path
    key: Path
    commits: tuple[str, str]
    folder: Path

    def entries(self) -> int:
        return len(Ledger(open_repo(self.repo)).entries())

    def apply(self, commit: str, stack: str = STACK) -> tuple[int, str, str]:
        """`govops apply` as its own process, so the stderr checked is all the user sees
        (the SDK's leftovers at interpreter exit included)."""
        run = subprocess.run(
            [str(Path(sys.executable).parent / "govops"), "apply", "--repo", str(self.repo),
             "--stack", stack, "--rev", commit, "--key", str(self.key)],
            capture_output=True, text=True, timeout=600, check=False)
        return run.returncode, run.stdout, run.stderr


@pytest.fixture(scope="module")
def tight(cluster: Cluster, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Tight]:
    """acme's prod-inference as stack `tight` in namespace `tight`: quota 7 for 3 + 2 + 2
    one-GPU replicas, a 15 s rollout timeout; c2 serves chat from another model."""
    tmp = tmp_path_factory.mktemp("tight")
    assert govops("keygen", "--output", str(tmp / "ci")).exit_code == 0
    files = {**unwaived(fixture("acme-ml")), "keys/ci.pub": (tmp / "ci.pub").read_bytes()}
    stack = files.pop("stacks/prod-inference.yaml")
    c1 = (stack.replace(b"name: prod-inference", b"name: tight")
          .replace(b"namespace: inference", b"namespace: tight")
          .replace(b"quota: 16 ", b"quota: 7  ")
          .replace(b"  pulumi:\n", b"  rollout:\n    timeoutSeconds: 15\n  pulumi:\n"))
    c2 = c1.replace(b"model: llama-3-8b-instruct", b"model: mistral-7b-instruct-v0.3", 1)
    assert c1 != stack and b"quota: 7" in c1 and b"timeoutSeconds: 15" in c1 and c2 != c1
    git = make_repo(tmp / "repo", Step("acme", {**files, "stacks/tight.yaml": c1,
                                                  "stacks/huge.yaml": HUGE}),
                    Step("chat on mistral", {"stacks/tight.yaml": c2}))
    trusted(tmp / "repo", tmp / "trust", tmp / "ci.pub")
    head = git.head.peel()
    commits = (str(head.parents[0].id), str(head.id))
    attest_recorded(tmp / "repo", tmp / "ci.key", commits, tmp / "out")
    with deploying(cluster, tmp, CONTEXT):
        yield Tight(tmp / "repo", tmp / "ci.key", commits, tmp)


def test_an_over_quota_rollout_is_one_line_naming_the_quota(tight: Tight) -> None:
    c1, c2 = tight.commits
    code, out, err = tight.apply(c1)
    assert code == 0, out + err
    before = tight.entries()

    code, out, err = tight.apply(c2)
    assert code == 1
    assert out == "" and len(err.strip().splitlines()) == 1, err
    assert err.startswith(f"govops: error: pulumi failed for stack {STACK}: ")
    line = err.strip()
    cluster_says = line[line.index("; in the cluster: "):]
    assert cluster_says.startswith("; in the cluster: Deployment tight/chat: pods ")
    assert "is forbidden: exceeded quota: tight-gpu-quota, requested: " \
           "requests.nvidia.com/gpu=1, used: requests.nvidia.com/gpu=7, limited: " \
           "requests.nvidia.com/gpu=7" in cluster_says
    assert tight.entries() == before


def test_an_object_the_api_server_refuses_is_one_line(tight: Tight, tmp_path: Path,
                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    shipped = (programs_dir() / "gpu-workloads" / "program.py").read_text()
    assert "            replicas=workload.replicas,\n" in shipped
    own = tmp_path / "programs" / "gpu-workloads"
    own.mkdir(parents=True)
    (own / "program.py").write_text(shipped.replace(
        "            replicas=workload.replicas,\n", "            replicas=-workload.replicas,\n"))
    monkeypatch.setenv("GOVOPS_STACK_PROGRAMS", str(tmp_path / "programs"))
    before = tight.entries()

    code, out, err = tight.apply(tight.commits[0])
    assert code == 1
    assert out == "" and len(err.strip().splitlines()) == 1, err
    assert err.startswith(f"govops: error: pulumi failed for stack {STACK}: ")
    assert "spec.replicas: Invalid value: -" in err
    assert "must be greater than or equal to 0" in err
    assert tight.entries() == before


def test_a_pod_no_node_can_take_is_one_line_naming_the_scheduler(tight: Tight) -> None:
    before = tight.entries()
    code, out, err = tight.apply(tight.commits[0], "huge")
    assert code == 1
    assert out == "" and len(err.strip().splitlines()) == 1, err
    assert err.startswith("govops: error: pulumi failed for stack huge: ")
    line = err.strip()
    cluster_says = line[line.index("; in the cluster: "):]
    assert cluster_says.startswith("; in the cluster: Deployment huge/big: pod big-")
    assert "cannot be scheduled: 0/5 nodes are available:" in cluster_says
    assert "Insufficient nvidia.com/gpu" in cluster_says
    assert tight.entries() == before
