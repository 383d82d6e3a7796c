"""Does a waiver have the approvals it needs?

It counts the approvals of exactly its current content that verified, one per person: an
approval whose signer names no owner cannot be told apart from its author's own and does not
count, nor does one by anybody who wrote the waiver (an author or committer of any commit that
changed its file), nor a second one by the same person. The waiver is approved once the people
counted reach the approvers' threshold in force when the last of them approved (as every
signature is judged by the trust of its time); its clock starts at the first of them.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable

from engine.approvals.verify import CheckedApproval
from engine.clock import instant
from engine.policy.waivers import WaiverApproval


def refusal(approval: CheckedApproval, authors: frozenset[str], counted: set[str]
            ) -> str | None:
    """Why `approval` does not count (None when it does), `counted` being the people whose
    approvals of the same content already counted."""
    if approval.problem is not None:
        return f"{approval.label}: {approval.problem}"
    if not approval.owners:
        return (f"{approval.label} by {approval.signer}: the trust names no owner for it, so "
                "it cannot be told apart from a self-approval")
    wrote = sorted(set(approval.owners) & authors)
    if wrote:
        return f"{approval.label} by {', '.join(wrote)}, who wrote the waiver (no self-approval)"
    if set(approval.owners) & counted:
        return f"{approval.label} by {', '.join(approval.owners)}, who already approved it"
    return None


def judge(waiver: str, digest: str, approvals: Iterable[CheckedApproval],
          authors: frozenset[str], needed_at: Callable[[str | None], int],
          trust_root: str) -> WaiverApproval:
    """The verdict on `waiver` (content `digest`) from the approval entries of that content;
    `needed_at(time)` is the approvers' threshold in force at a time (None: now)."""
    counted: set[str] = set()
    who: list[str] = []
    times: list[str] = []
    refused: list[str] = []
    entries: list[str] = []
    for approval in sorted(approvals, key=lambda a: a.seq):
        entries.append(approval.entry)
        reason = refusal(approval, authors, counted)
        if reason is not None:
            refused.append(reason)
            continue
        counted.update(approval.owners)
        who.append(approval.owners[0])
        times.append(approval.time)
    first = min(times, key=instant) if times else None
    needed = needed_at(max(times, key=instant) if times else None)
    return WaiverApproval(waiver, digest, needed, tuple(who), first, tuple(refused),
                          tuple(entries), trust_root)
