"""`govops approve WAIVER`: an approver signs the waiver's content into the ledger.

The approval is checked as every verifier will check it, on the signed entry itself and before
the ledger moves: signed by an approver of the verified trust root, whose key names an owner
(or whose certificate names the person), who wrote no part of the waiver and has not approved
this content already. An approval that would not count is never appended.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from engine.approvals.collect import approvals_of
from engine.approvals.judge import judge, refusal
from engine.approvals.record import approval_draft
from engine.approvals.verify import CheckedApproval, check_approval
from engine.attest.signers import SignerOptions
from engine.attest.trust_config import trust_root_loader
from engine.catalog import load_catalog
from engine.clock import utc_now
from engine.commands.trust import recording_signer, verifier_trust
from engine.errors import GovopsError, Refused
from engine.ledger.drafts import actor
from engine.ledger.entry import StoredEntry
from engine.ledger.store import Ledger
from engine.policy.waivers import WaiverApproval, approved_content, content_digest
from engine.repo import open_repo


@dataclass(frozen=True)
class ApproveOptions:
    repo: Path
    waiver: str
    signer: SignerOptions
    rev: str | None = None  # the revision whose waiver is approved (default: HEAD)
    trust_root: str | None = None


@dataclass(frozen=True)
class Approved:
    entry: StoredEntry
    revision: str
    status: WaiverApproval  # the waiver's approvals, this one included
    trust_root: str


def approve(options: ApproveOptions) -> Approved:
    repo = open_repo(options.repo)
    snapshot = repo.snapshot(options.rev or "HEAD")
    commit = snapshot.info.commit
    assert commit is not None
    waivers = load_catalog(repo, snapshot).objects.get("Waiver", {})
    waiver = waivers.get(options.waiver)
    if waiver is None:
        raise GovopsError(f"commit {commit[:12]} holds no waiver named {options.waiver!r} "
                          f"(its waivers: {', '.join(sorted(waivers)) or 'none'})")
    history = verifier_trust(repo, options.trust_root)
    content = approved_content(options.waiver, waiver.doc["spec"])
    digest = content_digest(content)
    authors = repo.written_by(commit, waiver.path).people
    trust_config = trust_root_loader(options.signer.trust_config)
    ledger = Ledger(repo)
    earlier = approvals_of(ledger, history, [digest], trust_config)[digest]
    counted = {o for a in earlier if refusal(a, authors, set()) is None for o in a.owners}
    mine: list[CheckedApproval] = []

    def vet(item: StoredEntry) -> None:
        checked = check_approval(item, history.approvers_at, trust_config)
        reason = refusal(checked, authors, counted)
        if reason is not None:
            raise Refused(f"not recorded: {reason}")
        mine[:] = [checked]

    signer = recording_signer(options.repo, options.signer)
    entry = ledger.append(approval_draft(content, commit), signer, actor(repo), utc_now(), vet)
    status = judge(options.waiver, digest, [*earlier, *mine], authors,
                   history.approvals_needed, history.pin)
    return Approved(entry, commit, status, history.pin)
