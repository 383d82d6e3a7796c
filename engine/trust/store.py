"""The versions of the trust root on `refs/govops/trust`: one commit per version whose tree
holds `root.json` and `targets.json`, appended with compare-and-swap like the ledger.

The ref lives beside the ledger in the governed repo, so a clone that fetches `refs/govops/*`
has both; what makes it trustworthy is not where it lives but that every version is signed by
the root keys of the version before it, from a root pinned out of band (`verify.py`).
"""

from __future__ import annotations

from dataclasses import dataclass

from engine.errors import GovopsError
from engine.repo import GitRepo
from engine.repo.ref_store import RecordStore, RefMoved
from engine.trust.document import ROOT_FILE, TARGETS_FILE

TRUST_REF = "refs/govops/trust"


class TrustMoved(GovopsError):
    """The trust ref moved since the change was proposed: propose it again on the new tip."""


@dataclass(frozen=True)
class StoredVersion:
    """A version as stored: its position (1 = the first root), its commit and its files."""

    seq: int
    commit: str
    parents: tuple[str, ...]
    files: dict[str, bytes]
    others: tuple[str, ...]  # tree entries that are not plain files (never written by govops)

    @property
    def root(self) -> bytes | None:
        return self.files.get(ROOT_FILE)

    @property
    def targets(self) -> bytes | None:
        return self.files.get(TARGETS_FILE)


class TrustStore:
    def __init__(self, repo: GitRepo) -> None:
        self._store: RecordStore = repo.records(TRUST_REF)

    def tip(self) -> str | None:
        return self._store.tip()

    def versions(self) -> list[StoredVersion]:
        """Every version, first to last, following first parents from the tip."""
        records = []
        commit = self._store.tip()
        while commit is not None:
            record = self._store.read(commit)
            records.append(record)
            commit = record.parents[0] if record.parents else None
        records.reverse()
        return [StoredVersion(i, r.commit, r.parents, dict(r.files), r.others)
                for i, r in enumerate(records, start=1)]

    def append(self, root: bytes, targets: bytes, parent: str | None, message: str,
               seconds: int) -> str:
        try:
            return self._store.append({ROOT_FILE: root, TARGETS_FILE: targets}, parent,
                                      message, seconds)
        except RefMoved:
            raise TrustMoved(f"{TRUST_REF} moved while this change was being made: make it "
                             "again on the current trust") from None
