"""The gate before any deployment: a revision goes out only on a passing, verified decision.

`run_gate` (apply) takes the latest `decision` and `aibom` entries of the commit; `linked_gate`
(rollback) takes those an earlier apply or rollback links, and that entry itself. Either way,
each entry's own receipt (entry.sigstore.json over entry.json) and its recorded receipts
(`decision.sigstore.json` over `decision.json`, `aibom.sigstore.json` over `aibom.cdx.json`)
must verify under the trust in force at the entry's time (handed in) and be about that
commit of this repository (as their statements name it), every recorded file must match its
digest in the entry, and the decision must pass (`engine.ledger.verdict.require_passing`, the
same rule `audit verify` applies). Missing or refused: exit 3. A verified decision that does
not pass: exit 1, naming the failing policies.

Must never call the Pulumi engine nor write anything: it only reads the ledger.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from engine.errors import Refused
from engine.ledger.chain import TrustAt, check_digests, check_receipts
from engine.ledger.entry import StoredEntry
from engine.ledger.store import Ledger
from engine.ledger.verdict import require_passing


class NotAttested(Refused):
    """No decision or AIBOM entry for the revision (exit 3)."""


@dataclass(frozen=True)
class GatePassed:
    """A commit and the verified decision and AIBOM entries it may be deployed on."""

    commit: str
    decision: StoredEntry
    aibom: StoredEntry

    @property
    def decision_id(self) -> str:
        return str(self.decision.entry.details.get("decisionId", ""))

    @property
    def aibom_serial(self) -> str:
        return str(self.aibom.entry.details.get("serialNumber", ""))


def latest(entries: list[StoredEntry], kind: str, commit: str) -> StoredEntry | None:
    found = [e for e in entries if e.entry.type == kind and e.entry.revision == commit]
    return found[-1] if found else None


def verify_entry(item: StoredEntry, commit: str, trust_at: TrustAt,
                 trust_config: Callable[[], Any], repository: str | None = None) -> None:
    """The entry's receipt and its recorded receipts under the trust in force at the entry's
    time, about `commit` of `repository` (when given), and its digests; Refused naming the
    entry."""
    where = f"{item.entry.type} entry #{item.entry.seq} ({item.hash[:19]}...)"
    try:
        if check_receipts(item, commit, trust_at, trust_config, repository) == 1:
            raise Refused("it records no receipt")
        check_digests(item)
    except Refused as exc:
        raise Refused(f"{where} does not verify: {exc}") from None


def _passes(gate: GatePassed, ledger: Ledger, trust_at: TrustAt, trust_config: Callable[[], Any],
            also: tuple[StoredEntry, ...] = ()) -> GatePassed:
    for item in (gate.decision, gate.aibom, *also):
        verify_entry(item, gate.commit, trust_at, trust_config, ledger.repository)
    require_passing(gate.decision)
    return gate


def run_gate(ledger: Ledger, commit: str, trust_at: TrustAt,
             trust_config: Callable[[], Any]) -> GatePassed:
    """The latest decision and AIBOM entries of `commit`, verified, the decision passing."""
    entries = ledger.entries()
    decision = latest(entries, "decision", commit)
    aibom = latest(entries, "aibom", commit)
    missing = [kind for kind, item in (("decision", decision), ("aibom", aibom)) if item is None]
    if missing:
        raise NotAttested(f"the ledger has no {' and no '.join(missing)} entry for commit "
                          f"{commit}: run `govops attest --rev {commit} --record` first")
    assert decision is not None and aibom is not None
    return _passes(GatePassed(commit, decision, aibom), ledger, trust_at, trust_config)


def linked_gate(ledger: Ledger, item: StoredEntry, trust_at: TrustAt,
                trust_config: Callable[[], Any]) -> GatePassed:
    """The decision and AIBOM entries an apply or rollback entry rests on (its links, of its
    own commit), each verified with the entry itself, the decision passing."""
    commit = item.entry.revision
    where = f"{item.entry.type} entry #{item.entry.seq}"
    if commit is None:
        raise Refused(f"{where} names no revision")
    by_hash = {e.hash: e for e in ledger.entries()}
    linked: dict[str, StoredEntry] = {}
    for role in ("decision", "aibom"):
        found = by_hash.get(item.entry.links.get(role, ""))
        if found is None or found.entry.type != role or found.entry.revision != commit:
            raise Refused(f"{where} does not link a {role} entry of commit {commit}")
        linked[role] = found
    return _passes(GatePassed(commit, linked["decision"], linked["aibom"]), ledger, trust_at,
                   trust_config, also=(item,))
