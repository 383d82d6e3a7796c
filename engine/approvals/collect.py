"""The approvals of every waiver in a revision: read from the ledger, checked against the
trust root, judged against who wrote each waiver. Fails closed: without a verified trust root
every waiver carries the reason and none is approved.

Replaying a recorded decision passes `only`: the approval entries that decision saw, so an
approval recorded since does not change what it decided.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Mapping
from typing import Any

from engine.approvals.judge import judge
from engine.approvals.verified import VerifiedApprovals
from engine.approvals.verify import CheckedApproval, check_approval
from engine.catalog import Catalog
from engine.ledger.entry import APPROVAL
from engine.ledger.store import Ledger
from engine.policy.waivers import WaiverApproval, approved_content, content_digest
from engine.trust.history import TrustHistory

Authors = Callable[[str], frozenset[str]]  # a waiver's file path -> who wrote it (emails)


def waiver_digests(catalog: Catalog) -> dict[str, str]:
    """Each waiver's name -> the digest of the content an approval must approve."""
    return {name: content_digest(approved_content(name, waiver.doc["spec"]))
            for name, waiver in catalog.objects.get("Waiver", {}).items()}


def unverifiable(catalog: Catalog, problem: str) -> dict[str, WaiverApproval]:
    """Every waiver unapproved, for `problem` (no trust root, one that does not verify)."""
    return {name: WaiverApproval(name, digest, 1, problem=problem)
            for name, digest in waiver_digests(catalog).items()}


def approvals_of(ledger: Ledger, history: TrustHistory, digests: Collection[str],
                 trust_config: Callable[[], Any], only: Collection[str] | None = None,
                 before: int | None = None, remembered: VerifiedApprovals | None = None
                 ) -> dict[str, list[CheckedApproval]]:
    """The approval entries of each content digest (of those in `only`, before entry
    `before`, when given), checked, first to last."""
    found: dict[str, list[CheckedApproval]] = {d: [] for d in digests}
    for item in ledger.entries_of(APPROVAL):
        if item.entry.details.get("digest") not in found:
            continue
        if (only is not None and item.hash not in only) or (
                before is not None and item.entry.seq >= before):
            continue
        checked = check_approval(item, history.approvers_at, trust_config, remembered,
                                 ledger.repository)
        if checked.digest in found:
            found[checked.digest].append(checked)
    return found


def waiver_approvals(catalog: Catalog, ledger: Ledger, history: TrustHistory,
                     authors: Authors, trust_config: Callable[[], Any],
                     only: Collection[str] | None = None, before: int | None = None,
                     remembered: VerifiedApprovals | None = None
                     ) -> dict[str, WaiverApproval]:
    """Each waiver's approvals, judged under the trust root's history."""
    digests = waiver_digests(catalog)
    if not digests:
        return {}
    found = approvals_of(ledger, history, set(digests.values()), trust_config, only, before,
                         remembered)
    out = {}
    waivers: Mapping[str, Any] = catalog.objects.get("Waiver", {})
    for name, digest in digests.items():
        mine = [a for a in found[digest] if a.waiver == name]
        out[name] = judge(name, digest, mine, authors(waivers[name].path),
                          history.approvals_needed, history.pin)
    return out
