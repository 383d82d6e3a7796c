"""Waiver approvals for tests: the real `govops approve`, a trust root whose approver is
`legal@acme.test` (tests.support.trust), and an approval appended at a chosen time, the way an
approver whose clock says that time would append it (no TSA: nothing else fixes the time)."""

from __future__ import annotations

from pathlib import Path

from engine.approvals.record import approval_draft
from engine.attest.signers import KeySigner
from engine.catalog import load_catalog
from engine.ledger.entry import StoredEntry
from engine.ledger.store import Ledger
from engine.policy.waivers import approved_content
from engine.repo import open_repo
from engine.trust.store import TrustStore
from tests.support.cli import Run, govops
from tests.support.trust import Keys, trusted

LEGAL = "trust-legal"  # the approver key `trusted` makes, held by legal@acme.test


def approve(repo: Path, waiver: str, key: Path, *args: str) -> Run:
    return govops("approve", "--repo", str(repo), waiver, "--key", str(key), *args)


def approver_key(folder: Path) -> Path:
    return Keys(folder).key(LEGAL)


def approve_all(repo: Path, folder: Path, signer: Path | None = None) -> list[str]:
    """Give `repo` a trust root unless it has one (keys in `folder`, `signer` its signer) and
    have legal@acme.test approve every waiver at HEAD; the names approved."""
    if TrustStore(open_repo(repo)).tip() is None:
        trusted(repo, folder, signer or Keys(folder).make("trust-ci").pub("trust-ci"))
    git = open_repo(repo)
    names = sorted(load_catalog(git, git.snapshot("HEAD")).objects.get("Waiver", {}))
    for name in names:
        run = approve(repo, name, approver_key(folder))
        assert run.exit_code == 0, run.stderr
    return names


def approve_at(repo: Path, waiver: str, key: Path, moment: str, rev: str = "HEAD") -> StoredEntry:
    """Append an approval of `waiver` (as at `rev`) signed by `key`, dated `moment`, with no
    check of who signs: what a dishonest or mistaken approver's own program could append."""
    git = open_repo(repo)
    snapshot = git.snapshot(rev)
    spec = load_catalog(git, snapshot).objects["Waiver"][waiver].doc["spec"]
    commit = snapshot.info.commit
    assert commit is not None
    return Ledger(git).append(approval_draft(approved_content(waiver, spec), commit),
                              KeySigner(key), "test approver", moment)
