"""The decision a deployment rests on, judged again when it is deployed.

A decision says what was true when it was evaluated (`evaluatedAt` in its entry). A revision
approved while its waiver was valid must not go out again after the waiver expired on the
strength of that old answer: Kosli evaluates at the moment of deployment, and so do `apply` and
`rollback`. They evaluate the revision again at the current time with the policy bundle the
decision recorded (its policies, library and data, so an upgrade of govops does not change the
question, only the clock does) and the approval entries it saw, and refuse (exit 1) when the
verdict is no longer the recorded one or a waiver it relies on has expired, naming the waiver.
The deployment receipt records what this found, including each waiver relied on with who
approved it, when it expires and whether it was valid at that moment: an auditor's
`audit search --waiver` reads that back.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from engine.catalog import load_catalog
from engine.commands.check import CheckOptions, replay_check
from engine.commands.replay import recorded_parts
from engine.errors import GovopsError
from engine.ledger.entry import StoredEntry
from engine.repo import open_repo


class StaleDecision(GovopsError):
    """The recorded decision no longer holds at deploy time (exit 1)."""

    exit_code = 1


@dataclass(frozen=True)
class WaiverTerms:
    """A waiver the decision relied on, as it stood at deploy time."""

    waiver: str
    expires: str | None  # spec.expires in the revision; None: not declared there
    approvers: tuple[str, ...]  # as the decision verified them
    valid: bool  # not expired on the day of the deployment

    def as_json(self) -> dict[str, Any]:
        return {"waiver": self.waiver, "expires": self.expires,
                "approvedBy": list(self.approvers), "validAtDeploy": self.valid}


@dataclass(frozen=True)
class Rejudged:
    """The recorded decision and the same question asked again at `at`."""

    at: str
    decision_entry: int
    evaluated_at: str
    recorded_verdict: str
    verdict: str
    decision_id: str
    waivers: tuple[WaiverTerms, ...]  # every waiver relied on

    @property
    def expired(self) -> tuple[tuple[str, str], ...]:
        """(waiver, its expiry) of the waivers relied on that have expired."""
        return tuple((w.waiver, str(w.expires)) for w in self.waivers if not w.valid)

    def as_json(self) -> dict[str, Any]:
        return {"at": self.at, "decisionEntry": self.decision_entry,
                "evaluatedAt": self.evaluated_at, "recordedVerdict": self.recorded_verdict,
                "verdict": self.verdict, "decisionId": self.decision_id,
                "expiredWaivers": [{"waiver": w, "expires": e} for w, e in self.expired],
                "waivers": [w.as_json() for w in self.waivers]}


def rejudge(repo_path: Path, decision_entry: StoredEntry, now: str, engine: str = "auto",
            trust_root: str | None = None, trust_config: Path | None = None) -> Rejudged:
    """The decision evaluated again at `now`; StaleDecision unless it still holds."""
    decision, _, bundle, evaluated_at = recorded_parts(decision_entry)
    commit = decision.revision.commit
    assert commit is not None  # a recorded decision is about a commit (recorded_parts)
    seen = frozenset(e for a in decision.approvals for e in a.entries)
    again = replay_check(CheckOptions(repo=repo_path, rev=commit, engine=engine,
                                      trust_root=trust_root, trust_config=trust_config,
                                      approvals=seen), bundle, now).decision
    relied_on = sorted({w.waiver for w in decision.waived})
    terms = tuple(WaiverTerms(name, expires, approval.approvers if approval else (), valid)
                  for name, expires, valid in _terms(repo_path, commit, relied_on, now)
                  for approval in [decision.approval_of(name)])
    found = Rejudged(now, decision_entry.entry.seq, evaluated_at, decision.verdict,
                     again.verdict, again.decision_id, terms)
    expired = found.expired
    where = (f"the decision of commit {commit[:12]} (entry #{decision_entry.entry.seq}, "
             f"evaluated {evaluated_at})")
    if expired:
        names = ", ".join(f"{w} (expired {e})" for w, e in expired)
        raise StaleDecision(f"{where} relies on waiver{'s' if len(expired) > 1 else ''} "
                            f"{names}: evaluated again at {now} it is {again.verdict!r}; "
                            "renew the waiver or fix what it waived, then attest again")
    if again.verdict != decision.verdict:
        failing = ", ".join(again.failing_policies) or "none named"
        raise StaleDecision(f"{where} was {decision.verdict!r}, but evaluated again at {now} "
                            f"with its own policies it is {again.verdict!r} (failing policies: "
                            f"{failing}); attest the revision again")
    return found


def _terms(repo_path: Path, commit: str, waivers: list[str], now: str
           ) -> list[tuple[str, str | None, bool]]:
    """(waiver, its `spec.expires`, still valid on the day of `now`) for each of `waivers`;
    `expires` is a date, valid through that day, UTC."""
    if not waivers:
        return []
    repo = open_repo(repo_path)
    declared = load_catalog(repo, repo.snapshot(commit)).objects.get("Waiver", {})
    today = dt.date.fromisoformat(now[:10])
    out: list[tuple[str, str | None, bool]] = []
    for name in waivers:
        waiver = declared.get(name)
        expires = waiver.doc.get("spec", {}).get("expires") if waiver is not None else None
        if isinstance(expires, dt.date):  # an unquoted date, should a loader type it
            expires = expires.isoformat()
        if not isinstance(expires, str):
            out.append((name, None, True))
        else:
            out.append((name, expires, dt.date.fromisoformat(expires[:10]) >= today))
    return out
