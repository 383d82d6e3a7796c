"""Approval signatures already verified on this machine, so a commit does not verify (nor
import the Sigstore bundle models to verify) the same approvals again: 0.2 s of the
pre-commit hook for a repo with 50 approved waivers.

An entry is remembered only when it verified under a key of the trust root (never a
certificate bundle, whose verdict also depends on the Sigstore trust configuration), keyed
by everything the verdict is a function of: the receipt and the entry it signs, the entry's
revision and time, and the fingerprint of the approvers trusted at that time; the time the
verification settled on is stored with the fingerprint of the approvers trusted then, and
both must still match. The file lives in .git/govops, beside the ledger checkpoint and the
trust pin: whoever can write it can already move those.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from engine.atomic import write_atomically


def verification_key(receipt: bytes, entry: bytes, revision: str, time: str,
                     trust: str) -> str:
    digest = hashlib.sha256()
    for part in (receipt, entry, revision.encode(), time.encode(), trust.encode()):
        digest.update(hashlib.sha256(part).digest())
    return digest.hexdigest()


@dataclass(frozen=True)
class Remembered:
    time: str  # the moment the verification settled on (its timestamp, or the entry time)
    trust: str  # fingerprint of the approvers trusted at that moment
    signer: str
    owners: tuple[str, ...]


@dataclass
class VerifiedApprovals:
    """The remembered verifications of one repository (a JSON file; empty when absent or
    unreadable: a damaged file only costs a verification)."""

    path: Path | None
    entries: dict[str, Remembered] = field(default_factory=dict)
    changed: bool = False

    @classmethod
    def open(cls, path: Path | None) -> VerifiedApprovals:
        found: dict[str, Remembered] = {}
        if path is not None:
            try:
                raw: Any = json.loads(path.read_text())
                found = {k: Remembered(str(v["time"]), str(v["trust"]), str(v["signer"]),
                                       tuple(str(o) for o in v["owners"]))
                         for k, v in raw.items()}
            except (OSError, ValueError, KeyError, TypeError, AttributeError):
                found = {}
        return cls(path, found)

    def get(self, key: str) -> Remembered | None:
        return self.entries.get(key)

    def put(self, key: str, remembered: Remembered) -> None:
        self.entries[key] = remembered
        self.changed = True

    def save(self) -> None:
        if self.path is None or not self.changed:
            return
        self.path.parent.mkdir(parents=True, exist_ok=True)
        write_atomically(self.path, json.dumps(
            {k: {"time": v.time, "trust": v.trust, "signer": v.signer,
                 "owners": list(v.owners)} for k, v in sorted(self.entries.items())}))
        self.changed = False
