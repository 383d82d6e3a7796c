"""`audit verify`: the ledger is a gap-free chain of signed entries in time order, about this
repository (every entry's revision a commit here, every statement naming this repository, so
a ledger fetched from another repository and signed by the same key is refused), every entry
and recorded receipt verifies under the trust in force at the entry's time, every apply rests
on a passing decision and an AIBOM receipt of its revision and the manifests it records add up
to its digest, and the last verified tip (the checkpoint) is still in the chain.

Fails closed and names the first bad entry: a problem further down is never hidden behind a
later one, and nothing after a bad entry is called good.

Checks that belong to a stage above the ledger (the deploy stage owns the format of the
manifests an apply records) are handed in as `entry_checks`: callables that raise Refused with
the reason. There is no default: a caller states what it checks.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from engine.attest import statement as st
from engine.attest.files import covered_by, is_receipt
from engine.attest.trust import TrustPolicy
from engine.attest.verify import Expectation, stamped_time, verify_receipt
from engine.clock import instant
from engine.errors import GovopsError, Refused
from engine.ledger.entry import APPROVAL, ENTRY_FILE, ENTRY_RECEIPT, StoredEntry, sha256
from engine.ledger.rewrite import checkpoint_problem
from engine.ledger.store import Ledger, LedgerError, stored
from engine.ledger.verdict import require_passing
from engine.parallel import forked_map
from engine.repo.ref_store import Record
from engine.trust.history import Anchor


@dataclass(frozen=True)
class ChainProblem:
    seq: int | None
    commit: str
    reason: str

    def __str__(self) -> str:
        where = f"entry #{self.seq}" if self.seq is not None else "ledger commit"
        return f"{where} ({self.commit[:12]}): {self.reason}"


@dataclass(frozen=True)
class ChainReport:
    verified: int
    signatures: int
    tip: StoredEntry | None
    problem: ChainProblem | None


EntryCheck = Callable[[StoredEntry], None]  # raises Refused naming what is wrong
TrustAt = Callable[[str], TrustPolicy]  # who was trusted to sign at an RFC 3339 time


class _Bad(Exception):
    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


def _passes(decision: StoredEntry, verdicts: dict[str, str | None]) -> str | None:
    """Why a decision entry does not pass (None when it does), asked once per decision:
    thousands of applies rest on a few hundred decisions."""
    if decision.hash not in verdicts:
        try:
            require_passing(decision)
            verdicts[decision.hash] = None
        except GovopsError as exc:  # DecisionFailed or Refused: either way it passes nothing
            verdicts[decision.hash] = str(exc)
    return verdicts[decision.hash]


def _check_links(item: StoredEntry, by_hash: dict[str, StoredEntry],
                 verdicts: dict[str, str | None]) -> None:
    entry = item.entry
    for role, target in entry.links.items():
        if target not in by_hash:
            raise _Bad(f"links {role} to {target[:19]}..., which is not an earlier entry")
    if entry.type in ("apply", "rollback"):
        decision = by_hash.get(entry.links.get("decision", ""))
        aibom = by_hash.get(entry.links.get("aibom", ""))
        if decision is None or decision.entry.type != "decision":
            raise _Bad(f"an {entry.type} must rest on a decision entry (links.decision)")
        failing = _passes(decision, verdicts)
        if failing is not None:
            raise _Bad(f"an {entry.type} must rest on a passing decision: {failing}")
        if aibom is None or aibom.entry.type != "aibom":
            raise _Bad(f"an {entry.type} must rest on an AIBOM entry (links.aibom)")
        for other in (decision, aibom):
            if other.entry.revision != entry.revision:
                raise _Bad(f"rests on entry #{other.entry.seq} about another revision")


def check_digests(item: StoredEntry) -> None:
    """Refused unless the entry's files are exactly those its digests name, unchanged."""
    recorded, digests = item.recorded, item.entry.digests
    if set(recorded) != set(digests):
        raise Refused(f"records files {sorted(recorded)} but its digests name {sorted(digests)}")
    for name, data in sorted(recorded.items()):
        if sha256(data) != digests[name]:
            raise Refused(f"{name} does not match its digest in the entry")


def check_receipts(item: StoredEntry, commit: str | None, trust_at: TrustAt,
                   trust_config: Callable[[], Any], repository: str | None = None) -> int:
    """The entry's own receipt, then every receipt it records over the file it covers, all
    about `commit` (of `repository`, as the statements name it, when given: None only where
    there is no repository, an evidence pack), under the signers trusted when the entry was
    made; Refused (a recorded receipt's reason prefixed with its name) or the number of
    signatures checked. Shared with the deploy gate.

    When was it made: its stated time, unless the trust then required timestamps, in which case
    the time a trusted TSA saw its signature (within the tolerance of the stated time). So a
    key revoked at T cannot sign later and claim an earlier time."""
    receipt = item.files.get(ENTRY_RECEIPT)
    if receipt is None:
        raise Refused("the entry is not signed (no entry.sigstore.json)")
    stated = item.entry.time
    expect = Expectation(st.LEDGER_ENTRY, item.files[ENTRY_FILE], commit, stated,
                         repository=repository)
    seen = stamped_time(receipt, trust_at(stated), expect)
    trust = trust_at(seen or stated)  # the signer is judged when the TSA saw it
    verify_receipt(receipt, trust, dataclasses.replace(expect, stamped=seen), trust_config)
    checked = 1
    recorded = item.recorded
    for name in sorted(n for n in recorded if is_receipt(n)):
        covered, predicate_type = covered_by(name)
        if covered not in recorded:
            raise Refused(f"{name} is recorded without {covered}")
        try:
            verify_receipt(recorded[name], trust,
                           Expectation(predicate_type, recorded[covered], commit, stated,
                                       repository=repository),
                           trust_config)
        except Refused as exc:
            raise Refused(f"{name}: {exc}") from None
        checked += 1
    return checked


def _run_checks(item: StoredEntry, entry_checks: Sequence[EntryCheck]) -> None:
    try:
        for entry_check in entry_checks:
            entry_check(item)
    except Refused as exc:
        raise _Bad(str(exc)) from None


def _nobody(moment: str) -> TrustPolicy:
    return TrustPolicy((), (), "the approvers (not given to this check)")


def _check_entry(item: StoredEntry, trust_at: TrustAt, approvers_at: TrustAt,
                 trust_config: Callable[[], Any], signatures: bool,
                 repository: str | None = None) -> int:
    """The entry's files against its digests, and (when asked) every signature in it, about
    this `repository`: an approval is signed by an approver (its signature is the approval),
    every other entry by a signer."""
    try:
        check_digests(item)
    except Refused as exc:
        raise _Bad(str(exc)) from None
    if not signatures:
        return 0
    signers = approvers_at if item.entry.type == APPROVAL else trust_at
    try:
        return check_receipts(item, item.entry.revision, signers, trust_config, repository)
    except Refused as exc:
        raise _Bad(f"signature refused: {exc}") from None


def _decoded(record: Record) -> StoredEntry | str:
    """The record's entry, or why it is not one."""
    try:
        return stored(record)
    except LedgerError as exc:
        return str(exc).split(": ", 1)[-1]


def _signatures(items: Sequence[StoredEntry | str], from_seq: int, trust_at: TrustAt,
                approvers_at: TrustAt, trust_config: Callable[[], Any], repository: str
                ) -> dict[int, int | str]:
    """position -> signatures checked, or why they are refused, for every entry from
    `from_seq` on: all of them at once, spread over the cores (engine.parallel), since no
    entry's signatures depend on another's. The walk then meets each result in chain order, so
    the first bad entry is still the one named."""
    positions = [i for i, item in enumerate(items)
                 if not isinstance(item, str) and item.entry.seq >= from_seq]

    def check(k: int) -> int | str:
        item = items[positions[k]]
        assert not isinstance(item, str)
        try:
            return _check_entry(item, trust_at, approvers_at, trust_config, True, repository)
        except _Bad as bad:
            return bad.reason

    return dict(zip(positions, forked_map(check, len(positions)), strict=True))


def _check_ours(item: StoredEntry, ledger: Ledger, known: dict[str, bool]) -> None:
    """An entry about a revision that is not a commit here was recorded in another
    repository: a ledger fetched onto this ref from elsewhere, however well signed, says
    nothing about this one. (Its statements name the repository too: check_receipts.)"""
    revision = item.entry.revision
    if revision is None:
        return
    if revision not in known:
        known[revision] = ledger.holds_commit(revision)
    if not known[revision]:
        why = (" (this is a shallow clone: fetch the whole history, git fetch --unshallow)"
               if ledger.shallow else ": the ledger belongs to another repository")
        raise _Bad(f"is about revision {revision}, which is not a commit of this "
                   f"repository{why}")


def _check_order(item: StoredEntry, previous: StoredEntry | None) -> None:
    if previous is not None and instant(item.entry.time) < instant(previous.entry.time):
        raise _Bad(f"is dated {item.entry.time}, before entry #{previous.entry.seq} "
                   f"({previous.entry.time}): entries were reordered or back-dated")


def anchor_problem(item: StoredEntry, anchors: Sequence[Anchor]) -> str | None:
    """Why `item` is not the entry the trust root vouched for at its seq, if it is not."""
    for anchor in anchors:
        if anchor.seq == item.entry.seq and anchor.hash != item.hash:
            return (f"differs from the entry the trust root vouched for at #{anchor.seq} in "
                    f"trust version #{anchor.version} ({anchor.hash[:19]}...): the ledger was "
                    "rewritten")
    return None


def missing_anchor(length: int, anchors: Sequence[Anchor]) -> Anchor | None:
    """An anchor beyond the ledger's end: the ref was reset below what the root vouched for."""
    beyond = [a for a in anchors if a.seq > length]
    return max(beyond, key=lambda a: a.seq) if beyond else None


def check_anchors(ledger: Ledger, anchors: Sequence[Anchor]) -> None:
    """Refused unless the ledger holds every entry the trust root vouched for (what `apply`
    and `rollback` check before they trust anything the ledger says)."""
    if not anchors:
        return
    entries = ledger.entries()
    for item in entries:
        problem = anchor_problem(item, anchors)
        if problem is not None:
            raise Refused(f"ledger entry #{item.entry.seq} {problem}")
    beyond = missing_anchor(len(entries), anchors)
    if beyond is not None:
        raise Refused(f"the trust root vouched for ledger entry #{beyond.seq} (trust version "
                      f"#{beyond.version}), but the ledger ends at #{len(entries)}: it was reset")


def verify_chain(ledger: Ledger, trust_at: TrustAt, trust_config: Callable[[], Any],
                 from_seq: int = 1, *, entry_checks: Sequence[EntryCheck],
                 anchors: Sequence[Anchor] = (), approvers_at: TrustAt = _nobody,
                 accept_rewrite: bool = False) -> ChainReport:
    """Check the whole chain (signatures from `from_seq` on, each under the trust in force at
    its entry's time: `approvers_at` for approvals, `trust_at` for the rest; every entry the
    trust root vouched for in `anchors`; and the entries last verified here, unless
    `accept_rewrite`, when the operator accepts a rewrite that otherwise verifies); on success
    the checkpoint moves to the tip."""
    try:
        records = list(ledger.records())
    except GovopsError as exc:  # an object of the chain is missing or is not a commit
        return ChainReport(0, 0, None, ChainProblem(None, ledger.tip_commit() or "-", str(exc)))
    records.reverse()
    items = [_decoded(record) for record in records]
    signed = _signatures(items, from_seq, trust_at, approvers_at, trust_config,
                         ledger.repository)
    rewrite = None if accept_rewrite else checkpoint_problem(
        ledger, [item.hash if not isinstance(item, str) else "" for item in items])
    by_hash: dict[str, StoredEntry] = {}
    verdicts: dict[str, str | None] = {}
    revisions: dict[str, bool] = {}  # revision -> a commit of this repository
    previous: StoredEntry | None = None
    signatures = 0
    for position, record in enumerate(records, start=1):
        seq: int | None = None
        try:
            if len(record.parents) > 1:
                raise _Bad("is a merge; the ledger is a single chain")
            item = items[position - 1]
            if isinstance(item, str):
                raise _Bad(item)
            seq = item.entry.seq
            if seq != position:
                raise _Bad(f"has seq {seq} at position {position}: an entry was deleted, "
                           "inserted or moved")
            expected_prev = previous.hash if previous else None
            if item.entry.prev != expected_prev:
                raise _Bad(f"prev is {item.entry.prev}, but the entry before it hashes to "
                           f"{expected_prev}")
            _check_ours(item, ledger, revisions)
            _check_order(item, previous)
            _check_links(item, by_hash, verdicts)
            _run_checks(item, entry_checks)
            outcome = signed.get(position - 1)
            if isinstance(outcome, str):
                raise _Bad(outcome)
            signatures += outcome if outcome is not None else _check_entry(
                item, trust_at, approvers_at, trust_config, False)
            vouched = anchor_problem(item, anchors)
            if vouched is not None:
                raise _Bad(vouched)
            if rewrite is not None and rewrite.seq == position:  # sound, but not as verified
                raise _Bad(rewrite.reason)
        except _Bad as bad:
            return ChainReport(position - 1, signatures, previous,
                               ChainProblem(seq if seq is not None else position,
                                            record.commit, bad.reason))
        by_hash[item.hash] = item
        previous = item
    beyond = missing_anchor(len(records), anchors)
    if beyond is not None:
        return ChainReport(len(records), signatures, previous, ChainProblem(
            beyond.seq, "-" * 12, f"is missing: the trust root vouched for it in trust version "
            f"#{beyond.version}, but the ledger ends at #{len(records)} (the ref was reset)"))
    if rewrite is not None:  # the first entry that differs is beyond the end: missing
        checkpoint = ledger.checkpoint()
        return ChainReport(len(records), signatures, previous, ChainProblem(
            rewrite.seq, checkpoint.commit if checkpoint else "-" * 12, rewrite.reason))
    if previous is not None:
        ledger.save_checkpoint(previous, replace=accept_rewrite)
    elif accept_rewrite:
        ledger.forget_checkpoint()
    return ChainReport(len(records), signatures, previous, None)

