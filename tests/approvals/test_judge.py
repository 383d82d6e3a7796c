"""Judging a waiver's approvals: one count per person, never its authors, never a key the trust
names no owner for, never one whose signature failed; the threshold is the one in force when
the last counted approval was made, and the waiver's clock starts at the first."""

from __future__ import annotations

from collections.abc import Callable

from engine.approvals.judge import judge
from engine.approvals.verify import CheckedApproval

AUTHORS = frozenset({"ada@acme.test"})


def approval(seq: int, *owners: str, time: str = "2026-11-20T10:00:00Z",
             problem: str | None = None) -> CheckedApproval:
    return CheckedApproval(f"sha256:{seq:064x}", seq, "w", "sha256:d", time,
                           f"key {seq:016x}", tuple(owners), problem)


def needed(threshold: int, raised_at: str | None = None,
           before: int = 1) -> Callable[[str | None], int]:
    """A threshold that was `before` until `raised_at`, `threshold` from then (and now)."""
    def at(moment: str | None) -> int:
        if moment is None or raised_at is None or moment >= raised_at:
            return threshold
        return before
    return at


def test_two_people_meet_a_threshold_of_two_and_the_clock_starts_at_the_first() -> None:
    done = judge("w", "sha256:d", [approval(2, "bob@acme.test", time="2026-11-21T00:00:00Z"),
                                   approval(1, "legal@acme.test")], AUTHORS, needed(2), "fp")
    assert done.approved and done.approvers == ("legal@acme.test", "bob@acme.test")
    assert done.approved_at == "2026-11-20T10:00:00Z" and done.needed == 2
    assert done.entries == (f"sha256:{1:064x}", f"sha256:{2:064x}") and done.refused == ()


def test_what_does_not_count_and_why() -> None:
    done = judge("w", "sha256:d", [
        approval(1, "ada@acme.test"),
        approval(2),
        approval(3, problem="the signature does not verify under any key of the approvers"),
        approval(4, "legal@acme.test"),
        approval(5, "legal@acme.test"),
    ], AUTHORS, needed(2), "fp")
    assert not done.approved and done.approvers == ("legal@acme.test",)
    assert done.refused == (
        "approval #1 by ada@acme.test, who wrote the waiver (no self-approval)",
        f"approval #2 by key {2:016x}: the trust names no owner for it, so it cannot be told "
        "apart from a self-approval",
        "approval #3: the signature does not verify under any key of the approvers",
        "approval #5 by legal@acme.test, who already approved it")


def test_no_approval_needs_the_current_threshold() -> None:
    done = judge("w", "sha256:d", [], AUTHORS, needed(3), "fp")
    assert (done.approved, done.needed, done.approved_at, done.problem) == (False, 3, None, None)


def test_the_threshold_is_the_one_in_force_at_the_last_counted_approval() -> None:
    """Raising the threshold later does not undo a waiver approved under the old one; an
    approval made after the raise is judged by the new one."""
    raised = needed(2, raised_at="2026-12-01T00:00:00Z", before=1)
    early = judge("w", "sha256:d", [approval(1, "legal@acme.test")], AUTHORS, raised, "fp")
    assert early.approved and early.needed == 1
    late = judge("w", "sha256:d", [approval(1, "legal@acme.test", time="2026-12-02T00:00:00Z")],
                 AUTHORS, raised, "fp")
    assert not late.approved and late.needed == 2
