"""in-toto Statement v1 for govops receipts: what was signed, about which commit and files.

Subjects are the git commit and the sha256 of every file the receipt covers, so a verifier
holding the file and the commit can tell the receipt is about exactly them. The payload is
sorted-key compact JSON: the signature covers these exact bytes, and the same statement always
serialises the same way.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

STATEMENT_TYPE = "https://in-toto.io/Statement/v1"
PAYLOAD_TYPE = "application/vnd.in-toto+json"

AIBOM = "https://cyclonedx.org/bom"
DECISION = "https://govops.dev/attestation/decision/v1"
DEPLOYMENT = "https://govops.dev/attestation/deployment/v1"
DRIFT = "https://govops.dev/attestation/drift/v1"  # what `govops drift` found
LEDGER_ENTRY = "https://govops.dev/attestation/ledger-entry/v1"
PREDICATE_TYPES = (AIBOM, DECISION, DEPLOYMENT, DRIFT, LEDGER_ENTRY)


@dataclass(frozen=True)
class Covered:
    """A file a receipt covers: its name (as written next to the receipt) and bytes."""

    name: str
    data: bytes

    @property
    def sha256(self) -> str:
        return hashlib.sha256(self.data).hexdigest()


def statement(predicate_type: str, predicate: Mapping[str, Any], repository: str,
              commit: str | None, covered: list[Covered]) -> dict[str, Any]:
    """A statement about `commit` (when there is one) and the covered files."""
    if predicate_type not in PREDICATE_TYPES:
        raise ValueError(f"unknown predicate type {predicate_type}")
    subjects: list[dict[str, Any]] = []
    if commit is not None:
        subjects.append({"name": f"{repository}@{commit}", "digest": {"gitCommit": commit}})
    subjects += [{"name": f.name, "digest": {"sha256": f.sha256}} for f in covered]
    return {"_type": STATEMENT_TYPE, "subject": subjects, "predicateType": predicate_type,
            "predicate": dict(predicate)}


def payload(document: Mapping[str, Any]) -> bytes:
    return json.dumps(document, sort_keys=True, separators=(",", ":"),
                      ensure_ascii=False).encode("utf-8")
