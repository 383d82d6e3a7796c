"""ENTRY|COMMIT|TIME: which earlier deployment of a Stack `rollback --to` names.

`sha256:<hex>` and plain numbers are entries (engine.ledger.reference); TIME forms
(engine.clock) are times, resolved by the ledger's liveness rule (an apply or rollback is live
from its time until the next one of the stack); anything else is a git revision (its latest
apply of the stack) or an entry hash prefix, and must not be both. Unknown: exit 2.
"""

from __future__ import annotations

import datetime as dt

from engine.clock import TimeError, epoch, parse_time, seconds, utc
from engine.errors import GovopsError, RevisionError
from engine.ledger.entry import DEPLOYING, StoredEntry
from engine.ledger.reference import QueryError, parse_entry_ref, with_prefix
from engine.ledger.store import Ledger
from engine.repo import GitRepo


class UnknownTarget(GovopsError):
    """`--to` names no apply/rollback of the stack (exit 2)."""


def deployments(entries: list[StoredEntry], stack: str) -> list[StoredEntry]:
    return [e for e in entries if e.entry.type in DEPLOYING and e.entry.stack == stack]


def live_at(deployed: list[StoredEntry], seconds: int) -> StoredEntry | None:
    """The apply/rollback live at `seconds`: from its time (inclusive) until the next one of the
    stack (exclusive); were times to go backwards, the interval that started last wins."""
    live: list[tuple[int, int, StoredEntry]] = []
    for position, item in enumerate(deployed):
        start = epoch(item.entry.time)
        until = epoch(deployed[position + 1].entry.time) if position + 1 < len(deployed) \
            else None
        if start <= seconds and (until is None or until > seconds):
            live.append((start, item.entry.seq, item))
    return max(live, key=lambda t: (t[0], t[1]))[2] if live else None


def _by_entry(ledger: Ledger, reference: str, stack: str) -> StoredEntry:
    try:
        item = ledger.find(reference)
    except QueryError as exc:
        raise UnknownTarget(f"--to {reference!r}: {exc}") from None
    if item.entry.type not in DEPLOYING or item.entry.stack != stack:
        raise UnknownTarget(f"--to {reference!r}: entry #{item.entry.seq} is a "
                            f"{item.entry.type} entry of "
                            f"{'stack ' + item.entry.stack if item.entry.stack else 'no stack'}"
                            f", not an apply or rollback of stack {stack}")
    return item


def _by_commit(deployed: list[StoredEntry], commit: str, reference: str,
               stack: str) -> StoredEntry:
    found = [e for e in deployed if e.entry.type == "apply" and e.entry.revision == commit]
    if not found:
        raise UnknownTarget(f"--to {reference!r}: commit {commit} was never applied to stack "
                            f"{stack} (no apply entry in the ledger)")
    return found[-1]


def _commit_of(repo: GitRepo, reference: str) -> str | None:
    try:
        return str(repo.resolve(reference).id)
    except (RevisionError, GovopsError, ValueError, KeyError):
        return None


def _seq_within(digits: str, entries: list[StoredEntry]) -> bool:
    return len(digits) <= 18 and 1 <= int(digits) <= len(entries)


def _hash_match(entries: list[StoredEntry], text: str) -> StoredEntry | None:
    """The one entry whose hash starts with `text`, when `text` reads as a hash prefix."""
    try:
        ref = parse_entry_ref("sha256:" + text)
    except QueryError:
        return None
    found = with_prefix(entries, ref)
    return found[0] if len(found) == 1 else None


def resolve_target(repo: GitRepo, ledger: Ledger, stack: str, to: str,
                   now: dt.datetime | None = None) -> tuple[StoredEntry, str]:
    """(the apply/rollback `to` names, how it was named); UnknownTarget (exit 2) otherwise."""
    text = to.strip()
    if not text:
        raise UnknownTarget("--to is empty: give an ENTRY, a COMMIT or a TIME")
    entries = ledger.entries()
    deployed = deployments(entries, stack)
    lowered = text.lower()
    if lowered.startswith("sha256:"):
        return _by_entry(ledger, text, stack), "entry"
    if text.isascii() and text.isdigit():
        # An entry number, unless the ledger has no such entry and git knows a commit that
        # starts with these digits (one commit id in 25 of ten characters is all digits).
        commit = None if len(text) < 4 or _seq_within(text, entries) else _commit_of(repo, text)
        if commit is None:
            return _by_entry(ledger, text, stack), "entry"
        return _by_commit(deployed, commit, text, stack), "commit"
    try:
        moment = parse_time(text, now)
    except TimeError:
        moment = None
    if moment is not None:
        item = live_at(deployed, seconds(moment))
        if item is None:
            raise UnknownTarget(f"--to {text!r}: nothing of stack {stack} was live at "
                                f"{utc(moment)} according to the ledger")
        return item, "time"
    commit = _commit_of(repo, text)
    by_hash = _hash_match(entries, lowered)
    if commit is not None and by_hash is not None:
        raise UnknownTarget(f"--to {text!r} is both a commit ({commit}) and the prefix of entry "
                            f"#{by_hash.entry.seq}: write sha256:{lowered} for the entry or "
                            "the full commit")
    if commit is not None:
        return _by_commit(deployed, commit, text, stack), "commit"
    if by_hash is not None:
        return _by_entry(ledger, "sha256:" + lowered, stack), "entry"
    raise UnknownTarget(f"--to {text!r} is neither a ledger entry, a commit of the repository "
                        "nor a time (ENTRY: a seq or sha256:<hex>; COMMIT: any git revision; "
                        "TIME: e.g. 2026-11-20T12:00:00Z)")
