"""Signed waiver approvals for the benchmarks: a governed repo's waivers take effect only when
approved in its ledger (issue 13), so a benchmark that times a check or a ledger with waivers
gives it a trust root and has its approver, legal@acme.test (never a waiver's author), approve
each one at a chosen time."""

from __future__ import annotations

import os
from pathlib import Path

from engine.approvals.record import approval_draft
from engine.attest.keys import generate
from engine.attest.signers import KeySigner, Signer
from engine.catalog import load_catalog
from engine.commands.trust import KeyRef, Signing, trust_init
from engine.ledger.store import Ledger
from engine.policy.waivers import approved_content
from engine.repo import open_repo
from engine.trust.document import APPROVERS, SIGNERS
from engine.trust.pin import PIN_ENV
from engine.workdir import WorkDir

OWNER = "legal@acme.test"


def trusted(root: Path, signer_public: Path, issued: str) -> tuple[Path, str]:
    """A trust root for `root`: one root key that is also the approver, `signer_public` the
    signer; the root key's path and the root's pin (also set as GOVOPS_TRUST_ROOT, so that
    govops processes started later find it even after .git/govops is cleared for a cold run)."""
    root_key, root_public = generate(root.parent / f"{root.name}-trust-root")
    trust_init(Signing(root, (root_key,)), [KeyRef(root_public)], 1,
               {SIGNERS: ([KeyRef(signer_public)], 1),
                APPROVERS: ([KeyRef(root_public, owner=OWNER)], 1)},
               "2036-01-01T00:00:00Z", issued=issued)
    pin = WorkDir(root / ".git").trust_pin.read_text(encoding="utf-8").strip()
    os.environ[PIN_ENV] = pin
    return root_key, pin


def approve_waivers(root: Path, commit: str, approver: Signer | Path, moment: str) -> int:
    """Append an approval of every waiver at `commit`, signed by `approver`, dated `moment`;
    how many."""
    signer = KeySigner(approver) if isinstance(approver, Path) else approver
    git = open_repo(root)
    ledger = Ledger(git)
    waivers = load_catalog(git, git.snapshot(commit)).objects.get("Waiver", {})
    for name, waiver in sorted(waivers.items()):
        ledger.append(approval_draft(approved_content(name, waiver.doc["spec"]), commit),
                      signer, "bench approver", moment)
    return len(waivers)
