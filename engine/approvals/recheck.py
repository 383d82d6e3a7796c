"""Before a deployment: the waivers a decision relied on are approved, checked again rather than
believed. A decision entry is signed by a signer, who could record `pass` for a revision whose
waiver only its own author approved, or fewer approvers than the threshold; `apply` and
`rollback` therefore judge those waivers again, from the approval entries the decision names
(earlier in the ledger), under the trust root as it is now and against who wrote each waiver at
the decision's revision (git), and refuse a decision whose waivers do not hold up.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from engine.approvals.collect import waiver_approvals
from engine.attest.files import DECISION_FILE
from engine.catalog import load_catalog
from engine.errors import Refused
from engine.ledger.entry import StoredEntry
from engine.ledger.store import Ledger
from engine.policy.decision import Decision
from engine.repo import GitRepo
from engine.trust.history import TrustHistory


def recheck_waivers(repo: GitRepo, ledger: Ledger, history: TrustHistory,
                    decision_entry: StoredEntry, trust_config: Callable[[], Any]) -> None:
    """Refused, naming the decision entry and the waiver, unless every waiver the decision
    used is approved when judged again."""
    where = f"decision entry #{decision_entry.entry.seq}"
    try:
        decision = Decision.from_json(json.loads(decision_entry.files[DECISION_FILE]))
    except (KeyError, ValueError) as exc:
        raise Refused(f"{where}: its {DECISION_FILE} does not read back: {exc}") from None
    used = sorted({w.waiver for w in decision.waived})
    commit = decision.revision.commit
    if not used or commit is None:
        return
    catalog = load_catalog(repo, repo.snapshot(commit))
    named = {e for a in decision.approvals for e in a.entries}
    judged = waiver_approvals(catalog, ledger, history,
                              lambda path: repo.written_by(commit, path).people, trust_config,
                              named, before=decision_entry.entry.seq)
    for name in used:
        again = judged.get(name)
        if again is None:
            raise Refused(f"{where} waives results with waiver {name}, which commit "
                          f"{commit[:12]} does not hold")
        if not again.approved:
            why = "; ".join(again.refused) or "the decision names no approval of it"
            raise Refused(f"{where} waives results with waiver {name}, which is not approved "
                          f"when checked again ({len(again.approvers)} of {again.needed} "
                          f"approvals count: {why})")
