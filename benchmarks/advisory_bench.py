"""Benchmark the synced advisory database: `govops advisories sync` of a PyPI-sized export, and
what matching against it costs a check and an AIBOM of check_bench's 10,000-object repo.

The export is built here, PyPI-sized (17,000 OSV records by default, OSV's PyPI export holds
about that many): the 86 real PyPA records of ../shared/realworld as published (torch's among
them), and copies of them re-aimed at synthetic package names, 1,990 at the `package-N` names
the repo's lock files pin (a few ranges affect a pinned version, most do not), the rest at names
no lock file holds. It is served from 127.0.0.1 and synced through the real download path.
Then, with the database in place: `govops check` cold (no parse cache, no govops daemon, a
resident OPA up) and `govops bom` (of a 1,000-object repo: at 10,000 objects the AIBOM spends
minutes in cyclonedx-python-lib's dependency registration, database or not), against the same
runs without a database; and the lookup and matching alone (engine.advisories.synced)
in-process, per locked package.

    python benchmarks/advisory_bench.py [--records 17000] [--size 10000] [--runs 5]
"""

from __future__ import annotations

import argparse
import copy
import io
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import zipfile
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import yaml

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from check_bench import NOW, PACKAGES, generate

from engine.advisories.synced import synced_for
from engine.catalog import load_catalog
from engine.cli.daemon_client import stop_all as stop_daemons
from engine.clock import instant
from engine.policy.backends.resident import stop_all
from engine.repo import open_repo
from engine.repo.scripted import Step, build_history

GOVOPS = str(Path(sys.executable).with_name("govops"))
BOM_SIZE = 1000
ROOT = Path(__file__).resolve().parents[1]
TOOLS = ROOT / ".cache" / "go-tools" / "bin"


def _real_records() -> list[dict[str, Any]]:
    base = None
    for parent in [ROOT, *ROOT.parents]:
        candidate = parent / "shared" / "realworld" / "inputs" / "advisories"
        if candidate.is_dir():
            base = candidate
            break
    configured = os.environ.get("GOVOPS_REALWORLD")
    if configured:
        base = Path(configured) / "advisories"
    if base is None:
        raise SystemExit("the real advisory records (shared/realworld) are not beside this "
                         "checkout; set GOVOPS_REALWORLD")
    return [yaml.load(p.read_text(), Loader=yaml.BaseLoader)
            for p in sorted((base / "pypa-advisory-database").rglob("*.yaml"))]


def export(records: int) -> tuple[bytes, int]:
    """A zip of OSV JSON records, as OSV's all.zip is; and how many name a pinned package."""
    real = _real_records()
    out = io.BytesIO()
    aimed = 0
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as archive:
        for record in real:
            archive.writestr(f"{record['id']}.json", json.dumps(record))
        for i in range(records - len(real)):
            record = copy.deepcopy(real[i % len(real)])
            record["id"] = f"BENCH-{i}"
            record["aliases"] = [f"CVE-BENCH-{i}"]
            record.pop("withdrawn", None)
            if i < 10 * (PACKAGES - 1):  # ten records per `package-N` name of the lock files
                p = i % (PACKAGES - 1)
                name = f"package-{p}"
                # One record in ten affects the versions environments 48 and 49 pin.
                events = ([{"introduced": f"1.{p % 10}.48"}, {"fixed": f"1.{p % 10}.50"}]
                          if i // (PACKAGES - 1) == 0 and p % 20 == 0
                          else [{"introduced": "0"}, {"fixed": "0.9"}])
                aimed += 1
            else:
                name = f"unlocked-{i}"
                events = [{"introduced": "0"}, {"fixed": "1.0"}]
            record["affected"] = [{"package": {"ecosystem": "PyPI", "name": name},
                                   "ranges": [{"type": "ECOSYSTEM", "events": events}]}]
            archive.writestr(f"BENCH-{i}.json", json.dumps(record))
    return out.getvalue(), aimed


def serve(body: bytes) -> tuple[ThreadingHTTPServer, str]:
    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            self.send_response(200)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server, f"http://127.0.0.1:{server.server_address[1]}/PyPI/all.zip"


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
        body, aimed = export(args.records)
        server, url = serve(body)
        # Servers, daemons and databases of this run: in its own folders, stopped at the end.
        os.environ.update({"GOVOPS_STATE_DIR": str(work / "state"),
                           "GOVOPS_OPA": str(TOOLS / "opa"),
                           "GOVOPS_ADVISORY_DB": str(work / "db")})
        env = dict(os.environ)
        config = ("apiVersion: govops.dev/v1\nkind: Config\nadvisories:\n  sources:\n"
                  f"    - name: osv-mirror\n      url: {url}\n      format: osv\n")

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
            # `govops bom` of 10,000 objects spends minutes in cyclonedx-python-lib's dependency
            # registration (quadratic), with or without advisories: timed at BOM_SIZE objects.
            bom_root, bom_bare = repos(BOM_SIZE, "bom")
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

            git = open_repo(root)
            catalog = load_catalog(git, git.snapshot("HEAD"))
            lookups = []
            for _ in range(args.runs):
                started = time.perf_counter()
                found = synced_for(catalog, instant(NOW))
                lookups.append(time.perf_counter() - started)
            lookup = statistics.median(lookups)
            print(f"  lookup + matching in-process median {lookup * 1000:7.1f} ms for {locked} "
                  f"packages ({lookup / locked * 1e6:.2f} us per package), "
                  f"{len(found.records)} records affect a pinned version")

            for label, repo, bom_repo in (("with the database", root, bom_root),
                                          ("no database", bare, bom_bare)):
                stop_all()
                _cold(repo, env)  # the resident OPA loads this bundle and the lock data
                colds = [_cold(repo, env) for _ in range(args.runs)]
                boms = [_run(["bom", "--output", os.devnull], bom_repo, env)
                        for _ in range(args.runs)]
                print(f"  {label:18} check of {args.size} objects cold cache median "
                      f"{statistics.median(colds):6.2f} s | bom of {BOM_SIZE} objects median "
                      f"{statistics.median(boms):6.2f} s", flush=True)
        finally:
            server.shutdown()
            stop_daemons()
            stop_all()


if __name__ == "__main__":
    main()
