"""The SQLite index of the ledger (`.git/govops/ledger-index.sqlite`): what `audit log`, `show`,
`at` and `search` read instead of walking the chain and parsing AIBOMs on every question.

It is a cache of the ledger, never a source of truth: it can be deleted and rebuilt at any
time (`reindex`) and is brought up to date on every open. It remembers the last indexed entry
(seq, hash, ledger commit); when the chain still holds that entry at that seq, only the newer
entries are indexed; when the schema changed or the file is unreadable it is rebuilt from
scratch, in one transaction, so readers never see half of it. When the ref was reset or
rewritten (the last indexed entry is gone) it refuses (LedgerRewritten, naming the first entry
that differs) rather than serve the new history as if nothing had happened: `audit verify
--accept-rewrite` verifies the ledger as it is and rebuilds the index.

It reads the ledger WITHOUT verifying signatures, digests or links: an answer from the index
is what the ledger says, not proof that the ledger is genuine. That is `govops audit verify`'s
job. It only requires the chain to be readable, with `seq` 1, 2, 3... from the first entry.

Schema (version 6; `meta` holds `schema`, `last_seq`, `last_hash`, `last_commit`, `rebuilds`,
`updates`):

- `entries`: one row per entry (seq, hash, ledger commit, type, time and its epoch seconds,
  actor, revision, stack, verdict, decision id, AIBOM serial number, the signer its bundle
  declares (unverified: `key <hint>` or `identity ...`), links as JSON
  {role: [hash, seq]}, and the seq of the decision and AIBOM an apply/rollback rests on).
- `live`: one row per apply/rollback: the stack, live from its time until the next
  apply/rollback for the same stack (`until_epoch` NULL while it is still live), and what the
  index found of its AIBOM (`ok`, `no-link`, `unreadable`, `no-stack`).
- `items`: each thing a stack can deploy, once (kind model, dataset, environment, package,
  image or driver; name, normalised name, version, digest, purl, and for what an environment
  brings in, that environment): a package in two environments is two items.
- `deployed` (seq, item): what each apply/rollback deployed, from the AIBOM of its
  `links.aibom` entry: the components reachable from `stack:<name>`. Two integers a row, so a
  million rows (10,000 applies of 100 packages) stay small and quick to rebuild.
- `results`: the policy results of decision entries (policy id, kind, name, file, line,
  severity, waived, waiver).
- `approvals` (seq, waiver, approvers): who a decision entry verified as a waiver's approvers.
- `terms` (seq, waiver, expires, valid): each waiver an apply/rollback relied on as its
  deployment receipt states it (re-judged at deploy time); none for a deployment recorded
  before govops judged at deploy time.
"""

from __future__ import annotations

import contextlib
import json
import re
import sqlite3
import time
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from engine.attest.bundle import declared_signer
from engine.attest.files import AIBOM_FILE, DECISION_FILE, DEPLOYMENT_FILE
from engine.clock import epoch
from engine.errors import GovopsError
from engine.ledger.answers import EntrySummary
from engine.ledger.entry import APPROVAL, DEPLOYING, ENTRY_RECEIPT, StoredEntry, sha256
from engine.ledger.rewrite import LedgerRewritten, Rewrite, difference, rewritten
from engine.ledger.store import Ledger, LedgerError, stored
from engine.policy.decision import Decision
from engine.repo import GitRepo
from engine.workdir import WorkDir

SCHEMA_VERSION = "6"

_TABLES = """
CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE entries (
    seq INTEGER PRIMARY KEY, hash TEXT NOT NULL, commit_id TEXT NOT NULL, type TEXT NOT NULL,
    time TEXT NOT NULL, epoch INTEGER NOT NULL, actor TEXT NOT NULL, revision TEXT,
    stack TEXT, verdict TEXT, decision_id TEXT, serial TEXT, waiver TEXT, signer TEXT,
    links TEXT NOT NULL,
    decision_seq INTEGER, aibom_seq INTEGER);
CREATE TABLE live (
    seq INTEGER PRIMARY KEY, stack TEXT NOT NULL, start TEXT NOT NULL,
    start_epoch INTEGER NOT NULL, until TEXT, until_epoch INTEGER, aibom TEXT NOT NULL);
CREATE TABLE items (
    id INTEGER PRIMARY KEY, kind TEXT NOT NULL, name TEXT NOT NULL, key TEXT NOT NULL,
    version TEXT, digest TEXT, purl TEXT, environment TEXT);
CREATE TABLE deployed (
    seq INTEGER NOT NULL, item INTEGER NOT NULL, PRIMARY KEY (seq, item)) WITHOUT ROWID;
CREATE TABLE results (
    seq INTEGER NOT NULL, policy TEXT NOT NULL, kind TEXT, name TEXT, file TEXT,
    line INTEGER, severity TEXT, waived INTEGER NOT NULL, waiver TEXT);
CREATE TABLE approvals (seq INTEGER NOT NULL, waiver TEXT NOT NULL, approvers TEXT NOT NULL);
CREATE TABLE terms (
    seq INTEGER NOT NULL, waiver TEXT NOT NULL, expires TEXT, valid INTEGER NOT NULL);
"""

_INDEXES = """
CREATE UNIQUE INDEX entries_hash ON entries(hash);
CREATE INDEX entries_stack_time ON entries(stack, epoch);
CREATE INDEX entries_type_time ON entries(type, epoch);
CREATE INDEX entries_time ON entries(epoch);
CREATE INDEX entries_decision ON entries(decision_seq) WHERE decision_seq IS NOT NULL;
CREATE INDEX live_stack_start ON live(stack, start_epoch, seq);
CREATE INDEX live_open ON live(stack) WHERE until_epoch IS NULL;
CREATE INDEX items_key ON items(kind, key, version);
CREATE INDEX items_digest ON items(kind, digest) WHERE digest IS NOT NULL;
CREATE INDEX deployed_item ON deployed(item, seq);
CREATE INDEX results_policy ON results(policy COLLATE NOCASE, seq);
CREATE INDEX results_waiver ON results(waiver, seq) WHERE waiver IS NOT NULL;
CREATE INDEX results_seq ON results(seq);
CREATE INDEX approvals_seq ON approvals(seq, waiver);
CREATE INDEX terms_seq ON terms(seq, waiver);
"""

# CycloneDX component type -> the kind of thing a stack deploys.
_KINDS = {"machine-learning-model": "model", "data": "dataset", "platform": "environment",
          "library": "package", "container": "image", "device-driver": "driver"}


class LedgerIndexError(GovopsError):
    """The index cannot be written or read (a permission problem, a full disk)."""


def normalise(name: str) -> str:
    """The key names are matched on: lowercase, runs of `-`, `_`, `.` as one `-` (PEP 503)."""
    return re.sub(r"[-_.]+", "-", name.strip()).lower()


@dataclass(frozen=True)
class IndexState:
    last_seq: int
    last_hash: str | None
    last_commit: str | None
    rebuilds: int
    updates: int


@dataclass(frozen=True)
class Refresh:
    """What opening (or `reindex`) did: `current` (nothing new), `incremental` (indexed only the
    entries after the last indexed one) or `rebuild` (from scratch), with why and how many."""

    kind: str
    added: int
    reason: str
    seconds: float


@dataclass(frozen=True)
class DeployedRow:
    kind: str
    name: str
    version: str | None
    digest: str | None
    purl: str | None
    environment: str | None


# -- what an AIBOM says a stack deploys ---------------------------------------------------------


def _digest(component: Mapping[str, Any]) -> str | None:
    for item in component.get("hashes") or []:
        if item.get("alg") == "SHA-256" and item.get("content"):
            return "sha256:" + str(item["content"])
    for prop in component.get("properties") or []:
        if prop.get("name") == "govops:declared-digest":
            return str(prop.get("value"))
    return None


def _reach(edges: Mapping[str, list[str]], start: str) -> list[str]:
    seen, order, todo = {start}, [], [start]
    while todo:
        ref = todo.pop()
        for target in edges.get(ref, []):
            if target not in seen:
                seen.add(target)
                order.append(target)
                todo.append(target)
    return order


def _row(component: Mapping[str, Any], kind: str, environment: str | None) -> DeployedRow:
    return DeployedRow(kind, str(component.get("name", "")), component.get("version"),
                       _digest(component), component.get("purl"), environment)


def deployed_rows(document: Mapping[str, Any], stack: str) -> list[DeployedRow] | None:
    """The components reachable from `stack:<stack>` in an AIBOM; None when it has no such
    stack. What an environment brings in (image, CUDA, packages) names that environment."""
    components = {str(c.get("bom-ref")): c for c in document.get("components") or []
                  if isinstance(c, dict)}
    edges = {str(d.get("ref")): [str(t) for t in d.get("dependsOn") or []]
             for d in document.get("dependencies") or [] if isinstance(d, dict)}
    root = f"stack:{stack}"
    if root not in components:
        return None
    rows: list[DeployedRow] = []
    under_environment: set[str] = set()
    reached = _reach(edges, root)
    for ref in reached:
        component = components.get(ref)
        if component is None or _KINDS.get(str(component.get("type"))) != "environment":
            continue
        environment = str(component.get("name", ""))
        rows.append(_row(component, "environment", None))
        for inner in _reach(edges, ref):
            found = components.get(inner)
            kind = _KINDS.get(str(found.get("type"))) if found else None
            if found is not None and kind is not None and kind != "environment":
                under_environment.add(inner)
                rows.append(_row(found, kind, environment))
    for ref in reached:
        component = components.get(ref)
        kind = _KINDS.get(str(component.get("type"))) if component else None
        if component is None or kind in (None, "environment") or ref in under_environment:
            continue
        rows.append(_row(component, str(kind), None))
    return rows


# -- the index ----------------------------------------------------------------------------------


class _Rebuild(Exception):
    def __init__(self, reason: str, rewritten: bool = False) -> None:
        super().__init__(reason)
        self.reason = reason
        self.rewritten = rewritten  # the ledger lost an entry it held: refused, not rebuilt


class LedgerIndex:
    """An open index, brought up to date by `open`. `db` answers the queries."""

    def __init__(self, ledger: Ledger, path: Path, db: sqlite3.Connection) -> None:
        self.ledger = ledger
        self.path = path
        self.db = db
        self.last_refresh: Refresh | None = None
        # How answers name each entry's signer and trust version when a trust root is pinned
        # (engine.commands.audit sets it); None leaves the signer as its bundle declares it.
        self.names: Callable[[EntrySummary], EntrySummary] | None = None
        # Per batch of entries indexed (ids are only valid in the transaction that made them).
        self._deployed_cache: dict[tuple[str, str], tuple[list[int], str]] = {}
        self._items: dict[tuple[str | None, ...], int] | None = None

    @classmethod
    def open(cls, repo: GitRepo, path: Path | None = None, refresh: bool = True) -> LedgerIndex:
        path = path or WorkDir(repo.git_dir).ledger_index
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            try:
                db = _connect(path)
            except sqlite3.DatabaseError as exc:
                if _locked(exc):
                    raise
                _discard(path)  # not a database: it is only a cache, start a new one
                db = _connect(path)
        except (OSError, sqlite3.Error) as exc:
            raise LedgerIndexError(f"{path}: cannot open the ledger index: {exc}") from None
        index = cls(Ledger(repo), path, db)
        if refresh:
            index.refresh()
        return index

    def close(self) -> None:
        self.db.close()

    def __enter__(self) -> LedgerIndex:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- state --------------------------------------------------------------------------------

    def state(self) -> IndexState:
        try:
            meta = dict(self.db.execute("SELECT key, value FROM meta").fetchall())
        except sqlite3.Error:
            meta = {}
        return IndexState(int(meta.get("last_seq", 0)), meta.get("last_hash") or None,
                          meta.get("last_commit") or None, int(meta.get("rebuilds", 0)),
                          int(meta.get("updates", 0)))

    def _schema_ok(self) -> bool:
        try:
            row = self.db.execute("SELECT value FROM meta WHERE key = 'schema'").fetchone()
        except sqlite3.Error:
            return False
        return row is not None and row[0] == SCHEMA_VERSION

    # -- bringing it up to date ---------------------------------------------------------------

    def refresh(self) -> Refresh:
        """Index what was appended since the last open, or rebuild when the chain no longer
        holds the last indexed entry."""
        try:
            if self._schema_ok() and self.state().last_commit == self.ledger.tip_commit():
                self.last_refresh = Refresh("current", 0, "the index is up to date", 0.0)
                return self.last_refresh
        except sqlite3.DatabaseError:
            pass  # _update recreates an unreadable index
        return self._update(lambda started: (  # then look again, holding the write lock
            self._rebuild("the index is new or has another schema", started)
            if not self._schema_ok() else self._catch_up(started)))

    def reindex(self) -> Refresh:
        """Rebuild from scratch, whatever the index holds."""
        return self._update(lambda started: self._rebuild("asked to reindex", started))

    def _update(self, work: Callable[[float], Refresh]) -> Refresh:
        """Run `work` holding the write lock; a locked index is an error, an unreadable one
        is recreated from the ledger."""
        started = time.perf_counter()
        try:
            with self._write():
                result = work(started)
        except sqlite3.DatabaseError as exc:
            if _locked(exc):
                raise LedgerIndexError(f"{self.path}: the ledger index is locked by another "
                                       "process; try again") from None
            result = self._recreate(f"the index file was unreadable ({exc})", started)
        self._compact(result)
        self.last_refresh = result
        return result

    def _compact(self, done: Refresh) -> None:
        """After a rebuild in place, give the old tables' pages back to the file system."""
        if done.kind != "rebuild":
            return
        free = int(self.db.execute("PRAGMA freelist_count").fetchone()[0])
        pages = int(self.db.execute("PRAGMA page_count").fetchone()[0])
        if free > 256 and free * 2 > pages:
            with contextlib.suppress(sqlite3.OperationalError):  # busy: reused later anyway
                self.db.execute("VACUUM")

    def _recreate(self, reason: str, started: float) -> Refresh:
        """A corrupt file: delete it (it is only a cache) and build a new one."""
        self.db.close()
        try:
            _discard(self.path)
            self.db = _connect(self.path)
            with self._write():
                return self._rebuild(reason, started)
        except (OSError, sqlite3.Error) as exc:
            raise LedgerIndexError(f"{self.path}: cannot rebuild the ledger index: {exc}") from None

    def _write(self) -> _Transaction:
        return _Transaction(self.db)

    def _catch_up(self, started: float) -> Refresh:
        state = self.state()
        tip = self.ledger.tip_commit()
        if tip == state.last_commit:
            return Refresh("current", 0, "the index is up to date", 0.0)
        try:
            newer = self._newer_than(state)
        except _Rebuild as why:
            if why.rewritten:
                found = self._first_difference() or Rewrite(state.last_seq, why.reason)
                raise LedgerRewritten(rewritten(found, "indexed")) from None
            return self._rebuild(why.reason, started)
        if not newer:  # the same entries, but the tip is another commit: its files changed
            return self._rebuild("the ledger's commits changed, its entries did not", started)
        self._index(newer)
        self._set_meta(newer[-1], rebuilds=state.rebuilds, updates=state.updates + 1)
        return Refresh("incremental", len(newer), f"indexed entries #{newer[0].entry.seq}-"
                       f"#{newer[-1].entry.seq} after #{state.last_seq}",
                       time.perf_counter() - started)

    def _newer_than(self, state: IndexState) -> list[StoredEntry]:
        """The entries after the last indexed one, first to last; _Rebuild when the chain no
        longer holds that entry at that seq."""
        if state.last_seq == 0 or state.last_hash is None:
            raise _Rebuild("the index is empty")
        newer: list[StoredEntry] = []
        for record in self.ledger.records():
            item = stored(record)
            seq = item.entry.seq
            if seq == state.last_seq:
                if item.hash != state.last_hash:
                    raise _Rebuild(f"entry #{seq} is not the one indexed (the ledger was "
                                   "rewritten)", rewritten=True)
                newer.reverse()
                if [e.entry.seq for e in newer] != list(range(seq + 1, seq + 1 + len(newer))):
                    raise _Rebuild("the entries after the last indexed one are not numbered "
                                   "in sequence")
                return newer
            if seq < state.last_seq:
                break
            newer.append(item)
        raise _Rebuild(f"the ledger no longer holds entry #{state.last_seq} (it was reset)",
                       rewritten=True)

    def _first_difference(self) -> Rewrite | None:
        """The first entry of the ledger that is not the one indexed at its seq."""
        indexed = [str(h) for (h,) in self.db.execute("SELECT hash FROM entries ORDER BY seq")]
        return difference(indexed, [item.hash for item in self.ledger.entries()], "indexed")

    def _rebuild(self, reason: str, started: float) -> Refresh:
        state = self.state()
        for table in ("meta", "entries", "live", "items", "deployed", "results", "approvals",
                      "terms"):
            self.db.execute(f"DROP TABLE IF EXISTS {table}")
        for statement in _statements(_TABLES):
            self.db.execute(statement)
        entries = [stored(r) for r in self.ledger.records()]
        entries.reverse()
        for position, item in enumerate(entries, start=1):
            if item.entry.seq != position:
                raise LedgerError(f"ledger entry at position {position} has seq "
                                  f"{item.entry.seq}: the ledger is not a well-formed chain "
                                  "(run govops audit verify)")
        self._index(entries)
        for statement in _statements(_INDEXES):
            self.db.execute(statement)
        self.db.execute("INSERT INTO meta VALUES ('schema', ?)", (SCHEMA_VERSION,))
        self._set_meta(entries[-1] if entries else None, rebuilds=state.rebuilds + 1,
                       updates=state.updates)
        return Refresh("rebuild", len(entries), reason, time.perf_counter() - started)

    def _set_meta(self, last: StoredEntry | None, rebuilds: int, updates: int) -> None:
        values = {"last_seq": str(last.entry.seq) if last else "0",
                  "last_hash": last.hash if last else "",
                  "last_commit": last.commit if last else "",
                  "rebuilds": str(rebuilds), "updates": str(updates)}
        self.db.executemany("INSERT OR REPLACE INTO meta VALUES (?, ?)", values.items())

    # -- rows ---------------------------------------------------------------------------------

    def _index(self, entries: list[StoredEntry]) -> None:
        self._deployed_cache.clear()
        self._items = None
        batch = {item.hash: item for item in entries}
        known: dict[str, int] = {}
        # The apply/rollback still live on each stack: the next one for the stack ends it.
        live = dict(self.db.execute("SELECT stack, seq FROM live WHERE until_epoch IS NULL"))

        def seq_of(target: str | None) -> int | None:
            if not target:
                return None
            if target not in known:
                row = self.db.execute("SELECT seq FROM entries WHERE hash = ?",
                                      (target,)).fetchone()
                if row is None:
                    return None
                known[target] = int(row[0])
            return known[target]

        for item in entries:
            entry = item.entry
            links = {role: [target, seq_of(target)] for role, target in
                     sorted(entry.links.items())}
            details = entry.details
            self.db.execute(
                "INSERT INTO entries VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)",
                (entry.seq, item.hash, item.commit, entry.type, entry.time, epoch(entry.time),
                 entry.actor, entry.revision, entry.stack, _text(details.get("verdict")),
                 _text(details.get("decisionId")), _text(details.get("serialNumber")),
                 _text(details.get("waiver")) if entry.type == APPROVAL else None,
                 _signer(item), json.dumps(links, sort_keys=True),
                 seq_of(entry.links.get("decision")),
                 seq_of(entry.links.get("aibom"))))
            known[item.hash] = entry.seq
            if entry.type == "decision" and (decision := _decision(item)) is not None:
                self.db.executemany("INSERT INTO results VALUES (?,?,?,?,?,?,?,?,?)",
                                    _results(entry.seq, decision))
                self.db.executemany("INSERT INTO approvals VALUES (?,?,?)", (
                    (entry.seq, a.waiver, json.dumps(list(a.approvers)))
                    for a in decision.approvals))
            if entry.type in DEPLOYING and entry.stack:
                self._deployment(item, batch, live.get(entry.stack))
                self.db.executemany("INSERT INTO terms VALUES (?,?,?,?)", _terms(item))
                live[entry.stack] = entry.seq

    def _deployment(self, item: StoredEntry, batch: Mapping[str, StoredEntry],
                    previous: int | None) -> None:
        entry = item.entry
        stack = str(entry.stack)
        moment = epoch(entry.time)
        if previous is not None:
            self.db.execute("UPDATE live SET until = ?, until_epoch = ? WHERE seq = ?",
                            (entry.time, moment, previous))
        items, state = self._deployed(entry.links.get("aibom"), stack, batch)
        self.db.execute("INSERT INTO live VALUES (?,?,?,?,NULL,NULL,?)",
                        (entry.seq, stack, entry.time, moment, state))
        self.db.executemany("INSERT INTO deployed VALUES (?,?)",
                            ((entry.seq, item) for item in items))

    def _deployed(self, target: str | None, stack: str, batch: Mapping[str, StoredEntry]
                  ) -> tuple[list[int], str]:
        """The items the AIBOM entry `target` says `stack` deploys, and `ok`, `no-link` (no
        such entry), `unreadable` (no parsable aibom.cdx.json) or `no-stack`. Cached by entry
        and by the AIBOM's own digest: thousands of applies, and hundreds of AIBOM entries,
        share a few AIBOMs."""
        if not target:
            return [], "no-link"
        key = (target, stack)
        if key not in self._deployed_cache:
            item = batch.get(target)
            if item is None:
                row = self.db.execute("SELECT commit_id FROM entries WHERE hash = ?",
                                      (target,)).fetchone()
                if row is None:
                    return [], "no-link"
                item = self.ledger.read(row[0])
            data = item.files.get(AIBOM_FILE)
            by_content = (sha256(data) if data is not None else target, stack)
            if by_content not in self._deployed_cache:
                document = _parse_aibom(data)
                rows = deployed_rows(document, stack) if document is not None else None
                state = ("unreadable" if document is None else "no-stack" if rows is None
                         else "ok")
                ids = {self._item_id((r.kind, r.name, normalise(r.name), r.version, r.digest,
                                      r.purl, r.environment)) for r in rows or []}
                self._deployed_cache[by_content] = (sorted(ids), state)
            self._deployed_cache[key] = self._deployed_cache[by_content]
        return self._deployed_cache[key]

    def _item_id(self, row: tuple[str | None, ...]) -> int:
        if self._items is None:
            self._items = {tuple(r[1:]): int(r[0]) for r in self.db.execute(
                "SELECT id, kind, name, key, version, digest, purl, environment FROM items")}
        found = self._items.get(row)
        if found is None:
            cursor = self.db.execute("INSERT INTO items (kind, name, key, version, digest, "
                                     "purl, environment) VALUES (?,?,?,?,?,?,?)", row)
            found = self._items[row] = int(cursor.lastrowid or 0)
        return found


class _Transaction:
    """BEGIN IMMEDIATE ... COMMIT, ROLLBACK on any error: one writer at a time, all or nothing."""

    def __init__(self, db: sqlite3.Connection) -> None:
        self.db = db

    def __enter__(self) -> None:
        self.db.execute("BEGIN IMMEDIATE")

    def __exit__(self, kind: object, exc: object, tb: object) -> None:
        if kind is None:
            self.db.execute("COMMIT")
        elif self.db.in_transaction:
            self.db.execute("ROLLBACK")


def _connect(path: Path) -> sqlite3.Connection:
    db = sqlite3.connect(str(path), timeout=30.0, isolation_level=None)
    db.execute("PRAGMA journal_mode = DELETE")
    db.execute("PRAGMA synchronous = NORMAL")
    return db


def _locked(exc: sqlite3.Error) -> bool:
    return isinstance(exc, sqlite3.OperationalError) and "locked" in str(exc)


def _discard(path: Path) -> None:
    for suffix in ("", "-journal", "-wal", "-shm"):
        Path(f"{path}{suffix}").unlink(missing_ok=True)


def _statements(script: str) -> Iterator[str]:
    return (s.strip() for s in script.split(";") if s.strip())


def _signer(item: StoredEntry) -> str | None:
    receipt = item.files.get(ENTRY_RECEIPT)
    return declared_signer(receipt) if receipt is not None else None


def _text(value: Any) -> str | None:
    return None if value is None else str(value)


def _parse_aibom(data: bytes | None) -> dict[str, Any] | None:
    if data is None:
        return None
    try:
        document = json.loads(data)
    except (UnicodeDecodeError, json.JSONDecodeError):
        return None
    return document if isinstance(document, dict) else None


def _decision(item: StoredEntry) -> Decision | None:
    """A decision entry's decision.json read back (None: none, or one that does not read
    back, which then adds no rows)."""
    data = item.files.get(DECISION_FILE)
    if data is None:
        return None
    try:
        return Decision.from_json(json.loads(data))
    except ValueError:  # also UnicodeDecodeError and JSONDecodeError
        return None


def _terms(item: StoredEntry) -> list[tuple[Any, ...]]:
    """The rows of `terms` for an apply/rollback: the waivers its deployment.json says it was
    re-judged with (`rejudged.waivers`); a receipt without them adds none."""
    data = item.files.get(DEPLOYMENT_FILE)
    try:
        receipt = json.loads(data) if data is not None else None
    except ValueError:
        return []
    rejudged = receipt.get("rejudged") if isinstance(receipt, dict) else None
    waivers = rejudged.get("waivers") if isinstance(rejudged, dict) else None
    if not isinstance(waivers, list):
        return []
    return [(item.entry.seq, str(w["waiver"]), _text(w.get("expires")),
             1 if w.get("validAtDeploy") is True else 0)
            for w in waivers if isinstance(w, dict) and isinstance(w.get("waiver"), str)]


def _results(seq: int, decision: Decision) -> Iterable[tuple[Any, ...]]:
    """The rows of `results` for a decision entry: what its decision.json reports."""
    rows: list[tuple[Any, ...]] = [(seq, r.id, r.kind, r.name, r.file, r.line, r.severity, 0,
                                    None) for r in decision.results]
    rows += [(seq, w.result.id, w.result.kind, w.result.name, w.result.file, w.result.line,
              w.result.severity, 1, w.waiver) for w in decision.waived]
    return rows
