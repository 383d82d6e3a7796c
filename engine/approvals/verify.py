"""Check one approval entry: that it approves what it says (its `waiver.json` hashes to the
digest its details name) and that an approver of the trust in force signed it, judged at the
time a trusted TSA saw the signature when the trust requires timestamps, so a revoked approver
cannot back-date an approval."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from engine.approvals.record import approved_waiver
from engine.approvals.verified import Remembered, VerifiedApprovals, verification_key
from engine.attest import statement as st
from engine.errors import GovopsError, Refused
from engine.ledger.entry import APPROVAL, ENTRY_FILE, ENTRY_RECEIPT, StoredEntry
from engine.policy.waivers import content_digest

if TYPE_CHECKING:
    from engine.attest.trust import TrustPolicy

ApproversAt = Callable[[str], "TrustPolicy"]  # the approvers of the trust in force at a time


@dataclass(frozen=True)
class CheckedApproval:
    """One approval entry, checked: who signed it and when, or why it does not count."""

    entry: str  # its hash
    seq: int
    waiver: str
    digest: str
    time: str  # when it was made: its timestamp when the trust requires one, else its time
    signer: str = ""  # as the verifier names it (key keyid, or identity)
    owners: tuple[str, ...] = ()  # the people behind the signature (lowercase emails)
    problem: str | None = None

    @property
    def label(self) -> str:
        return f"approval #{self.seq}"


def check_approval_entry(item: StoredEntry) -> None:
    """Refused unless an approval entry's waiver.json is what its details say it approves
    (an entry check for `audit verify`; other entries pass)."""
    if item.entry.type != APPROVAL:
        return
    try:
        content = approved_waiver(item.recorded)
    except ValueError as exc:
        raise Refused(f"the approval {exc}") from None
    details = item.entry.details
    if content_digest(content) != details.get("digest") or content["name"] != details.get(
            "waiver"):
        raise Refused("the approval's waiver.json is not the waiver its details name")


def _still_trusted(approvers_at: ApproversAt, known: Remembered) -> bool:
    """Whether the approvers trusted at the remembered moment are those it was verified
    under; a damaged record is simply not used (it costs a verification)."""
    try:
        return approvers_at(known.time).fingerprint() == known.trust
    except (ValueError, TypeError, GovopsError):
        return False


def check_approval(item: StoredEntry, approvers_at: ApproversAt,
                   trust_config: Callable[[], Any],
                   remembered: VerifiedApprovals | None = None,
                   repository: str | None = None) -> CheckedApproval:
    """The approval, with `problem` set when it does not count (never raises for a bad one:
    the waiver's verdict says which approvals did not count and why). `remembered`: the
    verifications already made on this machine (engine.approvals.verified). `repository`:
    the approval must have been recorded in it (its statement names it), so an approval of
    the same waiver text in another repository's ledger, fetched here, counts for nothing."""
    details = item.entry.details
    found = CheckedApproval(item.hash, item.entry.seq, str(details.get("waiver")),
                            str(details.get("digest")), item.entry.time)
    try:
        check_approval_entry(item)
        receipt = item.files.get(ENTRY_RECEIPT)
        if receipt is None:
            raise Refused("it is not signed")
    except Refused as exc:
        return dataclasses.replace(found, problem=str(exc))
    # Remembered per repository too: a verification made in one repository (its statement
    # names it) says nothing in another that holds the same entry.
    about = item.entry.revision or ""
    key = verification_key(receipt, item.files[ENTRY_FILE],
                           f"{repository}@{about}" if repository is not None else about,
                           item.entry.time, approvers_at(item.entry.time).fingerprint())
    known = remembered.get(key) if remembered is not None else None
    if known is not None and _still_trusted(approvers_at, known):
        return dataclasses.replace(found, time=known.time, signer=known.signer,
                                   owners=known.owners)
    from engine.attest.verify import Expectation, stamped_time, verify_receipt

    try:
        expect = Expectation(st.LEDGER_ENTRY, item.files[ENTRY_FILE], item.entry.revision,
                             item.entry.time, repository=repository)
        seen = stamped_time(receipt, approvers_at(item.entry.time), expect)
        moment = seen or item.entry.time
        verified = verify_receipt(receipt, approvers_at(moment),
                                  dataclasses.replace(expect, stamped=seen), trust_config)
    except Refused as exc:
        return dataclasses.replace(found, problem=str(exc))
    owners = tuple(o.lower() for o in verified.owners)
    if remembered is not None and verified.keyid is not None:  # never a certificate bundle
        remembered.put(key, Remembered(moment, approvers_at(moment).fingerprint(),
                                       verified.signer, owners))
    return dataclasses.replace(found, time=moment, signer=verified.signer, owners=owners)
