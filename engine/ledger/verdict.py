"""The one rule a deployment rests on: a decision entry whose verdict is `pass`.

Both the entry's summary (`details.verdict`) and the decision it records (`decision.json`, read
back with `Decision.from_json` and its id recomputed) must say `pass`; a record that cannot be
read, or whose content no longer hashes to its recorded id, passes nothing. `govops apply`,
`govops rollback` and `audit verify` all ask this, so none of them can be laxer than another.
"""

from __future__ import annotations

import functools
import json

from engine.attest.files import DECISION_FILE
from engine.errors import GovopsError, Refused
from engine.ledger.entry import StoredEntry
from engine.policy.decision import Decision


class DecisionFailed(GovopsError):
    """The revision's decision does not pass (exit 1)."""

    exit_code = 1


def recorded_decision(item: StoredEntry) -> Decision | None:
    """The decision a decision entry records; None when it is missing, malformed or its content
    does not hash to the decision id written beside it."""
    data = item.recorded.get(DECISION_FILE)
    return None if data is None else _read_back(data)


@functools.lru_cache(maxsize=256)
def _read_back(data: bytes) -> Decision | None:
    """`decision.json` as a Decision if its content hashes to its recorded id. Cached by the
    bytes: the applies of a long ledger rest on a few distinct decisions, and recomputing an id
    (RFC 8785) costs about a millisecond."""
    try:
        raw = json.loads(data)
        decision = Decision.from_json(raw)
    except ValueError:
        return None
    if raw.get("decision_id") != decision.decision_id or raw.get("verdict") != decision.verdict:
        return None
    return decision


def require_passing(item: StoredEntry) -> Decision:
    """The decision of a decision entry, if it passes; DecisionFailed (exit 1) naming the
    entry, the verdict and the failing policies, or Refused (exit 3) when the entry records no
    decision that reads back as written."""
    where = f"the decision of commit {item.entry.revision} (entry #{item.entry.seq})"
    decision = recorded_decision(item)
    if decision is None:
        raise Refused(f"{where} does not read back from its {DECISION_FILE} (missing, malformed, "
                      "or its content does not hash to its decision_id)")
    summary = item.entry.details.get("verdict")
    if decision.verdict == "pass" and summary == "pass":
        return decision
    failing = decision.failing_policies
    verdict = summary if decision.verdict == "pass" else decision.verdict
    raise DecisionFailed(f"{where} is {verdict!r}, not pass"
                         + (f": failing policies {', '.join(failing)}" if failing else ""))
