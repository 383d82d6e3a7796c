"""Benchmark the `govops-check` pre-commit hook: `govops check --staged` (target: median <= 0.5 s).

Generates the 1,000-object governed repo of check_bench.py (400 Models, 250 Datasets, 50
Environments with 200-package hashed lock files, 250 Stacks, 50 Waivers), commits it, stages
three changed files (a Model, a Stack and a lock file), gives it a trust root whose approver
has approved its 50 waivers in the ledger (so the hook verifies 50 signed approvals, as it
would in a governed repo with waivers), warms the parse cache once, then times
the hook's exact command, `govops check --staged`, through the installed console script (a new
process per run, so start-up, imports and exit are included, as a committer waits for them).
Per engine: `opa` (what `--engine auto` picks where the OPA engine is installed, e.g. CI or
`make`) and `regopy` (what it falls back to inside pre-commit's own environment); then, beside
them, the official `opa eval` CLI on the same policies, data and input (a new process per run).

    python benchmarks/precommit_bench.py [--objects 1000] [--engines opa,regopy] [--runs 7]
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pygit2

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from check_bench import NOW, _hex, generate
from waiver_approvals import approve_waivers, trusted

from engine.attest.keys import generate as generate_key
from engine.repo.scripted import Step, build_history, stage

GOVOPS = str(Path(sys.executable).with_name("govops"))
TARGET = 0.5


def hook(repo: Path, engine: str) -> float:
    started = time.perf_counter()
    run = subprocess.run([GOVOPS, "check", "--staged", "--engine", engine, "--now", NOW],
                         cwd=repo, capture_output=True, text=True, check=False)
    elapsed = time.perf_counter() - started
    if run.returncode != 0:  # an unapproved waiver is a WVR-001 deny: the approvals count
        raise SystemExit(f"govops check --staged exited {run.returncode}: "
                         f"{(run.stdout + run.stderr)[-800:]}")
    return elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--objects", type=int, default=1000)
    parser.add_argument("--engines", default="opa,regopy")
    parser.add_argument("--runs", type=int, default=7)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="govops-precommit-") as tmp:
        root = Path(tmp) / "repo"
        files = generate(args.objects)
        build_history(root, [Step("governed repo", files, time="2026-11-02T10:00:00Z")])
        _, ci_public = generate_key(Path(tmp) / "ci")
        approver, _ = trusted(root, ci_public, issued="2026-11-01T00:00:00Z")
        approved = approve_waivers(root, str(pygit2.Repository(str(root)).head.target),
                                   approver, "2026-11-03T00:00:00Z")
        stage(pygit2.Repository(str(root)), write={
            "models/model-0.yaml": files["models/model-0.yaml"].replace("limited", "minimal"),
            "stacks/stack-0.yaml": files["stacks/stack-0.yaml"].replace("quota: 8", "quota: 9"),
            "environments/env-0.txt": files["environments/env-0.txt"]
            + f"extra-package==1.0 --hash=sha256:{_hex('extra')}\n",
        })
        objects = sum(1 for p in files if p.endswith(".yaml") and p != "govops.yaml")
        print(f"pre-commit hook `govops check --staged`: {objects} objects, {len(files)} files, "
              f"3 staged files, {approved} approved waivers, median of {args.runs} runs (warm "
              "parse cache)")
        medians: dict[str, float] = {}
        for engine in args.engines.split(","):
            hook(root, engine)  # warm the parse cache, as any earlier commit would have
            times = [hook(root, engine) for _ in range(args.runs)]
            medians[engine] = median = statistics.median(times)
            print(f"  {engine:7} median {median:6.3f} s  (min {min(times):.3f}, "
                  f"max {max(times):.3f})")
        for engine, median in medians.items():
            print(f"  target <= {TARGET:.1f} s, {engine}: "
                  f"{'met' if median <= TARGET else 'MISSED'}")
        bare_opa(root, Path(tmp) / "bare", args.runs)


def bare_opa(repo: Path, folder: Path, runs: int) -> None:
    """The floor of any hook that starts OPA per commit: the official `opa` CLI (built by
    tools/build_go_tools.py) evaluating the same policies, data and input govops evaluated, as a
    new process per run (`opa eval -d policies -d data.json -i input.json`)."""
    import json

    import engine.commands.check as check
    from engine.commands.check import CheckOptions, run_check

    opa = Path(__file__).resolve().parents[1] / ".cache" / "go-tools" / "bin" / "opa"
    if not opa.exists():
        print(f"  bare opa eval: {opa} missing (make tools builds it)")
        return
    captured: dict[str, object] = {}
    decide = check.decide

    def capturing(backend: object, bundle: object, catalog: object, document: object,
                  *rest: object) -> object:
        captured.update(bundle=bundle, document=document)
        return decide(backend, bundle, catalog, document, *rest)  # type: ignore[arg-type]

    check.decide = capturing  # type: ignore[assignment]
    try:
        run_check(CheckOptions(repo=repo, staged=True, engine="opa", now=NOW))
    finally:
        check.decide = decide
    bundle, document = captured["bundle"], captured["document"]
    for module in bundle.modules:  # type: ignore[attr-defined]
        target = folder / "policies" / module.path.replace("@govops/", "library/")
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(module.source)
    (folder / "data.json").write_text(json.dumps(bundle.data))  # type: ignore[attr-defined]
    (folder / "input.json").write_text(json.dumps(document))
    size = (folder / "input.json").stat().st_size + (folder / "data.json").stat().st_size
    command = [str(opa), "eval", "--format", "raw", "-d", str(folder / "policies"), "-d",
               str(folder / "data.json"), "-i", str(folder / "input.json"),
               "data.govops.policies"]
    times = []
    for _ in range(runs):
        started = time.perf_counter()
        subprocess.run(command, capture_output=True, check=True)
        times.append(time.perf_counter() - started)
    print(f"  bare `opa eval` (OPA v1.22.4 CLI, same policies, data and input, "
          f"{size / 1e6:.1f} MB of JSON): median {statistics.median(times):6.3f} s  "
          f"(min {min(times):.3f}, max {max(times):.3f})")


if __name__ == "__main__":
    main()
