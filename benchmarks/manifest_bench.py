"""Benchmark manifest policies (issue 20): what `govops check` pays to render each stack and run
the kubernetes-security pack (seven Gatekeeper templates) and a conftest namespace against every
object it renders.

Uses check_bench's generated repos (per 20 objects, 5 Stacks of 2 inference workloads; each
stack renders 10 objects: Namespace, ResourceQuota, the admission policy and its binding, and a
Deployment, Service and PodDisruptionBudget per workload). Times the installed `govops` console
script end to end, with the resident OPA (`--engine opa-server`) and no govops daemon, so every
run imports what it needs:
- a full check without manifest policies, and with them (every stack rendered and judged);
- `--staged` with one Stack edited, with them (the one stack the change touches), run by the
  script itself and answered by the govops daemon (which keeps Pulumi imported).
The parse cache and the v0 -> v1 conversions are warm (a developer's second commit); the
first run of each is left out.

    python benchmarks/manifest_bench.py [--sizes 100,1000] [--runs 5]
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
from pathlib import Path

import pygit2

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from check_bench import NOW, _start_daemon, _time, generate

from engine.cli.daemon_client import stop_all as stop_daemons
from engine.policy.backends.resident import stop_all
from engine.repo.scripted import Step, build_history, stage

TOOLS = Path(__file__).resolve().parents[1] / ".cache" / "go-tools" / "bin"
CONFTEST = """package main

import rego.v1

deny contains msg if {
\tinput.kind == "Deployment"
\tnot input.spec.template.spec.securityContext.runAsNonRoot
\tmsg := sprintf("Containers must not run as root in Deployment %s", [input.metadata.name])
}
"""
MANIFESTS = "manifests:\n  policies: [k8s/]\n  packs: [kubernetes-security]\n"


def _median(args: list[str], cwd: Path, runs: int, daemon: bool = False) -> float:
    """Median of `runs` timed checks, after one that warms the caches and the resident OPA
    (and, with the daemon, one that starts it and one it answers first)."""
    if daemon:
        _start_daemon(args, cwd)
    _time(args, cwd, {0, 1}, daemon)
    return statistics.median(_time(args, cwd, {0, 1}, daemon) for _ in range(runs))


def bench(size: int, runs: int, workdir: Path) -> None:
    files = {k: v.encode() for k, v in generate(size).items()}
    stacks = sum(1 for p in files if p.startswith("stacks/"))
    plain = workdir / f"plain-{size}"
    judged = workdir / f"judged-{size}"
    build_history(plain, [Step("objects", files, time="2026-11-02T10:00:00Z")])
    build_history(judged, [Step("objects", {**files, "k8s/root.rego": CONFTEST.encode(),
                                            "govops.yaml": files["govops.yaml"]
                                            + MANIFESTS.encode()},
                                time="2026-11-02T10:00:00Z")])
    args = ["check", "--engine", "opa-server", "--now", NOW, "--format", "json", "--output",
            os.devnull]
    without = _median(args, plain, runs)
    full = _median(args, judged, runs)
    stack = (judged / "stacks" / "stack-0.yaml").read_text()
    stage(pygit2.Repository(str(judged)), write={
        "stacks/stack-0.yaml": stack.replace("quota: 8", "quota: 9")})
    staged = _median([*args, "--staged"], judged, runs)
    resident = _median([*args, "--staged"], judged, runs, daemon=True)
    stop_daemons()
    print(f"{size} objects ({stacks} stacks, {stacks * 10} rendered objects), median of {runs}:")
    print(f"  full check without manifest policies {without:6.2f} s")
    print(f"  full check with the pack + a conftest namespace {full:6.2f} s "
          f"({(full - without) / stacks * 1000:5.1f} ms a stack)")
    print(f"  --staged, one stack edited, with them {staged:6.2f} s | answered by the govops "
          f"daemon (the hook's second commit) {resident:6.2f} s")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="100,1000")
    parser.add_argument("--runs", type=int, default=5)
    options = parser.parse_args()
    os.environ["PATH"] = f"{TOOLS}{os.pathsep}{os.environ['PATH']}"
    print(f"govops manifest-policy benchmark: python {sys.version.split()[0]}, "
          f"{os.cpu_count()} cores")
    with tempfile.TemporaryDirectory() as tmp:
        os.environ.setdefault("GOVOPS_STATE_DIR", str(Path(tmp) / "state"))
        try:
            for size in (int(s) for s in options.sizes.split(",")):
                bench(size, options.runs, Path(tmp))
        finally:
            stop_daemons()
            stop_all()


if __name__ == "__main__":
    main()
