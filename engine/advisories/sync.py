"""`govops advisories sync`: download a source's archive, prove it whole, and only then
replace the database checks read.

What is proved before anything is replaced: the HTTP answer is complete (as many bytes as it
announced), matches the MD5 the server states when it states one (Google Cloud Storage, which
serves OSV's exports, sends `x-goog-hash`), is a zip whose every member passes its CRC, and
whose every record parses as an OSV record. A source that suddenly holds less than half the
records of the database it would replace is refused too: an emptied mirror must not pass for
"no known advisories". Whatever fails, the previous database stays as it was, and the line
says why and which snapshot is still in use.
"""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import sqlite3
import urllib.error
import urllib.request
import zipfile
import zlib
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, BinaryIO

from engine.advisories.database import (
    Snapshot,
    database_dir,
    database_path,
    open_database,
    write_database,
)
from engine.advisories.merge import effective, withdrawn
from engine.advisories.records import check_record, parse_record_file
from engine.catalog.advisory_sources import Source
from engine.catalog.lockfiles.model import normalize_name
from engine.clock import utc
from engine.errors import GovopsError
from engine.statedir import private_folder

_CHUNK = 1 << 20
MAX_ARCHIVE = 2 << 30  # a source larger than 2 GB is not an advisory export


class SyncFailed(GovopsError):
    """The source's new database could not be proved whole; the previous one is kept."""

    exit_code = 3


@dataclass(frozen=True)
class Synced:
    snapshot: Snapshot
    previous: Snapshot | None


Fetch = Callable[[str], Any]  # url -> a response with .status, .headers and .read(n)


def _fetch(url: str) -> Any:
    request = urllib.request.Request(url, headers={"User-Agent": "govops advisories sync"})
    return urllib.request.urlopen(request, timeout=60)


def sync(source: Source, now: dt.datetime, progress: Callable[[str], None],
         folder: Path | None = None, fetch: Fetch = _fetch) -> Synced:
    folder = private_folder(folder or database_dir())
    target = database_path(source.name, folder)
    try:
        previous = open_database(source.name, folder)
    except GovopsError:  # a damaged database is what a sync repairs
        previous = None
    kept = (f"; kept the previous database (fetched {previous.snapshot.fetched})"
            if previous else "; there is no usable previous database of it")
    download = folder / f"{source.name}.download"
    try:
        digest, size = _download(source, fetch, download, progress)
        progress(f"{source.name}: verifying {size / 1e6:.1f} MB")
        with download.open("rb") as handle:
            records = _records(source, handle)
        if not records:
            raise SyncFailed(f"{source.name}: the archive holds no advisory records")
        kept_records = effective(records)
        if previous and len(kept_records) < previous.snapshot.records // 2:
            raise SyncFailed(f"{source.name}: the archive holds {len(kept_records)} records, "
                             f"less than half of the {previous.snapshot.records} the "
                             "database has: refused as a truncated or emptied source")
        snapshot = Snapshot(source.name, source.url, utc(now), "sha256:" + digest, size,
                            len(kept_records), len(withdrawn(records)))
        write_database(target, snapshot, kept_records,
                       {aid: _package_names(record) for aid, record in kept_records.items()})
    except SyncFailed as exc:
        raise SyncFailed(f"{exc}{kept}") from None
    except GovopsError as exc:
        raise SyncFailed(f"{source.name}: {exc}{kept}") from None
    except (OSError, sqlite3.Error) as exc:  # a full disk, a folder turned read-only
        raise SyncFailed(f"{source.name}: cannot write {folder} ({exc}){kept}") from None
    finally:
        download.unlink(missing_ok=True)
    progress(f"{source.name}: {snapshot.records} advisories ({snapshot.withdrawn} withdrawn "
             f"left out), {snapshot.digest[:19]}...")
    return Synced(snapshot, previous.snapshot if previous else None)


def _download(source: Source, fetch: Fetch, download: Path,
              progress: Callable[[str], None]) -> tuple[str, int]:
    """Stream the archive to `download`; its sha256 and size. SyncFailed when the answer is
    not a complete 200 of the size and MD5 it announced."""
    try:
        response = fetch(source.url)
    except urllib.error.HTTPError as exc:
        raise SyncFailed(f"{source.name}: {source.url} answered HTTP {exc.code}") from None
    except (urllib.error.URLError, OSError, ValueError) as exc:
        reason = getattr(exc, "reason", exc)
        raise SyncFailed(f"{source.name}: cannot reach {source.url} ({reason})") from None
    with response:
        status = getattr(response, "status", 200)
        if status != 200:
            raise SyncFailed(f"{source.name}: {source.url} answered HTTP {status}")
        announced = response.headers.get("Content-Length")
        expected = int(announced) if announced and announced.isdigit() else None
        if expected is not None and expected > MAX_ARCHIVE:
            raise SyncFailed(f"{source.name}: {expected} bytes announced, more than an "
                             "advisory export")
        md5 = _stated_md5(response.headers.get("x-goog-hash"))
        sha256, check_md5, size, shown = hashlib.sha256(), hashlib.md5(), 0, 0
        with download.open("wb") as out:
            while True:
                try:
                    chunk = response.read(_CHUNK)
                except (OSError, ValueError) as exc:  # a connection cut mid-body
                    raise SyncFailed(f"{source.name}: the download broke off after "
                                     f"{size} bytes ({exc})") from None
                if not chunk:
                    break
                size += len(chunk)
                if size > MAX_ARCHIVE:
                    raise SyncFailed(f"{source.name}: more than {MAX_ARCHIVE} bytes")
                sha256.update(chunk)
                check_md5.update(chunk)
                out.write(chunk)
                if size - shown >= 8 * _CHUNK:
                    shown = size
                    total = f" of {expected / 1e6:.1f}" if expected else ""
                    progress(f"{source.name}: {size / 1e6:.1f}{total} MB")
    if expected is not None and size != expected:
        raise SyncFailed(f"{source.name}: the download broke off: {size} of {expected} "
                         "bytes announced")
    if md5 is not None and check_md5.digest() != md5:
        raise SyncFailed(f"{source.name}: the download's MD5 differs from the one the server "
                         "states (x-goog-hash)")
    return sha256.hexdigest(), size


def _stated_md5(header: str | None) -> bytes | None:
    for part in (header or "").split(","):
        key, _, value = part.strip().partition("=")
        if key == "md5":
            try:
                return base64.b64decode(value, validate=True)
            except ValueError:
                raise SyncFailed(f"x-goog-hash md5 {value!r} is not base64") from None
    return None


def _records(source: Source, handle: BinaryIO) -> dict[str, dict[str, Any]]:
    try:
        archive = zipfile.ZipFile(handle)
    except (zipfile.BadZipFile, OSError, EOFError) as exc:
        raise SyncFailed(f"{source.name}: the archive is not a readable zip ({exc})") from None
    records: dict[str, dict[str, Any]] = {}
    for info in archive.infolist():  # every member is read: its CRC is checked as it is
        if info.is_dir():
            continue
        try:
            data = archive.read(info)
        except _DAMAGED as exc:
            raise SyncFailed(f"{source.name}: the archive is damaged: {info.filename} "
                             f"({exc})") from None
        if not _is_record(source, info.filename):
            continue
        record = _parse(source, info.filename, data)
        if record["id"] in records:
            raise SyncFailed(f"{source.name}: {info.filename}: advisory {record['id']} "
                             "appears twice")
        records[record["id"]] = record
    return records


# What reading a damaged member raises: a bad CRC (BadZipFile), a broken deflate stream (zlib),
# a truncated one (EOFError), an encrypted or unknown compression (RuntimeError,
# NotImplementedError).
_DAMAGED = (zipfile.BadZipFile, zlib.error, EOFError, OSError, RuntimeError,
            NotImplementedError, ValueError)


def _is_record(source: Source, name: str) -> bool:
    if source.format == "osv":
        return name.endswith(".json")
    parts = name.split("/")
    return name.endswith(".yaml") and "vulns" in parts[:-1]


def _parse(source: Source, member: str, data: bytes) -> dict[str, Any]:
    """One archive member as `--advisories` reads a file (engine.advisories.records): an
    InputError naming the member, which `sync` turns into its one line."""
    record = parse_record_file(member, data, source.format == "osv")
    check_record(member, 1, record)
    return dict(record)


def _package_names(record: Mapping[str, Any]) -> set[str]:
    return {normalize_name(str((a.get("package") or {}).get("name", "")))
            for a in record.get("affected", []) if isinstance(a.get("package"), dict)}
