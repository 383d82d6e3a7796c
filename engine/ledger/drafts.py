"""Drafts of the entries `check --record` and `attest --record` append, and who appends them.

The details kept in an entry are the summary the index and `audit log` show without reading
the recorded files (verdict, decision id, AIBOM serial number).
"""

from __future__ import annotations

import getpass
import json
import os

from engine.attest.files import AIBOM_FILE, AIBOM_RECEIPT, DECISION_FILE, DECISION_RECEIPT
from engine.ledger.entry import Draft
from engine.repo import GitRepo

ACTOR_ENV = "GOVOPS_ACTOR"


def actor(repo: GitRepo) -> str:
    """GOVOPS_ACTOR, else git's user.name <user.email>, else the login name."""
    if value := os.environ.get(ACTOR_ENV):
        return value
    configured = repo.configured_user()
    if configured:
        return configured
    try:
        return getpass.getuser()
    except (KeyError, OSError):
        return "unknown"


POLICY_BUNDLE = "policy-bundle.json"


def decision_draft(revision: str, decision_text: str, receipt: str,
                   bundle: bytes | None = None, evaluated_at: str | None = None) -> Draft:
    """A decision entry; with the policy bundle the decision was made with and the time it was
    evaluated as of, so `verify --replay` can make it again."""
    decision = json.loads(decision_text)
    files = {DECISION_FILE: decision_text.encode(), DECISION_RECEIPT: receipt.encode()}
    details = {"verdict": decision["verdict"], "decisionId": decision["decision_id"]}
    if bundle is not None:
        files[POLICY_BUNDLE] = bundle
    if evaluated_at is not None:
        details["evaluatedAt"] = evaluated_at
    return Draft(type="decision", revision=revision, files=files, details=details)


def aibom_draft(revision: str, aibom_text: str, receipt: str) -> Draft:
    serial = json.loads(aibom_text)["serialNumber"]
    return Draft(type="aibom", revision=revision,
                 files={AIBOM_FILE: aibom_text.encode(), AIBOM_RECEIPT: receipt.encode()},
                 details={"serialNumber": serial})
