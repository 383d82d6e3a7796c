"""A PyPI-sized OSV export for the benchmarks, served from 127.0.0.1 and synced through
`govops advisories sync`'s real download path, so a benchmark times checks and AIBOMs with a
full advisory database loaded.

OSV's PyPI export (all.zip) holds about 17,000 records; it cannot be downloaded here, so one of
that size is built: the 86 real PyPA records of ../shared/realworld as published (torch's among
them), copies of them re-aimed at the package names a benchmark's lock files pin (ten records
per name; a record whose name is in `hits` affects the versions given there, the others affect
versions below 0.9 no lock pins), and the rest at names no lock file holds.
"""

from __future__ import annotations

import copy
import io
import json
import os
import statistics
import subprocess
import threading
import time
import zipfile
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import yaml

from engine.advisories.synced import synced_for
from engine.catalog import load_catalog
from engine.clock import instant
from engine.repo import open_repo

ROOT = Path(__file__).resolve().parents[1]
RECORDS_PER_NAME = 10


@dataclass(frozen=True)
class Export:
    body: bytes  # the zip, as OSV serves all.zip
    records: int
    aimed: int  # records naming a pinned package
    hitting: int  # records whose range affects a pinned version


def _real_records() -> list[dict[str, Any]]:
    configured = os.environ.get("GOVOPS_REALWORLD")
    candidates = [Path(configured)] if configured else []
    candidates += [parent / "shared" / "realworld" / "inputs" for parent in ROOT.parents]
    base = next((c / "advisories" for c in candidates if (c / "advisories").is_dir()), None)
    if base is None:
        raise SystemExit("the real advisory records (shared/realworld) are not beside this "
                         "checkout; set GOVOPS_REALWORLD")
    return [yaml.load(p.read_text(), Loader=yaml.BaseLoader)
            for p in sorted((base / "pypa-advisory-database").rglob("*.yaml"))]


def export(records: int, pinned: Sequence[str],
           hits: Mapping[str, tuple[str, str]] | None = None) -> Export:
    """`records` OSV records; the first record of each name in `hits` affects versions from
    its introduced up to its fixed version."""
    hits = hits or {}
    real = _real_records()
    out = io.BytesIO()
    aimed = hitting = 0
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as archive:
        for record in real:
            archive.writestr(f"{record['id']}.json", json.dumps(record))
        for i in range(records - len(real)):
            record = copy.deepcopy(real[i % len(real)])
            record["id"] = f"BENCH-{i}"
            record["aliases"] = [f"CVE-BENCH-{i}"]
            record.pop("withdrawn", None)
            if i < RECORDS_PER_NAME * len(pinned):
                name = pinned[i % len(pinned)]
                if i < len(pinned) and name in hits:
                    introduced, fixed = hits[name]
                    hitting += 1
                else:
                    introduced, fixed = "0", "0.9"
                aimed += 1
            else:
                name, introduced, fixed = f"unlocked-{i}", "0", "1.0"
            record["affected"] = [{
                "package": {"ecosystem": "PyPI", "name": name},
                "ranges": [{"type": "ECOSYSTEM",
                            "events": [{"introduced": introduced}, {"fixed": fixed}]}]}]
            archive.writestr(f"BENCH-{i}.json", json.dumps(record))
    return Export(out.getvalue(), records, aimed, hitting)


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


@contextmanager
def served(body: bytes) -> Iterator[str]:
    """The export served from 127.0.0.1 while the block runs; its URL."""
    server, url = serve(body)
    try:
        yield url
    finally:
        server.shutdown()


def config(url: str) -> str:
    """A govops.yaml that names the served export as the repo's advisory source."""
    return ("apiVersion: govops.dev/v1\nkind: Config\nadvisories:\n  sources:\n"
            f"    - name: osv-mirror\n      url: {url}\n      format: osv\n")


def sync(govops: str, repo: Path) -> None:
    run = subprocess.run([govops, "advisories", "sync", "--repo", str(repo)], cwd=repo,
                         capture_output=True, text=True, check=False)
    if run.returncode != 0:
        raise SystemExit(f"govops advisories sync exited {run.returncode}: {run.stderr[-400:]}")


@dataclass(frozen=True)
class Matching:
    median: float  # seconds, lookup and matching of every locked package
    locked: int  # locked packages of the revision
    matched: int  # records affecting a pinned version

    def describe(self) -> str:
        return (f"lookup + matching median {self.median * 1000:.0f} ms for {self.locked} "
                f"locked packages ({self.median / self.locked * 1e6:.2f} us per package), "
                f"{self.matched} records matched")


def time_matching(repo: Path, now: str, runs: int) -> Matching:
    """What the synced database costs a check or an AIBOM of HEAD: looking up every locked
    package in it and matching its ranges (engine.advisories.synced), in-process, with the
    catalog already loaded."""
    git = open_repo(repo)
    catalog = load_catalog(git, git.snapshot("HEAD"))
    times = []
    for _ in range(runs):
        started = time.perf_counter()
        found = synced_for(catalog, instant(now))
        times.append(time.perf_counter() - started)
    return Matching(statistics.median(times),
                    sum(len(lock.lock.records) for lock in catalog.locks.values()),
                    len(found.records))
