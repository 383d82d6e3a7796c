"""Benchmark the synced advisory database: `govops advisories sync` of a PyPI-sized export, and
what matching against it costs a check and an AIBOM of check_bench's 10,000-object repo.

The export (benchmarks/osv_export.py) is PyPI-sized, 17,000 OSV records by default: the 86
real PyPA records of ../shared/realworld and copies re-aimed at the `package-N` names the
repo's lock files pin (a few ranges affect a pinned version, most do not) and at names no lock
file holds. It is served from 127.0.0.1 and synced through the real download path. Then, with
the database in place: `govops check` cold (no parse cache, no govops daemon, a resident OPA
up) and `govops bom` of the same repo, against the same runs without a database (this repo's
waivers are not approved, so its checks report thousands of failures: `check_bench.py
--advisories` times the check the 3 s budget is for); and the lookup and matching alone
(engine.advisories.synced) in-process, per locked package.

    python benchmarks/advisory_bench.py [--records 17000] [--size 10000] [--runs 5]
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from check_bench import HITS, NOW, PACKAGES, generate
from osv_export import config as osv_config
from osv_export import export, serve, time_matching

from engine.cli.daemon_client import stop_all as stop_daemons
from engine.policy.backends.resident import stop_all
from engine.repo.scripted import Step, build_history

GOVOPS = str(Path(sys.executable).with_name("govops"))
ROOT = Path(__file__).resolve().parents[1]
TOOLS = ROOT / ".cache" / "go-tools" / "bin"


def _run(args: list[str], cwd: Path, env: dict[str, str]) -> float:
    started = time.perf_counter()
    run = subprocess.run([GOVOPS, *args], cwd=cwd, env=env, capture_output=True, text=True,
                         check=False)
    elapsed = time.perf_counter() - started
    if run.returncode not in (0, 1):
        raise SystemExit(f"govops {' '.join(args)} exited {run.returncode}: {run.stderr[-400:]}")
    return elapsed


def _cold(root: Path, env: dict[str, str]) -> float:
    shutil.rmtree(root / ".git" / "govops", ignore_errors=True)
    stop_daemons()
    return _run(["check", "--now", NOW, "--format", "json", "--output", os.devnull], root,
                {**env, "GOVOPS_DAEMON": "0"})


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--records", type=int, default=17000)
    parser.add_argument("--size", type=int, default=10000)
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    print(f"govops advisory database benchmark: python {sys.version.split()[0]}, "
          f"{os.cpu_count()} cores, median of {args.runs} runs", flush=True)
    with tempfile.TemporaryDirectory(prefix="govops-advisory-bench-") as tmp:
        work = Path(tmp)
        database = export(args.records, [f"package-{p}" for p in range(PACKAGES - 1)], HITS)
        body, aimed = database.body, database.aimed
        server, url = serve(body)
        # Servers, daemons and databases of this run: in its own folders, stopped at the end.
        os.environ.update({"GOVOPS_STATE_DIR": str(work / "state"),
                           "GOVOPS_OPA": str(TOOLS / "opa"),
                           "GOVOPS_ADVISORY_DB": str(work / "db")})
        env = dict(os.environ)
        config = osv_config(url)

        def repos(size: int, name: str) -> tuple[Path, Path]:
            files = generate(size)
            build_history(work / name, [Step("repo", {**files, "govops.yaml": config},
                                             time="2026-11-02T10:00:00Z")])
            build_history(work / f"{name}-bare", [Step("repo", files,
                                                       time="2026-11-02T10:00:00Z")])
            return work / name, work / f"{name}-bare"

        try:
            files = generate(args.size)
            root, bare = repos(args.size, "repo")
            locked = sum(1 for p in files if p.endswith(".txt")) * PACKAGES
            print(f"export: {args.records} records ({aimed} on pinned package names), "
                  f"{len(body) / 1e6:.1f} MB zipped; repo: {args.size} objects, "
                  f"{locked} locked packages")

            syncs = []
            for _ in range(args.runs):
                shutil.rmtree(work / "db", ignore_errors=True)
                syncs.append(_run(["advisories", "sync", "--repo", str(root)], root, env))
            print(f"  advisories sync (download, verify, merge, index) median "
                  f"{statistics.median(syncs):6.2f} s", flush=True)

            print(f"  in-process {time_matching(root, NOW, args.runs).describe()}")

            for label, repo in (("with the database", root), ("no database", bare)):
                stop_all()
                _cold(repo, env)  # the resident OPA loads this bundle and the lock data
                colds = [_cold(repo, env) for _ in range(args.runs)]
                boms = [_run(["bom", "--output", os.devnull], repo, env)
                        for _ in range(args.runs)]
                print(f"  {label:18} check of {args.size} objects cold cache median "
                      f"{statistics.median(colds):6.2f} s | bom median "
                      f"{statistics.median(boms):6.2f} s", flush=True)
        finally:
            server.shutdown()
            stop_daemons()
            stop_all()


if __name__ == "__main__":
    main()
