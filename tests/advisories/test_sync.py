"""`govops advisories sync` against a loopback stand-in for OSV's bucket and GitHub's archive
(issue 18, acceptance 3). The archives are a real slice of the data: the PyPA advisory
database's records of `../shared/realworld` (a withdrawn aiohttp record, two torch records of
one CVE, GIT ranges), zipped the way each source serves them. Success, an interrupted download,
a damaged archive, a stale and a missing database: each leaves a usable database and one line.
"""

from __future__ import annotations

import base64
import hashlib
import io
import json
import threading
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
import yaml

from engine.repo.scripted import Step
from tests.support.cli import check, govops
from tests.support.realworld import realworld_inputs
from tests.support.repos import make_repo
from tests.support.samples import GOOD, environment

TORCH_LOCK = "torch==1.13.0 --hash=sha256:" + "3" * 64 + "\n"


def _real_records() -> dict[str, Path]:
    base = realworld_inputs() / "advisories"
    paths = sorted((base / "pypa-advisory-database").rglob("*.yaml"))
    paths += sorted((base / "alias-duplicates").glob("*.yaml"))
    return {p.stem: p for p in paths}


def osv_zip(ids: list[str] | None = None) -> bytes:
    """OSV's form: one JSON record per member (all.zip)."""
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as archive:
        for aid, path in _real_records().items():
            if ids is None or aid in ids:
                record = yaml.load(path.read_text(), Loader=yaml.BaseLoader)
                archive.writestr(f"{aid}.json", json.dumps(record))
    return out.getvalue()


def pypa_zip() -> bytes:
    """GitHub's archive of pypa/advisory-database: the YAML files as published."""
    out = io.BytesIO()
    base = realworld_inputs() / "advisories" / "pypa-advisory-database"
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("advisory-database-main/README.md", "# PyPA advisory database\n")
        for path in sorted(base.rglob("*.yaml")):
            rel = path.relative_to(base).as_posix()
            archive.writestr(f"advisory-database-main/vulns/{rel}", path.read_bytes())
    return out.getvalue()


@dataclass
class Route:
    body: bytes
    status: int = 200
    cut_after: int | None = None  # close the connection after this many body bytes
    headers: dict[str, str] = field(default_factory=dict)


class Stand:
    """The loopback server: what each path answers, changed between requests by the test."""

    def __init__(self) -> None:
        self.routes: dict[str, Route] = {}
        routes = self.routes

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                route = routes.get(self.path)
                if route is None:
                    self.send_error(404)
                    return
                self.send_response(route.status)
                self.send_header("Content-Length", str(len(route.body)))
                for key, value in route.headers.items():
                    self.send_header(key, value)
                self.end_headers()
                body = route.body if route.cut_after is None else route.body[:route.cut_after]
                self.wfile.write(body)
                if route.cut_after is not None:
                    self.wfile.flush()
                    self.close_connection = True

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def serve(self, path: str, route: Route) -> str:
        self.routes[path] = route
        return self.url + path


@pytest.fixture
def stand() -> Iterator[Stand]:
    server = Stand()
    server.thread.start()
    try:
        yield server
    finally:
        server.server.shutdown()
        server.server.server_close()


@pytest.fixture
def database(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    folder = tmp_path / "advisory-db"
    monkeypatch.setenv("GOVOPS_ADVISORY_DB", str(folder))
    return folder


def _repo(tmp_path: Path, sources: str, extra: str = "") -> Path:
    config = f"apiVersion: govops.dev/v1\nkind: Config\nadvisories:\n  sources:\n{sources}{extra}"
    files = {**GOOD, "govops.yaml": config,
             "environments/train.yaml": environment("train", "environments/train.txt"),
             "environments/train.txt": TORCH_LOCK}
    root = tmp_path / "repo"
    make_repo(root, Step("torch 1.13.0", files))
    return root


def _mirror(url: str, fmt: str = "osv", name: str = "mirror") -> str:
    return f"    - name: {name}\n      url: {url}\n      format: {fmt}\n"


def _synced(root: Path) -> Any:
    run = govops("advisories", "sync", "--repo", str(root))
    return run


def test_sync_then_check_matches_the_synced_records(tmp_path: Path, stand: Stand,
                                                   database: Path) -> None:
    archive = osv_zip()
    md5 = base64.b64encode(hashlib.md5(archive).digest()).decode()
    url = stand.serve("/PyPI/all.zip", Route(archive, headers={
        "x-goog-hash": f"crc32c=AAAAAA==,md5={md5}"}))
    root = _repo(tmp_path, _mirror(url))
    run = _synced(root)
    assert run.exit_code == 0, run.stderr
    [line] = run.stdout.splitlines()
    # 87 records: 3 withdrawn left out, and the two records of CVE-2022-45907 counted once.
    assert line.startswith("mirror: 83 advisories, fetched ")
    assert f"sha256:{hashlib.sha256(archive).hexdigest()}" in line
    assert "mirror: verifying" in run.stderr
    assert (database / "mirror.sqlite").exists()
    assert not list(database.glob("*.download")) and not list(database.glob("*.next"))

    decision = check(root, "--format", "json").json()
    torch = [r for r in decision["results"] if r["id"] == "ENV-003"]
    assert {r["advisory"] for r in torch} >= {"PYSEC-2022-43015", "CVE-2025-32434"}
    assert not [r for r in torch if r["advisory"] == "PYSEC-0000-CVE-2022-45907"]
    [db] = decision["advisory_databases"]
    assert db["source"] == "mirror" and db["digest"].startswith("sha256:")
    aibom = json.loads(govops("bom", "--repo", str(root)).stdout)
    props = {p["name"]: p["value"] for p in aibom["metadata"]["properties"]}
    assert props["govops:advisoryDatabase"].startswith(f"mirror {db['digest']} fetched ")
    assert "PYSEC-2022-43015" in {v["id"] for v in aibom["vulnerabilities"]}


def test_the_pypa_archive_syncs_from_its_yaml(tmp_path: Path, stand: Stand,
                                              database: Path) -> None:
    url = stand.serve("/main.zip", Route(pypa_zip()))
    root = _repo(tmp_path, _mirror(url, "pypa", "pypa-mirror"))
    run = _synced(root)
    assert run.exit_code == 0, run.stderr
    assert run.stdout.startswith("pypa-mirror: 83 advisories, fetched ")


def _broken(run: Any, *needles: str) -> str:
    assert run.exit_code == 3, run.stdout + run.stderr
    assert run.stdout == ""
    lines = [ln for ln in run.stderr.splitlines() if ln.startswith("govops: error: ")]
    assert len(lines) == 1, run.stderr
    for needle in needles:
        assert needle in lines[0], lines[0]
    return lines[0]


@pytest.mark.parametrize(("route", "why"), [
    (lambda a: Route(a, cut_after=len(a) // 3), "the download broke off"),
    (lambda a: Route(a[:200] + bytes(b ^ 0x5A for b in a[200:400]) + a[400:]), "damaged"),
    (lambda a: Route(b"<html>maintenance</html>"), "not a readable zip"),
    (lambda a: Route(a, headers={"x-goog-hash": "md5=" + base64.b64encode(b"0" * 16).decode()}),
     "MD5 differs"),
    (lambda a: Route(b"gone", status=503), "HTTP 503"),
    (lambda a: Route(osv_zip(["PYSEC-2022-43015"])), "less than half"),
])
def test_a_failed_sync_keeps_the_previous_database(tmp_path: Path, stand: Stand,
                                                   database: Path, route: Any,
                                                   why: str) -> None:
    archive = osv_zip()
    stand.serve("/all.zip", Route(archive))
    root = _repo(tmp_path, _mirror(stand.url + "/all.zip"))
    assert _synced(root).exit_code == 0
    before = (database / "mirror.sqlite").read_bytes()
    first = check(root, "--format", "json").json()

    stand.serve("/all.zip", route(archive))
    line = _broken(_synced(root), "mirror: ", why, "kept the previous database (fetched ")
    assert "Traceback" not in line
    assert (database / "mirror.sqlite").read_bytes() == before
    assert not list(database.glob("*.download")) and not list(database.glob("*.next"))
    assert check(root, "--format", "json").json()["decision_id"] == first["decision_id"]


def test_a_first_sync_that_fails_says_there_is_none(tmp_path: Path, stand: Stand,
                                                    database: Path) -> None:
    stand.serve("/all.zip", Route(osv_zip(), cut_after=1000))
    root = _repo(tmp_path, _mirror(stand.url + "/all.zip"))
    _broken(_synced(root), "broke off", "there is no usable previous database of it")
    assert not (database / "mirror.sqlite").exists()


def test_a_stale_database_is_a_warning_and_a_missing_one_says_so(tmp_path: Path, stand: Stand,
                                                                 database: Path) -> None:
    url = stand.serve("/all.zip", Route(osv_zip()))
    root = _repo(tmp_path, _mirror(url) + "    - pypa\n", "  maxAgeDays: 7\n")
    assert govops("advisories", "sync", "--repo", str(root), "--source", "mirror").exit_code == 0
    run = govops("check", "--repo", str(root), "--format", "json", "--now", "in 10 days")
    assert run.exit_code == 1, run.stderr
    warnings = run.stderr.splitlines()
    assert any(w.startswith("govops: warning: govops.yaml: advisory database mirror was "
                            "fetched 10 days ago") and "advisories.maxAgeDays (7)" in w
               for w in warnings), warnings
    assert ("govops: warning: govops.yaml: advisory source pypa is not synced: only the "
            "advisories shipped with the policies were matched (run `govops advisories sync`)"
            ) in warnings
    fresh = govops("check", "--repo", str(root), "--format", "json")
    assert not [w for w in fresh.stderr.splitlines() if "days ago" in w]
    status = govops("advisories", "status", "--repo", str(root))
    assert status.exit_code == 0
    assert status.stdout.splitlines()[0].startswith("mirror: 83 advisories, fetched ")
    assert status.stdout.splitlines()[1].startswith("pypa: not synced (")


@pytest.mark.parametrize(("sources", "message"), [
    ("    - osv-npm\n", "advisory source 'osv-npm' is not one govops knows"),
    ("    - name: m\n      url: ftp://x/all.zip\n      format: osv\n", "url must be http(s)"),
    ("    - name: m\n      url: https://x/all.zip\n      format: tarball\n",
     "format must be one of osv, pypa"),
])
def test_bad_sources_in_govops_yaml_are_one_line(tmp_path: Path, database: Path, sources: str,
                                                 message: str) -> None:
    root = _repo(tmp_path, sources)
    run = check(root)
    assert run.exit_code == 2
    assert run.stderr.startswith("govops: error: govops.yaml:5: ")  # the entry's line
    assert message in run.stderr


def test_a_damaged_database_is_an_error_for_check_and_repaired_by_sync(
        tmp_path: Path, stand: Stand, database: Path) -> None:
    url = stand.serve("/all.zip", Route(osv_zip()))
    root = _repo(tmp_path, _mirror(url))
    database.mkdir(parents=True)
    (database / "mirror.sqlite").write_bytes(b"not a database at all" * 100)
    run = check(root)
    assert run.exit_code == 2
    assert run.stderr.startswith(f"govops: error: {database / 'mirror.sqlite'}: not a usable "
                                 "advisory database")
    assert _synced(root).exit_code == 0
    assert check(root, "--format", "json").exit_code == 1  # torch 1.13.0: ENV-003


def test_a_disk_full_while_writing_keeps_the_previous_database(
        tmp_path: Path, stand: Stand, database: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """SQLite fails half way through the new database (ENOSPC): one line, exit 3, no half
    database left, the previous one in use."""
    import sqlite3

    import engine.advisories.database as database_module

    url = stand.serve("/all.zip", Route(osv_zip()))
    root = _repo(tmp_path, _mirror(url))
    assert _synced(root).exit_code == 0
    before = (database / "mirror.sqlite").read_bytes()
    real = database_module._write

    def full(partial: Path, *args: Any) -> None:
        real(partial, *args)  # the file exists, complete or not: it must not stay
        raise sqlite3.OperationalError("database or disk is full")

    monkeypatch.setattr(database_module, "_write", full)
    _broken(_synced(root), "mirror: cannot write ", "database or disk is full",
            "kept the previous database (fetched ")
    assert (database / "mirror.sqlite").read_bytes() == before
    assert sorted(p.name for p in database.iterdir()) == ["mirror.sqlite"]


def test_a_database_of_the_previous_schema_gives_the_same_results(
        tmp_path: Path, stand: Stand, database: Path) -> None:
    """Schema 2 keeps each record's `affected` list in a column of its own, so a check decodes
    whole records only for what affects a pinned version. A schema-1 database (one column, as
    the previous govops wrote it) is read as it is, with the same decision; a schema no govops
    wrote is refused in one line."""
    import sqlite3

    url = stand.serve("/all.zip", Route(osv_zip()))
    root = _repo(tmp_path, _mirror(url))
    assert _synced(root).exit_code == 0
    current = check(root, "--format", "json").json()
    assert {r["advisory"] for r in current["results"] if r["id"] == "ENV-003"} >= {
        "PYSEC-2022-43015", "CVE-2025-32434"}
    path = database / "mirror.sqlite"
    db = sqlite3.connect(path)
    with db:
        assert db.execute("SELECT value FROM meta WHERE key = 'schema'").fetchone() == ("2",)
        db.execute("ALTER TABLE records DROP COLUMN affected")
        db.execute("UPDATE meta SET value = '1' WHERE key = 'schema'")
    db.close()
    older = check(root, "--format", "json").json()
    assert older["results"] == current["results"]
    assert older["decision_id"] == current["decision_id"]
    db = sqlite3.connect(path)
    with db:
        db.execute("UPDATE meta SET value = '3' WHERE key = 'schema'")
    db.close()
    run = check(root)
    assert run.exit_code == 2
    assert run.stderr.strip() == (
        f"govops: error: {path}: not a usable advisory database (schema '3', this govops "
        "reads 1 and 2); run `govops advisories sync` again")
