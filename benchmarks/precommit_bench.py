"""Benchmark the `govops-check` pre-commit hook: `govops check --staged` (target: median <= 0.5 s).

Generates the 1,000-object governed repo of check_bench.py (400 Models, 250 Datasets, 50
Environments with 200-package hashed lock files, 250 Stacks, 50 Waivers), commits it, stages
three changed files (a Model, a Stack and a lock file), gives it a trust root whose approver
has approved its 50 waivers in the ledger (so the hook verifies 50 signed approvals, as it
would in a governed repo with waivers), warms the parse cache once, then times
the hook's exact command, `govops check --staged`, through the installed console script (a new
process per run, so start-up, imports and exit are included, as a committer waits for them).
Per engine: `opa` (what `--engine auto` picks where the OPA engine is installed, e.g. CI or
`make`) and `regopy` (what it falls back to inside pre-commit's own environment).

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


if __name__ == "__main__":
    main()
