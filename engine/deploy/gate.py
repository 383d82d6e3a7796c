"""The gate before any deployment: a revision goes out only on a passing, verified decision.

The latest `decision` and the latest `aibom` entry of the commit are looked up in the ledger;
each entry's own receipt (entry.sigstore.json over entry.json) and its recorded receipts
(`decision.sigstore.json` over `decision.json`, `aibom.sigstore.json` over `aibom.cdx.json`)
must verify against the repository's trust policy (govops.yaml at HEAD) and be about that
commit, and every recorded file must match its digest in the entry. Missing or refused: exit 3.
A verified decision whose verdict is not `pass`: exit 1, naming the policies that failed.

Must never call the Pulumi engine nor write anything: it only reads the ledger.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from engine.attest.files import DECISION_FILE
from engine.attest.trust import TrustPolicy
from engine.attest.verify import Refused
from engine.errors import GovopsError
from engine.ledger.chain import check_digests, check_receipts
from engine.ledger.store import Ledger, StoredEntry


class NotAttested(Refused):
    """No decision or AIBOM entry for the revision (exit 3)."""


class DecisionFailed(GovopsError):
    """The revision's verified decision does not pass (exit 1)."""

    exit_code = 1


@dataclass(frozen=True)
class GatePassed:
    commit: str
    decision: StoredEntry
    aibom: StoredEntry


def latest(entries: list[StoredEntry], kind: str, commit: str) -> StoredEntry | None:
    found = [e for e in entries if e.entry.type == kind and e.entry.revision == commit]
    return found[-1] if found else None


def verify_entry(item: StoredEntry, commit: str, trust: TrustPolicy,
                 trust_config: Callable[[], Any]) -> None:
    """The entry's receipt, its recorded receipts and digests; Refused naming the entry."""
    where = f"{item.entry.type} entry #{item.entry.seq} ({item.hash[:19]}...)"
    try:
        if check_receipts(item, commit, trust, trust_config) == 1:  # its own receipt only
            raise Refused("it records no receipt")
        check_digests(item)
    except Refused as exc:
        raise Refused(f"{where} does not verify: {exc}") from None


def failed_policies(decision_text: bytes) -> list[str]:
    """Ids of the policies with a deny result that is not waived."""
    try:
        doc = json.loads(decision_text)
    except ValueError:
        return []
    ids = {str(r.get("id")) for r in doc.get("results", [])
           if isinstance(r, dict) and r.get("severity") == "deny" and not r.get("waived")}
    return sorted(ids)


def run_gate(ledger: Ledger, commit: str, trust: TrustPolicy,
             trust_config: Callable[[], Any]) -> GatePassed:
    entries = ledger.entries()
    decision = latest(entries, "decision", commit)
    aibom = latest(entries, "aibom", commit)
    missing = [kind for kind, item in (("decision", decision), ("aibom", aibom)) if item is None]
    if missing:
        raise NotAttested(f"the ledger has no {' and no '.join(missing)} entry for commit "
                          f"{commit}: run `govops attest --rev {commit} --record` first")
    assert decision is not None and aibom is not None
    verify_entry(decision, commit, trust, trust_config)
    verify_entry(aibom, commit, trust, trust_config)
    verdict = decision.entry.details.get("verdict")
    text = decision.recorded.get(DECISION_FILE, b"")
    try:
        recorded_verdict = json.loads(text).get("verdict")
    except ValueError:
        recorded_verdict = None
    if verdict != "pass" or recorded_verdict != "pass":
        failing = failed_policies(text)
        raise DecisionFailed(
            f"the decision of commit {commit} (entry #{decision.entry.seq}) is "
            f"{recorded_verdict or verdict!r}, not pass"
            + (f": failing policies {', '.join(failing)}" if failing else ""))
    return GatePassed(commit, decision, aibom)
