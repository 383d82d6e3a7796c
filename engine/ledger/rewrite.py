"""A ledger rewritten since it was last verified or indexed: found, named, and refused.

The checkpoint remembers the last verified tip, the index the last indexed one. A ledger that
no longer holds that entry at that seq was reset or rewritten, however consistently it is
signed. What trusts the ledger's history (the audit questions, `apply`, `rollback`) refuses it
until an operator has verified the ledger as it is now and accepted it (`govops audit verify
--accept-rewrite`): a rewritten history is never served as if nothing had happened.

The message names the first entry that differs, not the checkpoint's tip: a deletion in the
middle shows as that entry, not as "the tip differs". The verified chain's commits usually stay
in the repository after a rewrite (until git gc), and the index holds every hash it indexed, so
the old and the new chain are compared entry by entry.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from engine.errors import GovopsError, Refused
from engine.ledger.store import Checkpoint, Ledger, stored

ACCEPT = "govops audit verify --accept-rewrite"


class LedgerRewritten(Refused):
    """The ledger no longer holds an entry it held when it was last verified or indexed."""


@dataclass(frozen=True)
class Rewrite:
    """The first entry that is not what it was: `entry #seq <reason>`."""

    seq: int
    reason: str

    def __str__(self) -> str:
        return f"entry #{self.seq} {self.reason}"


def difference(before: Sequence[str], after: Sequence[str], since: str) -> Rewrite | None:
    """Where the chain `before` (hashes, first to last) stops being the start of `after`;
    None when it is. `since`: when `before` was seen ("verified", "indexed")."""
    for seq, old in enumerate(before, start=1):
        if seq > len(after):
            return Rewrite(seq, f"is missing: the ledger was {since} up to #{len(before)} but "
                                f"now ends at #{len(after)} (the ref was reset)")
        if after[seq - 1] != old:
            return Rewrite(seq, f"differs from the one {since} (it was {old[:19]}..., it is "
                                f"{after[seq - 1][:19]}...; the ledger was {since} up to "
                                f"#{len(before)})")
    return None


def verified_chain(ledger: Ledger, checkpoint: Checkpoint) -> list[str] | None:
    """The hashes of the chain the checkpoint vouches for, first to last; None when its
    commits are no longer in the repository or do not end at the checkpoint."""
    try:
        hashes = [stored(record).hash for record in ledger.records_from(checkpoint.commit)]
    except (GovopsError, KeyError, ValueError):
        return None
    hashes.reverse()
    if len(hashes) != checkpoint.seq or hashes[-1] != checkpoint.hash:
        return None
    return hashes


def checkpoint_problem(ledger: Ledger, current: Sequence[str] | None = None) -> Rewrite | None:
    """The first entry that is not as it was when the ledger was last verified, or None when
    the ledger still holds the checkpoint's entry. `current`: the ledger's hashes, first to
    last, when the caller has them; otherwise only the entries from the tip down to the
    checkpoint are read (usually none: appends move the checkpoint)."""
    checkpoint = ledger.checkpoint()
    if checkpoint is None:
        return None
    if current is None:
        for record in ledger.records():
            item = stored(record)
            if item.entry.seq <= checkpoint.seq:
                if item.entry.seq == checkpoint.seq and item.hash == checkpoint.hash:
                    return None
                break
        current = [item.hash for item in ledger.entries()]
    elif len(current) >= checkpoint.seq and current[checkpoint.seq - 1] == checkpoint.hash:
        return None
    before = verified_chain(ledger, checkpoint)
    found = difference(before, current, "verified") if before is not None else None
    if found is not None:
        return found
    if len(current) < checkpoint.seq:
        return Rewrite(checkpoint.seq, f"is missing: the ledger was verified up to "
                                       f"#{checkpoint.seq} but now ends at #{len(current)} "
                                       "(the ref was reset)")
    return Rewrite(checkpoint.seq, f"differs from the verified checkpoint "
                                   f"({checkpoint.hash[:19]}...): the verified chain is no "
                                   "longer in this repository to tell whether an earlier "
                                   "entry differs too")


def refuse_rewritten(ledger: Ledger) -> None:
    """LedgerRewritten unless the ledger still holds the last verified tip."""
    problem = checkpoint_problem(ledger)
    if problem is not None:
        raise LedgerRewritten(rewritten(problem, "verified"))


def rewritten(problem: Rewrite, since: str) -> str:
    return (f"the ledger was rewritten since it was last {since}: {problem}; nothing is "
            f"answered or deployed from it until `{ACCEPT}` verifies it as it is now")
