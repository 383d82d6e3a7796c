"""How receipts and the files they cover are named on disk and in the ledger.

`<stem>.sigstore.json` covers `<stem>.json` (decision, entry, deployment...), except the AIBOM's
receipt, which covers `aibom.cdx.json`, the name CycloneDX tools look for. The predicate type
of the receipts `govops attest` writes is fixed too.
"""

from __future__ import annotations

from engine.attest import statement as st

DECISION_FILE, AIBOM_FILE = "decision.json", "aibom.cdx.json"
DEPLOYMENT_FILE = "deployment.json"  # an apply/rollback's receipt predicate
DECISION_RECEIPT, AIBOM_RECEIPT = "decision.sigstore.json", "aibom.sigstore.json"
RECEIPT_SUFFIX = ".sigstore.json"
_KNOWN = {DECISION_RECEIPT: (DECISION_FILE, st.DECISION), AIBOM_RECEIPT: (AIBOM_FILE, st.AIBOM)}


def is_receipt(name: str) -> bool:
    return name.endswith(RECEIPT_SUFFIX)


def covered_by(receipt: str) -> tuple[str, str | None]:
    """(the file a receipt covers, the predicate type it must carry or None for any)."""
    if receipt in _KNOWN:
        return _KNOWN[receipt]
    return receipt.removesuffix(RECEIPT_SUFFIX) + ".json", None
