"""The advisory database `govops advisories sync` keeps: one SQLite file per source, holding
the source's records as govops judges by them (engine.advisories.merge: withdrawn ones out,
alias groups merged) and the snapshot they came from.

A check reads only the records of the package names its lock files hold (a full PyPI export
is ~17,000 records; an environment meets a few dozen to a few thousand), by name, without
loading the rest; and of those only what matching needs (each record's `affected` list, kept
in a column of its own), decoding a whole record, with its text and references, only when it
affects a pinned version.
A database is replaced whole, by renaming a complete new file over the old one: a reader
holds either the old snapshot or the new one, never half of each, and a failed sync leaves
the previous file as it was.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import json
import os
import sqlite3
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from engine.errors import GovopsError
from engine.statedir import private_folder, state_base

SCHEMA = 2  # 2: records.affected; databases of schema 1 are still read
_READABLE = ("1", "2")


@dataclass(frozen=True)
class Snapshot:
    """What a database was made from: recorded in every decision and AIBOM that used it."""

    source: str  # the source's name (`osv-pypi`, `pypa`, or one govops.yaml names)
    url: str
    fetched: str  # when it was downloaded, UTC, ISO 8601
    digest: str  # sha256 of the downloaded archive
    size: int
    records: int  # records kept (withdrawn ones left out, alias groups counted once)
    withdrawn: int

    def as_json(self) -> dict[str, Any]:
        return {"source": self.source, "url": self.url, "fetched": self.fetched,
                "digest": self.digest, "size": self.size, "records": self.records,
                "withdrawn": self.withdrawn}

    @classmethod
    def from_json(cls, raw: Mapping[str, Any]) -> Snapshot:
        return cls(str(raw["source"]), str(raw["url"]), str(raw["fetched"]),
                   str(raw["digest"]), int(raw["size"]), int(raw["records"]),
                   int(raw["withdrawn"]))

    def age_days(self, now: dt.datetime) -> float:
        fetched = dt.datetime.fromisoformat(self.fetched.replace("Z", "+00:00"))
        return (now - fetched).total_seconds() / 86400


def database_dir() -> Path:
    """Where synced databases live: GOVOPS_ADVISORY_DB, else `advisories/` in the state
    folder (engine.statedir)."""
    configured = os.environ.get("GOVOPS_ADVISORY_DB")
    return Path(configured) if configured else state_base() / "advisories"


def database_path(source: str, folder: Path | None = None) -> Path:
    return (folder or database_dir()) / f"{source}.sqlite"


def write_database(path: Path, snapshot: Snapshot,
                   records: Mapping[str, Mapping[str, Any]],
                   names: Mapping[str, Iterable[str]]) -> None:
    """Write a complete database to `path` + ".next", then rename it over `path`. `names`:
    advisory id -> the (normalised) package names it is looked up by."""
    private_folder(path.parent)
    partial = path.with_name(path.name + ".next")
    partial.unlink(missing_ok=True)
    try:
        _write(partial, snapshot, records, names)
    except BaseException:
        partial.unlink(missing_ok=True)  # never leave half a database behind
        raise
    partial.replace(path)


def _write(partial: Path, snapshot: Snapshot, records: Mapping[str, Mapping[str, Any]],
           names: Mapping[str, Iterable[str]]) -> None:
    db = sqlite3.connect(partial)
    try:
        with db:
            db.execute("CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL)")
            db.execute("CREATE TABLE records (id TEXT PRIMARY KEY, record TEXT NOT NULL, "
                       "affected TEXT NOT NULL)")
            db.execute("CREATE TABLE names (name TEXT NOT NULL, id TEXT NOT NULL)")
            db.executemany("INSERT INTO meta VALUES (?, ?)", [
                ("schema", str(SCHEMA)), ("snapshot", json.dumps(snapshot.as_json()))])
            db.executemany("INSERT INTO records VALUES (?, ?, ?)",
                           [(aid, json.dumps(record, sort_keys=True),
                             json.dumps(_for_matching(record), sort_keys=True))
                            for aid, record in sorted(records.items())])
            db.executemany("INSERT INTO names VALUES (?, ?)",
                           [(name, aid) for aid, found in sorted(names.items())
                            for name in sorted(set(found))])
            db.execute("CREATE INDEX by_name ON names (name)")
    finally:
        db.close()


def _for_matching(record: Mapping[str, Any]) -> dict[str, Any]:
    """What engine.advisories.match reads of a record."""
    return {key: record[key] for key in ("affected", "withdrawn") if key in record}


@dataclass(frozen=True)
class Database:
    """One synced source, open for lookups."""

    path: Path
    snapshot: Snapshot

    def affecting(self, names: Iterable[str],
                  pick: Callable[[Mapping[str, Mapping[str, Any]]], Iterable[str]],
                  ) -> dict[str, dict[str, Any]]:
        """The whole records, by id, that `pick` chooses from what matching reads (`affected`,
        `withdrawn`) of the records filed under any of these package names.

        Both reads go through one connection: it keeps the file it opened even when a sync
        renames a new database over it meanwhile, so the records picked and the records
        returned come from one snapshot; and that must be the snapshot this Database was
        opened with (the one a decision records), else the lookup stops in one line."""
        with self._open() as db:
            try:
                meta = dict(db.execute("SELECT key, value FROM meta").fetchall())
                same = Snapshot.from_json(json.loads(meta["snapshot"])) == self.snapshot
                if same:
                    column = "affected" if meta["schema"] != "1" else "record"
                    candidates = _select(db, f"SELECT DISTINCT records.id, records.{column} "
                                         "FROM names JOIN records ON records.id = names.id "
                                         "WHERE names.name IN ({})", names)
                    hit = set(pick(candidates)) if candidates else set()
                    return _select(db, "SELECT id, record FROM records WHERE id IN ({})", hit)
            except (sqlite3.Error, ValueError, KeyError, TypeError) as exc:
                raise GovopsError(f"{self.path}: not a usable advisory database ({exc}); run "
                                  "`govops advisories sync` again") from None
        raise GovopsError(f"{self.path}: replaced by `govops advisories sync` while it was "
                          "being read; run the command again")

    @contextlib.contextmanager
    def _open(self) -> Iterator[sqlite3.Connection]:
        db = _connect(self.path)
        try:
            yield db
        finally:
            db.close()


def _select(db: sqlite3.Connection, query: str, keys: Iterable[str],
            ) -> dict[str, dict[str, Any]]:
    """`query`'s (id, JSON) rows for these keys, by id; its `{}` is filled with placeholders,
    at most 900 keys at a time (SQLite's limit on them)."""
    wanted = sorted(set(keys))
    out: dict[str, dict[str, Any]] = {}
    for i in range(0, len(wanted), 900):
        chunk = wanted[i:i + 900]
        for aid, text in db.execute(query.format(",".join("?" * len(chunk))), chunk):
            out[aid] = json.loads(text)
    return out


def _connect(path: Path) -> sqlite3.Connection:
    return sqlite3.connect(f"file:{path}?mode=ro", uri=True)


def open_database(source: str, folder: Path | None = None) -> Database | None:
    """The synced database of `source`, or None when there is none. A file that is not one
    (damaged, or of another govops) is an error naming it: the check must not quietly run
    without the advisories the user synced."""
    path = database_path(source, folder)
    if not path.exists():
        return None
    try:
        db = _connect(path)
        try:
            meta = dict(db.execute("SELECT key, value FROM meta").fetchall())
        finally:
            db.close()
        if meta.get("schema") not in _READABLE:
            raise ValueError(f"schema {meta.get('schema')!r}, this govops reads "
                             f"{' and '.join(_READABLE)}")
        snapshot = Snapshot.from_json(json.loads(meta["snapshot"]))
    except (sqlite3.Error, ValueError, KeyError, TypeError) as exc:
        raise GovopsError(f"{path}: not a usable advisory database ({exc}); run `govops "
                          f"advisories sync` again") from None
    return Database(path, snapshot)
