"""Benchmark `govops apply` and `govops rollback` against a live control plane: the same etcd,
kube-apiserver, controller-manager, scheduler and kwok GPU nodes the tests start
(tests/support/cluster.py, here with 8 H100 nodes of 8 GPUs), with the Pulumi CLI and provider
built by tools/build_go_tools.py.

Per size (workloads of one GPU each in one stack): the stack is applied at c1, applied at c2
(the quota raised; every object also carries the new commit and decision in its labels and
annotations, so every object is updated), and rolled back to c1; each run in a stack and
namespace of its own, deleted after it (8 nodes hold 64 GPUs), the median of the runs printed.
Each is timed end to end in this process, and split into the Pulumi engine (refresh, up, the
rollback's preview), the read-back of the live objects, and govops itself (verification of
the trust root, the ledger and receipts, planning, signing, recording).

    python benchmarks/deploy_bench.py [--sizes 1,10,50] [--runs 3]
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from engine.deploy import pulumi_run, readback
from engine.deploy.applied import MANIFESTS_FILE
from engine.ledger.store import Ledger
from engine.repo import open_repo
from engine.repo.scripted import Step
from tests.support.cli import govops
from tests.support.cluster import Cluster, Processes, client, start_cluster
from tests.support.live_deploy import deploying
from tests.support.repos import NOW, fixture, make_repo, unwaived
from tests.support.trust import trusted

NODES = tuple((f"gpu-h100-{i}", "NVIDIA-H100-80GB-HBM3") for i in range(8))
SPENT: dict[str, float] = {}


def _timed(name: str, module: Any, attribute: str) -> None:
    original: Callable[..., Any] = getattr(module, attribute)

    def wrapper(*args: Any, **kwargs: Any) -> Any:
        started = time.perf_counter()
        try:
            return original(*args, **kwargs)
        finally:
            SPENT[name] = SPENT.get(name, 0.0) + time.perf_counter() - started

    setattr(module, attribute, wrapper)


def _stack(name: str, size: int, quota: int) -> bytes:
    workloads = "".join(
        f"    - name: w{i}\n      kind: inference\n      model: llama-3-8b-instruct\n"
        f"      environment: vllm-serve\n      replicas: 1\n      gpusPerReplica: 1\n"
        for i in range(size))
    return (f"apiVersion: govops.dev/v1\nkind: Stack\nmetadata:\n  name: {name}\n"
            f"spec:\n  cluster:\n    name: bench\n    context: bench\n"
            f"  namespace: {name}\n  gpu:\n    type: nvidia-h100-80gb\n"
            f"    quota: {quota}\n  workloads:\n{workloads}  pulumi:\n"
            f"    program: gpu-workloads\n").encode()


def _run(what: str, *args: str) -> dict[str, float]:
    SPENT.clear()
    started = time.perf_counter()
    run = govops(*args)
    total = time.perf_counter() - started
    if run.exit_code != 0:
        raise SystemExit(f"{what} failed: {run.stderr.strip()}")
    engine, back = SPENT.get("engine", 0.0), SPENT.get("readback", 0.0)
    return {"total": total, "engine": engine, "readback": back,
            "govops": total - engine - back}


def bench(cluster: Cluster, folder: Path, size: int, run: int
          ) -> tuple[int, dict[str, dict[str, float]]]:
    """One run at one size in a namespace of its own: (objects deployed, figures per step)."""
    assert govops("keygen", "--output", str(folder / "ci")).exit_code == 0
    name = f"bench-{size}-{run}"
    files = {**unwaived(fixture("acme-ml")), "keys/ci.pub": (folder / "ci.pub").read_bytes(),
             f"stacks/{name}.yaml": _stack(name, size, size)}
    git = make_repo(folder / "repo", Step("bench", files),
                    Step("quota + 1", {f"stacks/{name}.yaml": _stack(name, size, size + 1)}))
    trusted(folder / "repo", folder / "trust", folder / "ci.pub")
    head = git.head.peel()
    c1, c2 = str(head.parents[0].id), str(head.id)
    for rev in (c1, c2):
        attested = govops("attest", "--repo", str(folder / "repo"), "--rev", rev, "--key",
                          str(folder / "ci.key"), "--output", str(folder / rev), "--now", NOW,
                          "--record")
        assert attested.exit_code == 0, attested.stderr
    common = ("--repo", str(folder / "repo"), "--stack", name, "--key", str(folder / "ci.key"))
    figures = {"apply (create)": _run("apply c1", "apply", *common, "--rev", c1),
               "apply (next commit)": _run("apply c2", "apply", *common, "--rev", c2),
               "rollback": _run("rollback", "rollback", *common, "--to", c1)}
    last = Ledger(open_repo(folder / "repo")).entries()[-1]
    objects = len(json.loads(last.files[MANIFESTS_FILE]))
    _delete_namespace(cluster, name)  # its GPUs free for the next run
    return objects, figures


def _delete_namespace(cluster: Cluster, name: str) -> None:
    from kubernetes import client as k8s
    from kubernetes.client.exceptions import ApiException

    core = k8s.CoreV1Api(client(cluster))
    core.delete_namespace(name)
    deadline = time.monotonic() + 180
    while time.monotonic() < deadline:
        try:
            core.read_namespace(name)
        except ApiException as exc:
            if exc.status == 404:
                return
            raise
        time.sleep(0.5)
    raise SystemExit(f"namespace {name} was not deleted within 180 s")


def report(size: int, objects: int, runs: list[dict[str, dict[str, float]]]) -> None:
    """Medians over the runs, per step."""
    for label in runs[0]:
        median = {k: statistics.median(r[label][k] for r in runs) for k in runs[0][label]}
        print(f"  {size:3} workloads ({objects:3} objects) {label:19} {median['total']:6.1f} s"
              f"  engine {median['engine']:5.1f} s ({median['engine'] / median['total']:4.0%})"
              f"  read-back {median['readback']:4.1f} s  govops {median['govops']:4.1f} s"
              f" ({median['govops'] / median['total']:4.0%})")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="1,10,50")
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    _timed("engine", pulumi_run, "deploy")
    _timed("engine", pulumi_run, "preview_changes")
    _timed("readback", readback, "read_back")
    with tempfile.TemporaryDirectory(prefix="govops-deploy-bench-") as tmp:
        processes = Processes(Path(tmp) / "cluster")
        (Path(tmp) / "cluster").mkdir()
        try:
            started = time.perf_counter()
            cluster = start_cluster(Path(tmp) / "cluster", processes, NODES)
            print(f"control plane and {len(NODES)} kwok GPU nodes up in "
                  f"{time.perf_counter() - started:.1f} s; median of {args.runs} runs per "
                  "size (wall time in this process)")
            with deploying(cluster, Path(tmp), "bench"):
                for size in (int(s) for s in args.sizes.split(",")):
                    runs = []
                    for run in range(args.runs):
                        folder = Path(tmp) / f"size-{size}-{run}"
                        folder.mkdir()
                        objects, figures = bench(cluster, folder, size, run)
                        runs.append(figures)
                    report(size, objects, runs)
        finally:
            processes.stop()


if __name__ == "__main__":
    main()
