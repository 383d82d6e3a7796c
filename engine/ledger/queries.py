"""The auditors' questions, answered from the ledger index: `log`, `show`, `at` and `search`.

Every answer is a frozen dataclass or NamedTuple of `engine.ledger.answers`, which
`engine.report.audit` renders; nothing here prints. The answers say what the ledger records and
are only as trustworthy as the ledger: the index does not verify signatures (`govops audit
verify` does).

Liveness: an apply or rollback of stack S is live from its time (inclusive) until the time of
the next apply or rollback of S in the ledger (exclusive), or for ever if there is none. Were
entry times ever to go backwards, the interval that started last wins.

ENTRY is read by `engine.ledger.reference`, TIME by `engine.clock`: the same grammar as every
other command. Rows are read by column name (`Columns`), never by position.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import re
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any

from engine.clock import parse_time, seconds, utc
from engine.ledger.answers import (
    AtResult,
    DecisionHit,
    DeployedItem,
    Deployment,
    DiffResult,
    EntryFile,
    EntrySummary,
    Link,
    LiveRange,
    LogResult,
    PolicyHit,
    Reindexed,
    SearchResult,
    ShowResult,
    WaiverUse,
)
from engine.ledger.deploy_diff import deployment_diff
from engine.ledger.entry import ENTRY_FILE, ENTRY_RECEIPT, TYPES
from engine.ledger.index import LedgerIndex, normalise
from engine.ledger.package_query import parse_package_query
from engine.ledger.reference import QueryError, no_such_seq, not_one_match, parse_entry_ref

# -- reading rows -------------------------------------------------------------------------------


@dataclass(frozen=True)
class Columns:
    """A SELECT list whose positions are looked up by column name, never counted by hand."""

    names: tuple[str, ...]

    def __add__(self, other: Columns) -> Columns:
        return Columns(self.names + other.names)

    @property
    def sql(self) -> str:
        return ", ".join(self.names)

    def at(self, name: str) -> int:
        return self.names.index(name)

    def span(self, part: Columns) -> slice:
        """Where `part` sits in this list (it must be contiguous, as `+` makes it)."""
        start = self.at(part.names[0])
        return slice(start, start + len(part.names))


# In the order of the fields of EntrySummary and DeployedItem, which rows are read into.
_ENTRY = Columns(("e.seq", "e.hash", "e.commit_id", "e.type", "e.time", "e.actor", "e.revision",
                  "e.stack", "e.verdict", "e.decision_id", "e.serial", "e.waiver", "e.signer",
                  "e.links"))
_ITEM = Columns(("i.kind", "i.name", "i.version", "i.digest", "i.purl", "i.environment"))
_LIVE = Columns(("l.stack", "l.start", "l.until"))
_DEPLOYMENT = _ENTRY + _LIVE
_FOUND = _DEPLOYMENT + _ITEM  # a deployed item with its deployment
_RESULT = Columns(("r.seq", "r.policy", "r.kind", "r.name", "r.file", "r.line", "r.severity",
                   "r.waived", "r.waiver"))
assert len(_ENTRY.names) == len(EntrySummary._fields) - 1  # trust_version: from the pin
assert len(_ITEM.names) == len(DeployedItem._fields)

_SEQ, _LINKS = _ENTRY.at("e.seq"), _ENTRY.at("e.links")
_new = tuple.__new__
_D_STACK, _D_START, _D_UNTIL = (_DEPLOYMENT.at(c) for c in _LIVE.names)
_F_ITEM = _FOUND.span(_ITEM)
_F_NAME, _F_VERSION, _F_ENVIRONMENT = (_FOUND.at(c) for c in ("i.name", "i.version",
                                                               "i.environment"))
_R_SEQ = _RESULT.at("r.seq")
_R_HIT = slice(_RESULT.at("r.policy"), len(_RESULT.names))
_R_WAIVED = _RESULT.at("r.waived")


def _links(text: str, parsed: dict[str, tuple[Link, ...]] | None = None) -> tuple[Link, ...]:
    """The links column; `parsed` caches it (thousands of applies share two links)."""
    if parsed is not None and text in parsed:
        return parsed[text]
    links = tuple(Link(role, target, seq) for role, (target, seq)
                  in sorted(json.loads(text).items()))
    if parsed is not None:
        parsed[text] = links
    return links


Names = Callable[[EntrySummary], EntrySummary] | None  # see LedgerIndex.names


def _summary(row: Sequence[Any], parsed: dict[str, tuple[Link, ...]] | None = None,
             names: Names = None) -> EntrySummary:
    # tuple.__new__ is what EntrySummary(...) does, without the keyword handling: a broad search
    # builds thousands of these.
    summary: EntrySummary = _new(EntrySummary, (*row[_SEQ:_LINKS], _links(row[_LINKS], parsed),
                                                None))
    return names(summary) if names is not None else summary


def _entries(index: LedgerIndex, seqs: Iterable[int]) -> dict[int, EntrySummary]:
    db = index.db
    wanted = sorted(set(seqs))
    found: dict[int, EntrySummary] = {}
    for start in range(0, len(wanted), 500):
        chunk = wanted[start:start + 500]
        marks = ",".join("?" * len(chunk))
        for row in db.execute(f"SELECT {_ENTRY.sql} FROM entries e WHERE e.seq IN "
                              f"({marks})", chunk):
            found[int(row[_SEQ])] = _summary(row, None, index.names)
    return found


def resolve_entry(index: LedgerIndex, reference: str) -> int:
    """The seq of ENTRY (engine.ledger.reference); QueryError when it names no entry or
    several."""
    ref = parse_entry_ref(reference)
    count = int(index.db.execute("SELECT COUNT(*) FROM entries").fetchone()[0])
    if ref.seq is not None:
        if 1 <= ref.seq <= count:
            return ref.seq
        raise no_such_seq(ref.seq, count)
    bounds = (ref.low, ref.low + "~")
    found = index.db.execute("SELECT seq FROM entries WHERE hash >= ? AND hash < ? LIMIT 2",
                             bounds).fetchall()
    if len(found) == 1:
        return int(found[0][0])
    many = index.db.execute("SELECT COUNT(*) FROM entries WHERE hash >= ? AND hash < ?",
                            bounds).fetchone()[0] if found else 0
    raise not_one_match(ref, int(many))


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
        values.append(seconds(start))
    if end is not None:
        clauses.append("e.epoch <= ?")
        values.append(seconds(end))
    where = " WHERE " + " AND ".join(clauses) if clauses else ""
    rows = index.db.execute(f"SELECT {_ENTRY.sql} FROM entries e{where} ORDER BY e.seq",
                            values)
    return LogResult(stack, type, utc(start) if start else None, utc(end) if end else None,
                     tuple(_summary(r, None, index.names) for r in rows))


def show(index: LedgerIndex, reference: str) -> ShowResult:
    """One entry (seq or hash prefix): its fields, its files with sizes and digests (read from
    the ledger commit) and the entries it links to."""
    seq = resolve_entry(index, reference)
    summary = _entries(index, [seq])[seq]
    item = index.ledger.read(summary.commit)
    roles = {ENTRY_FILE: "entry", ENTRY_RECEIPT: "signature"}
    files = tuple(EntryFile(name, len(data), "sha256:" + hashlib.sha256(data).hexdigest(),
                            roles.get(name, "recorded"))
                  for name, data in sorted(item.files.items()))
    linked = _entries(index, [link.seq for link in summary.links if link.seq is not None])
    return ShowResult(summary, item.entry.as_json(), files,
                      tuple(linked[s] for s in sorted(linked)))


# -- at -----------------------------------------------------------------------------------------


def at(index: LedgerIndex, when: str, stack: str, now: dt.datetime | None = None) -> AtResult:
    """The apply/rollback of `stack` live at `when`, and what it deployed."""
    moment = parse_time(when, now)
    at_seconds = seconds(moment)
    live = index.db.execute(
        "SELECT seq, start, until, aibom FROM live WHERE stack = ? AND start_epoch <= ? AND "
        "(until_epoch IS NULL OR until_epoch > ?) ORDER BY start_epoch DESC, seq DESC LIMIT 1",
        (stack, at_seconds, at_seconds)).fetchone()
    if live is None:
        first = index.db.execute("SELECT seq FROM live WHERE stack = ? ORDER BY start_epoch, "
                                 "seq LIMIT 1", (stack,)).fetchone()
        summary = _entries(index, [first[0]])[first[0]] if first else None
        return AtResult(stack, utc(moment), None, None, None, None, (), summary)
    seq, start, until, aibom = live
    items = tuple(DeployedItem(*r) for r in index.db.execute(
        f"SELECT {_ITEM.sql} FROM deployed d JOIN items i ON i.id = d.item WHERE d.seq = ? "
        "ORDER BY i.kind, i.name, i.version, i.environment", (seq,)))
    return AtResult(stack, utc(moment), _entries(index, [seq])[seq], start, until, aibom,
                    items, None)


# -- diff ---------------------------------------------------------------------------------------


def diff(index: LedgerIndex, first: str, second: str, stack: str | None = None,
         now: dt.datetime | None = None) -> DiffResult:
    """What changed between two deployments: ENTRY ENTRY (apply or rollback entries), or, with
    `stack`, TIME TIME (the deployments of that stack live then)."""
    if stack is None:
        seqs = [resolve_entry(index, first), resolve_entry(index, second)]
    else:
        seqs = []
        for when in (first, second):
            live = at(index, when, stack, now)
            if live.entry is None:
                raise QueryError(f"nothing was deployed to stack {stack} at {live.time}")
            seqs.append(live.entry.seq)
    return deployment_diff(index, seqs[0], seqs[1], _entries(index, seqs))


# -- search -------------------------------------------------------------------------------------


Span = tuple[int, str, str, str | None]  # seq, stack, live from, live until


def _merge(spans: Iterable[Span]) -> tuple[LiveRange, ...]:
    """Per stack, deployments whose intervals touch (one ends when the next begins) merge."""
    by_stack: dict[str, list[Span]] = {}
    for span in spans:
        by_stack.setdefault(span[1], []).append(span)
    ranges: list[LiveRange] = []
    for stack in sorted(by_stack):
        runs: list[tuple[str, str | None, list[int]]] = []
        for seq, _, start, until in sorted(by_stack[stack], key=lambda s: (s[2], s[0])):
            if runs and runs[-1][1] == start:
                runs[-1] = (runs[-1][0], until, runs[-1][2])
                runs[-1][2].append(seq)
            else:
                runs.append((start, until, [seq]))
        ranges += [LiveRange(stack, start, until, tuple(seqs)) for start, until, seqs in runs]
    return tuple(ranges)


def _search_items(index: LedgerIndex, field: str, value: str, where: str,
                  values: Sequence[Any], limit: int | None) -> SearchResult:
    """Two queries: every matching deployment's seq and live interval (for the total and the
    merged ranges), then the matching items of the first `limit` of them with their entries:
    building a row per matching deployment is most of a broad search's time."""
    spans: list[Span] = sorted(index.db.execute(
        "SELECT DISTINCT d.seq, l.stack, l.start, l.until FROM items i "
        f"JOIN deployed d ON d.item = i.id JOIN live l ON l.seq = d.seq WHERE {where}",
        values).fetchall())
    page = spans if limit is None else spans[:limit]
    rows: list[Any] = []
    if limit is None or len(page) == len(spans):
        rows = _item_rows(index, where, values)
    elif page:
        last = page[-1][0]  # the page is the matches up to this seq
        rows = _item_rows(index, f"({where}) AND d.seq <= ?", [*values, last])
    parsed: dict[str, tuple[Link, ...]] = {}
    found: list[Deployment] = []
    current: tuple[Sequence[Any], list[DeployedItem]] | None = None
    # Sorted here rather than by SQLite, whose temporary B-tree over thousands of wide rows
    # costs a third of a broad search.
    rows.sort(key=lambda r: (r[_SEQ], r[_F_NAME], r[_F_VERSION] or "",
                             r[_F_ENVIRONMENT] or ""))
    for row in rows:
        if current is None or current[0][_SEQ] != row[_SEQ]:
            if current is not None:
                found.append(_deployment(current[0], parsed, index.names, current[1]))
            current = (row, [])
        current[1].append(DeployedItem(*row[_F_ITEM]))
    if current is not None:
        found.append(_deployment(current[0], parsed, index.names, current[1]))
    return SearchResult(field, value, (), tuple(found), _merge(spans), len(spans), limit)


def _item_rows(index: LedgerIndex, where: str, values: Sequence[Any]) -> list[Any]:
    return index.db.execute(
        f"SELECT {_FOUND.sql} FROM items i "
        "JOIN deployed d ON d.item = i.id JOIN entries e ON e.seq = d.seq "
        f"JOIN live l ON l.seq = d.seq WHERE {where}", values).fetchall()


def _deployment(row: Sequence[Any], parsed: dict[str, tuple[Link, ...]], names: Names,
                matched: Sequence[DeployedItem] = ()) -> Deployment:
    return Deployment(_summary(row, parsed, names), row[_D_STACK], row[_D_START], row[_D_UNTIL],
                      tuple(matched))


def _search_results(index: LedgerIndex, field: str, value: str, where: str,
                    values: Sequence[Any], limit: int | None,
                    to_targets: bool = False) -> SearchResult:
    """The decision entries with matching results, then (one query) the applies and
    rollbacks resting on them; with `to_targets`, only those that deployed what a matching
    result is about (a waiver of a model's licence did not run on a stack without that
    model, though the stack's decision, made for the whole repo, used it)."""
    found = index.db.execute(
        f"SELECT {_RESULT.sql} FROM results r WHERE {where} ORDER BY r.seq, r.waived, "
        "r.kind, r.name, r.file, r.line", values).fetchall()
    approved = _approvers(index, {int(row[_R_SEQ]) for row in found if row[_R_WAIVED]})
    hits: dict[int, list[PolicyHit]] = {}
    for row in found:
        policy, kind, name, file, line, severity, waived, waiver = row[_R_HIT]
        seq = int(row[_R_SEQ])
        hits.setdefault(seq, []).append(
            PolicyHit(policy, kind, name, file, line, severity, bool(waived), waiver,
                      approved.get((seq, waiver), ()) if waived else ()))
    summaries = _entries(index, hits)
    decisions = tuple(DecisionHit(summaries[s], tuple(hits[s])) for s in sorted(hits))
    parsed: dict[str, tuple[Link, ...]] = {}
    rows = index.db.execute(
        f"SELECT {_DEPLOYMENT.sql} FROM entries e JOIN live l ON l.seq = e.seq "
        f"WHERE e.decision_seq IN (SELECT DISTINCT r.seq FROM results r WHERE {where})",
        values).fetchall()
    rows.sort(key=lambda r: r[_SEQ])  # cheaper than SQLite's temporary B-tree (see above)
    if to_targets:
        rows = _deploying_targets(index, rows, hits)
    spans = [(row[_SEQ], row[_D_STACK], row[_D_START], row[_D_UNTIL]) for row in rows]
    page = rows if limit is None else rows[:limit]
    deployments = tuple(_deployment(row, parsed, index.names) for row in page)
    if field == "waiver":
        deployments = _with_terms(index, value, deployments)
    return SearchResult(field, value, decisions, deployments, _merge(spans), len(rows), limit)


def _chunks(seqs: Iterable[int]) -> Iterator[list[int]]:
    """At most 500 at a time: SQLite binds at most 999 parameters at once."""
    ordered = sorted(set(seqs))
    for start in range(0, len(ordered), 500):
        yield ordered[start:start + 500]


def _approvers(index: LedgerIndex, decisions: Iterable[int]
               ) -> dict[tuple[int, str], tuple[str, ...]]:
    """(decision seq, waiver) -> the approvers that decision verified."""
    out: dict[tuple[int, str], tuple[str, ...]] = {}
    for chunk in _chunks(decisions):
        for seq, waiver, approvers in index.db.execute(
                f"SELECT seq, waiver, approvers FROM approvals WHERE seq IN "
                f"({','.join('?' * len(chunk))})", chunk):
            out[int(seq), str(waiver)] = tuple(json.loads(approvers))
    return out


def _with_terms(index: LedgerIndex, waiver: str, deployments: tuple[Deployment, ...]
                ) -> tuple[Deployment, ...]:
    """Each deployment with `waiver` as it stood: approvers from its decision, expiry and
    validity from its receipt's re-judgement (None when the receipt has none)."""
    decision_of = {d.entry.seq: next((link.seq for link in d.entry.links
                                      if link.role == "decision"), None) for d in deployments}
    approved = _approvers(index, (s for s in decision_of.values() if s is not None))
    terms: dict[int, tuple[str | None, bool]] = {}
    for chunk in _chunks(decision_of):
        for seq, expires, valid in index.db.execute(
                f"SELECT seq, expires, valid FROM terms WHERE waiver = ? AND seq IN "
                f"({','.join('?' * len(chunk))})", [waiver, *chunk]):
            terms[int(seq)] = (expires, bool(valid))
    out = []
    for found in deployments:
        decision = decision_of[found.entry.seq]
        expires, valid = terms.get(found.entry.seq, (None, None))
        use = WaiverUse(waiver, approved.get((decision, waiver), ()) if decision else (),
                        expires, valid)
        out.append(found._replace(waivers=(use,)))
    return tuple(out)


def _deploying_targets(index: LedgerIndex, rows: list[Any],
                       hits: dict[int, list[PolicyHit]]) -> list[Any]:
    """The deployment rows whose stack, or whose deployed models, datasets or environments,
    are what their decision's matching results are about."""
    decision_of: dict[int, int] = {}
    deployed: dict[int, set[tuple[str, str]]] = {}
    for chunk in _chunks(r[_SEQ] for r in rows):
        marks = ",".join("?" * len(chunk))
        decision_of.update(index.db.execute(
            f"SELECT seq, decision_seq FROM entries WHERE seq IN ({marks})", chunk))
        # Models, datasets and environments (what a waiver targets) belong to no environment.
        for seq, kind, name in index.db.execute(
                "SELECT d.seq, i.kind, i.name FROM deployed d JOIN items i ON i.id = d.item "
                f"WHERE d.seq IN ({marks}) AND i.environment IS NULL", chunk):
            deployed.setdefault(int(seq), set()).add((str(kind), str(name)))
    kept = []
    for row in rows:
        targets = {((hit.kind or "").lower(), hit.name or "")
                   for hit in hits.get(decision_of.get(row[_SEQ], -1), [])}
        stack = row[_D_STACK]
        if ("stack", stack) in targets or targets & deployed.get(row[_SEQ], set()):
            kept.append(row)
    return kept


_DIGEST = re.compile(r"^(sha256:)?[0-9a-f]{4,64}$")


def search(index: LedgerIndex, *, package: str | None = None, model: str | None = None,
           policy: str | None = None, waiver: str | None = None,
           limit: int | None = None) -> SearchResult:
    """Exactly one of: `package` NAME, NAME@VERSION or NAME with PEP 440 specifiers (name
    matched PEP 503-normalised, versions as engine.ledger.package_query reads them); `model`
    NAME, or DIGEST (`sha256:` + 4 to 64 hex digits, a prefix; or 64 bare hex digits);
    `policy` ID (case-insensitive); `waiver` NAME. Package and model searches return the
    deployments that deployed it; policy and waiver searches the decision entries that
    reported or used it and the deployments that rested on those decisions. `limit`: list
    at most that many deployments (the first by seq); the total and the ranges cover all."""
    given = {k: v for k, v in (("package", package), ("model", model), ("policy", policy),
                               ("waiver", waiver)) if v is not None}
    if len(given) != 1:
        raise QueryError("search for exactly one of --package, --model, --policy, --waiver")
    [(field, raw)] = given.items()
    value = raw.strip()
    if not value:
        raise QueryError(f"--{field} needs a value")
    if field == "package":
        query = parse_package_query(value)
        key = normalise(query.name)
        where, values = "i.kind = 'package' AND i.key = ?", [key]
        if query.specifier is not None or query.exact is not None:
            # The few distinct versions are judged here (PEP 440), the rows filtered by SQL.
            wanted = [v for (v,) in index.db.execute(
                "SELECT DISTINCT version FROM items WHERE kind = 'package' AND key = ?", [key])
                if query.matches(v)]
            where += f" AND i.version IN ({','.join('?' * len(wanted))})" if wanted else " AND 0"
            values += wanted
        return _search_items(index, field, value, where, values, limit)
    if field == "model":
        lowered = value.lower()
        if lowered.startswith("sha256:") or re.fullmatch(r"[0-9a-f]{64}", lowered):
            if not _DIGEST.match(lowered):
                raise QueryError(f"--model {raw!r} is not a sha256 digest (sha256: and at "
                                 "least 4 hex digits)")
            low = "sha256:" + lowered.removeprefix("sha256:")
            return _search_items(index, field, value, "i.kind = 'model' AND i.digest >= ? "
                                 "AND i.digest < ?", [low, low + "~"], limit)
        return _search_items(index, field, value, "i.kind = 'model' AND i.key = ?",
                             [normalise(value)], limit)
    if field == "policy":
        return _search_results(index, field, value, "r.policy = ? COLLATE NOCASE", [value],
                               limit)
    return _search_results(index, field, value, "r.waiver = ?", [value], limit,
                           to_targets=True)


# -- reindex ------------------------------------------------------------------------------------


def reindex(index: LedgerIndex) -> Reindexed:
    """Rebuild the index from the ledger, whatever it holds, and count what it now holds."""
    done = index.reindex()
    counts = [int(index.db.execute(f"SELECT COUNT(*) FROM {table}").fetchone()[0])
              for table in ("entries", "live", "deployed", "results")]  # deployed: item rows
    entries, deployments, items, results = counts
    return Reindexed(str(index.path), done.kind, done.reason, done.seconds, entries,
                     deployments, items, results, index.state().rebuilds)
