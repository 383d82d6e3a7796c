"""Benchmark `govops plan` for one Stack with many workloads (target: median <= 2 s).

Generates a governed repo (the acme-ml fixtures plus a Stack `bench` with N workloads over the
fixture's Models and Environments, every fourth one a training Job), commits it with pygit2,
then times plan in-process (`run_plan`, after one warm-up run, so the parse cache is warm) and
the `govops plan` console script end to end (a new process each run, so start-up, imports and
exit are included). The in-process figure is split into the spec (catalog, decision id, AIBOM
serial number) and the program run in Pulumi's mock mode plus normalisation.

    python benchmarks/plan_bench.py [--workloads 200] [--runs 5]
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from engine.commands.plan import PlanOptions, run_plan, stack_spec
from engine.deploy.render import build_plan
from engine.repo.scripted import Step, build_history, fixture_files

ROOT = Path(__file__).resolve().parents[1]
MODELS = ["llama-3-8b-instruct", "mistral-7b-instruct-v0.3", "bge-large-en-v1.5",
          "acme-support-assistant"]
TARGET = 2.0


def stack_yaml(workloads: int) -> str:
    lines = ["apiVersion: govops.dev/v1", "kind: Stack",
             "metadata: {name: bench, labels: {tier: production, team: ml-platform}}",
             "spec:", "  cluster: {name: gpu-bench-1, context: gpu-bench-1}",
             "  namespace: bench", f"  gpu: {{type: nvidia-h100-80gb, quota: {workloads * 2}}}",
             "  workloads:"]
    for i in range(workloads):
        training = i % 4 == 3
        lines.append(
            f"    - {{name: w{i:03d}, kind: {'training' if training else 'inference'}, "
            f"model: {MODELS[i % len(MODELS)]}, "
            f"environment: {'train' if training else 'vllm-serve'}, "
            f"replicas: {1 + i % 3}, gpusPerReplica: {1 + i % 2}}}")
    lines.append("  pulumi: {program: gpu-workloads}")
    return "\n".join(lines) + "\n"


def timed(func: object) -> float:
    start = time.perf_counter()
    func()  # type: ignore[operator]
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--workloads", type=int, default=200)
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        repo = Path(tmp) / "repo"
        files: dict[str, str | bytes] = dict(fixture_files(ROOT / "fixtures" / "acme-ml"))
        files["stacks/bench.yaml"] = stack_yaml(args.workloads)
        build_history(repo, [Step("bench stack", files)])
        options = PlanOptions(repo=repo, stack="bench")
        warm = run_plan(options)
        objects = len(warm.manifests)

        spec_times, program_times, total_times = [], [], []
        for _ in range(args.runs):
            start = time.perf_counter()
            spec = stack_spec(options)
            middle = time.perf_counter()
            planned = build_plan(spec)
            end = time.perf_counter()
            assert planned.digest == warm.digest
            spec_times.append(middle - start)
            program_times.append(end - middle)
            total_times.append(end - start)

        command = [str(Path(sys.executable).with_name("govops")), "plan",
                   "--repo", str(repo), "--stack", "bench", "--format", "json",
                   "--output", str(Path(tmp) / "out")]
        cli_times = []
        for _ in range(args.runs):
            start = time.perf_counter()
            done = subprocess.run(command, capture_output=True, text=True, cwd=ROOT)
            cli_times.append(time.perf_counter() - start)
            if done.returncode != 0:
                raise SystemExit(done.stderr)
            assert json.loads(done.stdout)["digest"] == warm.digest

    median = statistics.median
    print(f"plan of a stack with {args.workloads} workloads ({objects} objects), "
          f"median of {args.runs} runs")
    print(f"  in-process total     {median(total_times):7.3f} s")
    print(f"    spec (check,serial){median(spec_times):7.3f} s")
    print(f"    program (mock)     {median(program_times):7.3f} s")
    print(f"  CLI wall             {median(cli_times):7.3f} s")
    worst = max(median(total_times), median(cli_times))
    print(f"  target <= {TARGET:.1f} s: {'met' if worst <= TARGET else 'MISSED'}")


if __name__ == "__main__":
    main()
