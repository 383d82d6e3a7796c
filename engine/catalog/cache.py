"""On-disk cache of parsed blobs, keyed by git blob id.

A blob id names its content, so a parse keyed by it never goes stale: an unchanged file is
parsed once per repository, ever. Lives in `.git/govops/cache.sqlite` so it never shows up in
the work tree. Failing to open or write it only costs speed, never correctness.

Values are plain data (dicts, lists, strings, numbers) stored with `marshal`, which loads them
3x faster than JSON and, unlike pickle, cannot run code; an unreadable row is a cache miss.
"""

from __future__ import annotations

import contextlib
import marshal
import sqlite3
import threading
from collections.abc import Iterable
from pathlib import Path
from typing import Any

# Bump when a parser or the schema changes what it produces for the same bytes. It is part of
# every decision's input digest, so it changes decision ids: never bump it for less.
# 12: pixi.lock v7, sources of pixi git and non-PyPI packages and of requirements direct
# references, pixi conda fields checked against file names;
# 11: streams of Kubernetes documents skipped; 10: Kubernetes objects with govops labels
# skipped; 9: UTF-16/32 refused, depth limits
PARSER_VERSION = "12"
# Bump when the form rows are stored in changes (engine.catalog.outcomes), not what they say.
ROW_FORMAT = "2"
_CHUNK = 900


class ParseCache:
    def __init__(self, path: Path | None) -> None:
        self._db: sqlite3.Connection | None = None
        self._pending: dict[str, bytes] = {}
        self._writer: threading.Thread | None = None
        if path is None:
            return
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            # Used by one thread at a time: flush_later's writer is joined before any other use.
            self._db = sqlite3.connect(path, timeout=5, isolation_level=None,
                                       check_same_thread=False)
            # A rollback journal, not WAL: a cold 10,000-object check stores 25 MB of new
            # rows, which WAL writes twice (log, then checkpoint: 0.33 s against 0.14 s) while
            # the policy engine wants both cores. New pages need no journal. A cache another
            # process holds open in WAL mode stays so, which is fine.
            with contextlib.suppress(sqlite3.Error):
                self._db.execute("PRAGMA journal_mode=DELETE")
            self._db.execute("PRAGMA synchronous=NORMAL")
            self._db.execute(
                "CREATE TABLE IF NOT EXISTS parsed (key TEXT PRIMARY KEY, value BLOB NOT NULL)"
            )
        except (OSError, sqlite3.Error):
            self._db = None

    @staticmethod
    def key(kind: str, oid: str) -> str:
        return f"{PARSER_VERSION}.{ROW_FORMAT}:{kind}:{oid}"

    def get_many(self, keys: Iterable[str]) -> dict[str, Any]:
        self._settle()
        wanted = list(dict.fromkeys(keys))
        found: dict[str, Any] = {}
        if self._db is None:
            return found
        try:
            for i in range(0, len(wanted), _CHUNK):
                chunk = wanted[i : i + _CHUNK]
                marks = ",".join("?" * len(chunk))
                rows = self._db.execute(
                    f"SELECT key, value FROM parsed WHERE key IN ({marks})", chunk
                )
                for key, value in rows:
                    found[key] = marshal.loads(value)
        except (sqlite3.Error, EOFError, ValueError, TypeError):
            return {}
        return found

    def put_encoded(self, key: str, encoded: bytes) -> None:
        """Store a value already encoded with `marshal.dumps` (by a forked parser)."""
        self._pending[key] = encoded

    def flush(self) -> None:
        self._settle()
        self._write(self._take())

    def flush_later(self) -> None:
        """Write what is pending on a thread while the caller goes on: a cold 10,000-object
        check stores 25 MB of parses (0.2 s), and SQLite releases the GIL while it writes, so
        that overlaps with the policy evaluation. Whoever reads, flushes or closes the cache
        next waits for it first (`get_many` settles before the loader parses anything)."""
        self._settle()
        batch = self._take()
        if batch:
            self._writer = threading.Thread(target=self._write, args=(batch,),
                                            name="govops-parse-cache", daemon=True)
            self._writer.start()

    def close(self) -> None:
        self.flush()
        if self._db is not None:
            self._db.close()
            self._db = None

    def _settle(self) -> None:
        if self._writer is not None:
            self._writer.join()
            self._writer = None

    def _take(self) -> list[tuple[str, bytes]]:
        batch = list(self._pending.items())
        self._pending.clear()
        return batch if self._db is not None else []

    def _write(self, batch: list[tuple[str, bytes]]) -> None:
        if self._db is None or not batch:
            return
        try:
            with self._db:
                self._db.execute("BEGIN")
                self._db.executemany(
                    "INSERT OR REPLACE INTO parsed (key, value) VALUES (?, ?)", batch)
        except sqlite3.Error:
            pass
