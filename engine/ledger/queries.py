"""The auditors' questions, answered from the ledger index: `log`, `show`, `at` and `search`.

Every answer is a frozen dataclass that `engine.report.audit_format` renders; nothing here
prints. The answers say what the ledger records and are only as trustworthy as the ledger:
the index does not verify signatures (`govops audit verify` does).

Liveness: an apply or rollback of stack S is live from its time (inclusive) until the time of
the next apply or rollback of S in the ledger (exclusive), or for ever if there is none. Were
entry times ever to go backwards, the interval that started last wins.

ENTRY: a seq number (`12`), or a prefix of at least 4 hex digits of the entry hash (`9f3c07`,
`sha256:9f3c07`; a prefix made only of digits needs the `sha256:` to be read as a hash).

TIME: RFC 3339 (`2026-11-20T12:00:00Z`, `2026-11-20T13:00:00+01:00`); a date or a date and
time, read as UTC (`2026-11-20`, `2026-11-20 14:05`, `2026-11-20 14:05:30`, `2026-11-20T14:05`);
`now`; `yesterday` (24 hours ago); `N second(s)|minute(s)|hour(s)|day(s)|week(s) ago`. Unlike
git, dates without a zone are UTC, so an answer does not depend on the machine asking.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import re
import sqlite3
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any, NamedTuple

from engine.errors import GovopsError
from engine.ledger.entry import ENTRY_FILE, ENTRY_RECEIPT, TYPES
from engine.ledger.index import LedgerIndex, normalise


class QueryError(GovopsError):
    """A query the ledger cannot answer as asked: a bad ENTRY, TIME or search term."""


# -- answers ------------------------------------------------------------------------------------


class Link(NamedTuple):
    role: str
    hash: str
    seq: int | None  # None: the hash is not an entry of this ledger


class EntrySummary(NamedTuple):
    seq: int
    hash: str
    commit: str  # the ledger commit holding the entry
    type: str
    time: str
    actor: str
    revision: str | None  # the governed repo's commit the entry is about
    stack: str | None
    verdict: str | None
    decision_id: str | None
    serial_number: str | None
    links: tuple[Link, ...]


@dataclass(frozen=True)
class LogResult:
    stack: str | None
    type: str | None
    since: str | None
    until: str | None
    entries: tuple[EntrySummary, ...]


@dataclass(frozen=True)
class EntryFile:
    name: str
    size: int
    digest: str
    role: str  # entry (entry.json), signature (entry.sigstore.json) or recorded


@dataclass(frozen=True)
class ShowResult:
    entry: EntrySummary
    document: dict[str, Any]  # entry.json as recorded
    files: tuple[EntryFile, ...]
    linked: tuple[EntrySummary, ...]  # the entries it links to


class DeployedItem(NamedTuple):
    kind: str  # model, dataset, environment, package, image, driver
    name: str
    version: str | None  # a model's revision, a package's version, an image's digest
    digest: str | None
    purl: str | None
    environment: str | None  # the environment that brings it in (packages, images, drivers)


@dataclass(frozen=True)
class AtResult:
    stack: str
    time: str
    entry: EntrySummary | None  # the apply/rollback live then; None: nothing was deployed
    live_from: str | None
    live_until: str | None  # None: still live
    aibom: str | None  # ok, no-link, unreadable or no-stack: what the index found
    items: tuple[DeployedItem, ...]
    first: EntrySummary | None  # when nothing was: the stack's first apply/rollback, if any

    def of(self, kind: str) -> tuple[DeployedItem, ...]:
        return tuple(i for i in self.items if i.kind == kind)


class Deployment(NamedTuple):
    """An apply/rollback that matched a search, the time it was live and what matched.

    Link, EntrySummary, DeployedItem and Deployment are NamedTuples rather than frozen
    dataclasses: a broad search builds one of each per matching deployment (9,000 of them for
    a policy every decision reports), and a NamedTuple is built 5x faster."""

    entry: EntrySummary
    stack: str
    live_from: str
    live_until: str | None
    matched: tuple[DeployedItem, ...]  # empty for policy and waiver searches


@dataclass(frozen=True)
class LiveRange:
    """Consecutive matching deployments of one stack, merged: from, until, which entries."""

    stack: str
    live_from: str
    live_until: str | None
    entries: tuple[int, ...]


@dataclass(frozen=True)
class PolicyHit:
    policy: str
    kind: str | None
    name: str | None
    file: str | None
    line: int | None
    severity: str | None
    waived: bool
    waiver: str | None


@dataclass(frozen=True)
class DecisionHit:
    entry: EntrySummary
    results: tuple[PolicyHit, ...]


@dataclass(frozen=True)
class SearchResult:
    field: str  # package, model, policy or waiver
    value: str  # as asked (NAME, NAME@VERSION, DIGEST, ID)
    decisions: tuple[DecisionHit, ...]
    deployments: tuple[Deployment, ...]
    ranges: tuple[LiveRange, ...]


# -- parsing ENTRY and TIME ---------------------------------------------------------------------

_RFC3339 = re.compile(r"^\d{4}-\d{2}-\d{2}[Tt]\d{2}:\d{2}:\d{2}(\.\d+)?([Zz]|[+-]\d{2}:\d{2})$")
_LOCAL = re.compile(r"^\d{4}-\d{2}-\d{2}([ T]\d{2}:\d{2}(:\d{2})?)?$")
_AGO = re.compile(r"^(\d+)\s+(second|minute|hour|day|week)s?\s+ago$")
TIME_FORMS = ("an RFC 3339 time (2026-11-20T12:00:00Z), a date (2026-11-20, 2026-11-20 14:05, "
              "UTC), 'now', 'yesterday' or 'N days ago'")


def utc(moment: dt.datetime) -> str:
    return moment.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def parse_time(text: str, now: dt.datetime | None = None) -> dt.datetime:
    """TIME as an aware UTC datetime (see the module docstring for the forms)."""
    value = text.strip()
    lowered = value.lower()
    current = (now or dt.datetime.now(dt.UTC)).astimezone(dt.UTC)
    try:
        if lowered == "now":
            return current
        if lowered == "yesterday":
            return current - dt.timedelta(days=1)
        if match := _AGO.match(lowered):
            return current - dt.timedelta(**{match.group(2) + "s": int(match.group(1))})
        if _RFC3339.match(value):
            return dt.datetime.fromisoformat(value.upper().replace("Z", "+00:00")
                                             ).astimezone(dt.UTC)
        if _LOCAL.match(value):
            return dt.datetime.fromisoformat(value).replace(tzinfo=dt.UTC)
    except (ValueError, OverflowError):
        pass
    raise QueryError(f"TIME {text!r} is not {TIME_FORMS}")


def _seconds(moment: dt.datetime) -> int:
    return int(moment.timestamp() // 1)


def resolve_entry(index: LedgerIndex, reference: str) -> int:
    """The seq of ENTRY (a seq number or a hash prefix); QueryError when it names no entry or
    several."""
    text = reference.strip().lower()
    as_hash = text.startswith("sha256:")
    text = text.removeprefix("sha256:")
    count = int(index.db.execute("SELECT COUNT(*) FROM entries").fetchone()[0])
    if text.isascii() and text.isdigit() and not as_hash:
        seq = int(text)
        if 1 <= seq <= count:
            return seq
        raise QueryError(f"no ledger entry #{seq} (the ledger has {count})")
    if len(text) < 4 or any(c not in "0123456789abcdef" for c in text):
        raise QueryError(f"ENTRY {reference!r} is neither an entry number nor a hash prefix of "
                         "at least 4 hex digits")
    low = "sha256:" + text
    found = index.db.execute("SELECT seq FROM entries WHERE hash >= ? AND hash < ? LIMIT 2",
                             (low, low + "~")).fetchall()
    if len(found) == 1:
        return int(found[0][0])
    if not found:
        raise QueryError(f"no ledger entry has a hash starting with {text!r}")
    many = index.db.execute("SELECT COUNT(*) FROM entries WHERE hash >= ? AND hash < ?",
                            (low, low + "~")).fetchone()[0]
    raise QueryError(f"hash prefix {text!r} matches {many} entries: give more digits")


# -- reading rows -------------------------------------------------------------------------------

_ENTRY_COLUMNS = ("e.seq, e.hash, e.commit_id, e.type, e.time, e.actor, e.revision, e.stack, "
                  "e.verdict, e.decision_id, e.serial, e.links")
_ITEM_COLUMNS = "i.kind, i.name, i.version, i.digest, i.purl, i.environment"


def _links(text: str, parsed: dict[str, tuple[Link, ...]] | None = None) -> tuple[Link, ...]:
    """The links column; `parsed` caches it (thousands of applies share two links)."""
    if parsed is not None and text in parsed:
        return parsed[text]
    links = tuple(Link(role, target, seq) for role, (target, seq)
                  in sorted(json.loads(text).items()))
    if parsed is not None:
        parsed[text] = links
    return links


def _summary(row: Sequence[Any], parsed: dict[str, tuple[Link, ...]] | None = None
             ) -> EntrySummary:
    return EntrySummary(int(row[0]), row[1], row[2], row[3], row[4], row[5], row[6], row[7],
                        row[8], row[9], row[10], _links(row[11], parsed))


def _item(row: Sequence[Any]) -> DeployedItem:
    return DeployedItem(row[0], row[1], row[2], row[3], row[4], row[5])


def _entries(db: sqlite3.Connection, seqs: Iterable[int]) -> dict[int, EntrySummary]:
    wanted = sorted(set(seqs))
    found: dict[int, EntrySummary] = {}
    for start in range(0, len(wanted), 500):
        chunk = wanted[start:start + 500]
        marks = ",".join("?" * len(chunk))
        for row in db.execute(f"SELECT {_ENTRY_COLUMNS} FROM entries e WHERE e.seq IN "
                              f"({marks})", chunk):
            found[int(row[0])] = _summary(row)
    return found


# -- log, show ----------------------------------------------------------------------------------


def log(index: LedgerIndex, stack: str | None = None, type: str | None = None,
        since: str | None = None, until: str | None = None,
        now: dt.datetime | None = None) -> LogResult:
    """The entries, first to last, of a stack and/or type, with since <= time <= until."""
    if type is not None and type not in TYPES:
        raise QueryError(f"unknown entry type {type!r} (one of {', '.join(TYPES)})")
    start = parse_time(since, now) if since is not None else None
    end = parse_time(until, now) if until is not None else None
    clauses: list[str] = []
    values: list[Any] = []
    if stack is not None:
        clauses.append("e.stack = ?")
        values.append(stack)
    if type is not None:
        clauses.append("e.type = ?")
        values.append(type)
    if start is not None:
        clauses.append("e.epoch >= ?")
        values.append(_seconds(start))
    if end is not None:
        clauses.append("e.epoch <= ?")
        values.append(_seconds(end))
    where = " WHERE " + " AND ".join(clauses) if clauses else ""
    rows = index.db.execute(f"SELECT {_ENTRY_COLUMNS} FROM entries e{where} ORDER BY e.seq",
                            values)
    return LogResult(stack, type, utc(start) if start else None, utc(end) if end else None,
                     tuple(_summary(r) for r in rows))


def show(index: LedgerIndex, reference: str) -> ShowResult:
    """One entry (seq or hash prefix): its fields, its files with sizes and digests (read from
    the ledger commit) and the entries it links to."""
    seq = resolve_entry(index, reference)
    summary = _entries(index.db, [seq])[seq]
    item = index.ledger.read(summary.commit)
    roles = {ENTRY_FILE: "entry", ENTRY_RECEIPT: "signature"}
    files = tuple(EntryFile(name, len(data), "sha256:" + hashlib.sha256(data).hexdigest(),
                            roles.get(name, "recorded"))
                  for name, data in sorted(item.files.items()))
    linked = _entries(index.db, [link.seq for link in summary.links if link.seq is not None])
    return ShowResult(summary, item.entry.as_json(), files,
                      tuple(linked[s] for s in sorted(linked)))


# -- at -----------------------------------------------------------------------------------------


def at(index: LedgerIndex, when: str, stack: str, now: dt.datetime | None = None) -> AtResult:
    """The apply/rollback of `stack` live at `when`, and what it deployed."""
    moment = parse_time(when, now)
    seconds = _seconds(moment)
    row = index.db.execute(
        "SELECT seq, start, until, aibom FROM live WHERE stack = ? AND start_epoch <= ? AND "
        "(until_epoch IS NULL OR until_epoch > ?) ORDER BY start_epoch DESC, seq DESC LIMIT 1",
        (stack, seconds, seconds)).fetchone()
    if row is None:
        first = index.db.execute("SELECT seq FROM live WHERE stack = ? ORDER BY start_epoch, "
                                 "seq LIMIT 1", (stack,)).fetchone()
        summary = _entries(index.db, [first[0]])[first[0]] if first else None
        return AtResult(stack, utc(moment), None, None, None, None, (), summary)
    seq = int(row[0])
    items = tuple(_item(r) for r in index.db.execute(
        f"SELECT {_ITEM_COLUMNS} FROM deployed d JOIN items i ON i.id = d.item WHERE d.seq = ? "
        "ORDER BY i.kind, i.name, i.version, i.environment", (seq,)))
    return AtResult(stack, utc(moment), _entries(index.db, [seq])[seq], row[1], row[2], row[3],
                    items, None)


# -- search -------------------------------------------------------------------------------------


def _merge(deployments: Sequence[Deployment]) -> tuple[LiveRange, ...]:
    """Per stack, deployments whose intervals touch (one ends when the next begins) merge."""
    by_stack: dict[str, list[Deployment]] = {}
    for found in deployments:
        by_stack.setdefault(found.stack, []).append(found)
    ranges: list[LiveRange] = []
    for stack in sorted(by_stack):
        runs: list[tuple[str, str | None, list[int]]] = []
        for found in sorted(by_stack[stack], key=lambda d: (d.live_from, d.entry.seq)):
            if runs and runs[-1][1] == found.live_from:
                runs[-1] = (runs[-1][0], found.live_until, runs[-1][2])
                runs[-1][2].append(found.entry.seq)
            else:
                runs.append((found.live_from, found.live_until, [found.entry.seq]))
        ranges += [LiveRange(stack, start, until, tuple(seqs)) for start, until, seqs in runs]
    return tuple(ranges)


_DEPLOYMENT_COLUMNS = f"{_ENTRY_COLUMNS}, l.stack, l.start, l.until"


def _search_items(index: LedgerIndex, field: str, value: str, where: str,
                  values: Sequence[Any]) -> SearchResult:
    """One query: the matching deployed items with their entry and live interval."""
    parsed: dict[str, tuple[Link, ...]] = {}
    found: list[Deployment] = []
    current: tuple[Sequence[Any], list[DeployedItem]] | None = None
    rows = index.db.execute(
        f"SELECT {_DEPLOYMENT_COLUMNS}, {_ITEM_COLUMNS} FROM items i "
        "JOIN deployed d ON d.item = i.id JOIN entries e ON e.seq = d.seq "
        f"JOIN live l ON l.seq = d.seq WHERE {where}", values).fetchall()
    # Sorted here rather than by SQLite, whose temporary B-tree over thousands of wide rows
    # costs a third of a broad search.
    rows.sort(key=lambda r: (r[0], r[16], r[17] or "", r[20] or ""))
    for row in rows:
        if current is None or current[0][0] != row[0]:
            if current is not None:
                found.append(_deployment(current[0], parsed, current[1]))
            current = (row, [])
        current[1].append(_item(row[15:]))
    if current is not None:
        found.append(_deployment(current[0], parsed, current[1]))
    deployments = tuple(found)
    return SearchResult(field, value, (), deployments, _merge(deployments))


def _deployment(row: Sequence[Any], parsed: dict[str, tuple[Link, ...]],
                matched: Sequence[DeployedItem] = ()) -> Deployment:
    return Deployment(_summary(row, parsed), row[12], row[13], row[14], tuple(matched))


def _search_results(index: LedgerIndex, field: str, value: str, where: str,
                    values: Sequence[Any]) -> SearchResult:
    """The decision entries with matching results, then (one query) the applies and
    rollbacks resting on them."""
    hits: dict[int, list[PolicyHit]] = {}
    for row in index.db.execute(
            "SELECT r.seq, r.policy, r.kind, r.name, r.file, r.line, r.severity, r.waived, "
            f"r.waiver FROM results r WHERE {where} ORDER BY r.seq, r.waived, r.kind, r.name, "
            "r.file, r.line", values):
        hits.setdefault(int(row[0]), []).append(
            PolicyHit(row[1], row[2], row[3], row[4], row[5], row[6], bool(row[7]), row[8]))
    summaries = _entries(index.db, hits)
    decisions = tuple(DecisionHit(summaries[s], tuple(hits[s])) for s in sorted(hits))
    parsed: dict[str, tuple[Link, ...]] = {}
    rows = index.db.execute(
        f"SELECT {_DEPLOYMENT_COLUMNS} FROM entries e JOIN live l ON l.seq = e.seq "
        f"WHERE e.decision_seq IN (SELECT DISTINCT r.seq FROM results r WHERE {where})",
        values).fetchall()
    rows.sort(key=lambda r: r[0])  # cheaper than SQLite's temporary B-tree (see above)
    deployments = tuple(_deployment(row, parsed) for row in rows)
    return SearchResult(field, value, decisions, deployments, _merge(deployments))


_DIGEST = re.compile(r"^(sha256:)?[0-9a-f]{4,64}$")


def search(index: LedgerIndex, *, package: str | None = None, model: str | None = None,
           policy: str | None = None, waiver: str | None = None) -> SearchResult:
    """Exactly one of: `package` NAME[@VERSION] (name matched PEP 503-normalised, version
    exactly); `model` NAME, or DIGEST (`sha256:` + 4 to 64 hex digits, a prefix; or 64 bare hex
    digits); `policy` ID (case-insensitive); `waiver` NAME. Package and model searches return
    the deployments that deployed it; policy and waiver searches the decision entries that
    reported or used it and the deployments that rested on those decisions."""
    given = {k: v for k, v in (("package", package), ("model", model), ("policy", policy),
                               ("waiver", waiver)) if v is not None}
    if len(given) != 1:
        raise QueryError("search for exactly one of --package, --model, --policy, --waiver")
    [(field, raw)] = given.items()
    value = raw.strip()
    if not value:
        raise QueryError(f"--{field} needs a value")
    if field == "package":
        name, at_sign, version = value.partition("@")
        if not name.strip() or (at_sign and not version.strip()):
            raise QueryError(f"--package {raw!r} is not NAME or NAME@VERSION")
        where, values = "i.kind = 'package' AND i.key = ?", [normalise(name)]
        if at_sign:
            where += " AND i.version = ?"
            values.append(version.strip())
        return _search_items(index, field, value, where, values)
    if field == "model":
        lowered = value.lower()
        if lowered.startswith("sha256:") or re.fullmatch(r"[0-9a-f]{64}", lowered):
            if not _DIGEST.match(lowered):
                raise QueryError(f"--model {raw!r} is not a sha256 digest (sha256: and at "
                                 "least 4 hex digits)")
            low = "sha256:" + lowered.removeprefix("sha256:")
            return _search_items(index, field, value, "i.kind = 'model' AND i.digest >= ? "
                                 "AND i.digest < ?", [low, low + "~"])
        return _search_items(index, field, value, "i.kind = 'model' AND i.key = ?",
                             [normalise(value)])
    if field == "policy":
        return _search_results(index, field, value, "r.policy = ? COLLATE NOCASE", [value])
    return _search_results(index, field, value, "r.waiver = ?", [value])


# -- reindex ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Reindexed:
    path: str
    kind: str  # rebuild (or incremental/current when only refreshed)
    reason: str
    seconds: float
    entries: int
    deployments: int
    deployed_items: int
    policy_results: int
    rebuilds: int


def reindex(index: LedgerIndex) -> Reindexed:
    """Rebuild the index from the ledger, whatever it holds, and count what it now holds."""
    done = index.reindex()
    counts = [int(index.db.execute(f"SELECT COUNT(*) FROM {table}").fetchone()[0])
              for table in ("entries", "live", "deployed", "results")]  # deployed: item rows
    entries, deployments, items, results = counts
    return Reindexed(str(index.path), done.kind, done.reason, done.seconds, entries,
                     deployments, items, results, index.state().rebuilds)
