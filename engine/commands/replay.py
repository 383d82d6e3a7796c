"""`govops verify --replay ENTRY` and `audit verify --replay`: a recorded decision is checked,
not believed. Its revision is evaluated again from git objects, with the policy bundle the entry
recorded (the library as it was, the repo's own policies, the data and advisories) and as of the
time it recorded, and the new `decision_id` must equal the recorded one.

What replay trusts: the recorded bundle, only once it adds up to the decision's policy digest
and its repo-local modules are exactly those at the revision; everything else comes from git,
and the waiver approvals from the ledger: exactly the approval entries the decision saw, checked
again under the trust root as it is now (a key revoked since reaches back).
A decision recorded against a base (`check --record --base`) marks results new or existing
under the base's own policies, which the entry does not record: replay refuses it, saying so.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass
from pathlib import Path

from engine.attest.files import DECISION_FILE
from engine.catalog import load_catalog
from engine.commands.check import CheckOptions, replay_check
from engine.errors import InputError, Refused
from engine.ledger.drafts import POLICY_BUNDLE
from engine.ledger.entry import StoredEntry
from engine.ledger.store import Ledger
from engine.policy.decision import Decision
from engine.policy.library import LIBRARY_PREFIX, PolicyBundle, repo_modules
from engine.repo import GitRepo, open_repo


@dataclass(frozen=True)
class Replayed:
    seq: int
    revision: str
    recorded: str  # the decision_id the entry recorded
    replayed: str  # the decision_id evaluated again
    verdict: str  # of the replayed decision
    seconds: float

    @property
    def matches(self) -> bool:
        return self.recorded == self.replayed


def recorded_parts(item: StoredEntry) -> tuple[Decision, dict[str, object], PolicyBundle, str]:
    where = f"decision entry #{item.entry.seq}"
    if item.entry.type != "decision":
        raise Refused(f"entry #{item.entry.seq} is a {item.entry.type} entry: replay takes "
                      "a decision entry")
    raw_bundle = item.files.get(POLICY_BUNDLE)
    evaluated_at = item.entry.details.get("evaluatedAt")
    if raw_bundle is None or not isinstance(evaluated_at, str):
        raise Refused(f"{where} records no policy bundle and evaluation time (made before "
                      "govops recorded them): it cannot be replayed")
    try:
        raw = json.loads(item.files[DECISION_FILE])
        decision = Decision.from_json(raw)
    except (KeyError, ValueError) as exc:
        raise Refused(f"{where}: its {DECISION_FILE} does not read back: {exc}") from None
    if decision.base is not None:
        raise Refused(f"{where} was decided against base {decision.base.commit}, with the "
                      "base's own policies, which the entry does not record: replay covers "
                      "decisions made without --base (attest, check --record)")
    try:
        bundle = PolicyBundle.decode(raw_bundle, f"{where}: {POLICY_BUNDLE}")
    except InputError as exc:  # a bad record is a refusal here, not a bad input
        raise Refused(str(exc)) from None
    if bundle.digest != decision.policy_digest:
        raise Refused(f"{where}: the recorded bundle is {bundle.digest}, but the decision was "
                      f"made with {decision.policy_digest}")
    return decision, raw, bundle, evaluated_at


def _check_local_modules(repo: GitRepo, commit: str, bundle: PolicyBundle, where: str) -> None:
    """The recorded repo-local policies are exactly those at the revision (git is the source;
    the record may not substitute policies of its own)."""
    snapshot = repo.snapshot(commit)
    config = load_catalog(repo, snapshot).config
    at_revision = {m.path: m.source for m in repo_modules(repo, snapshot, config)}
    recorded = {m.path: m.source for m in bundle.modules
                if not m.path.startswith(LIBRARY_PREFIX)}
    if recorded != at_revision:
        raise Refused(f"{where}: the recorded repo policies are not those of commit {commit}")


def replay_entry(repo_path: Path, item: StoredEntry, engine: str = "auto",
                 trust_root: str | None = None, trust_config: Path | None = None) -> Replayed:
    started = time.perf_counter()
    decision, raw, bundle, evaluated_at = recorded_parts(item)
    where = f"decision entry #{item.entry.seq}"
    commit = decision.revision.commit
    if commit is None or commit != item.entry.revision:
        raise Refused(f"{where} is about {item.entry.revision}, its decision about {commit}")
    if raw.get("decision_id") != item.entry.details.get("decisionId"):
        raise Refused(f"{where}: its decision.json and its entry name different decisions")
    repo = open_repo(repo_path)
    _check_local_modules(repo, commit, bundle, where)
    seen = frozenset(e for a in decision.approvals for e in a.entries)
    checked = replay_check(CheckOptions(repo=repo_path, rev=commit, engine=engine,
                                        trust_root=trust_root, trust_config=trust_config,
                                        approvals=seen), bundle, evaluated_at)
    return Replayed(item.entry.seq, commit, str(raw.get("decision_id")),
                    checked.decision.decision_id, checked.decision.verdict,
                    time.perf_counter() - started)


def replay(repo_path: Path, reference: str, engine: str = "auto",
           trust_root: str | None = None, trust_config: Path | None = None) -> Replayed:
    """ENTRY's decision made again; Refused when it cannot be, or comes out different."""
    item = Ledger(open_repo(repo_path)).find(reference)
    done = replay_entry(repo_path, item, engine, trust_root, trust_config)
    if not done.matches:
        raise Refused(f"decision entry #{done.seq} does not replay: commit {done.revision} "
                      f"with its recorded policies gives {done.replayed} ({done.verdict}), not "
                      f"the recorded {done.recorded}")
    return done


def replay_all(repo_path: Path, engine: str = "auto", trust_root: str | None = None,
               trust_config: Path | None = None) -> list[Replayed]:
    """Every decision entry made again, first to last; the first that cannot be replayed or
    comes out different is Refused."""
    out = []
    for item in Ledger(open_repo(repo_path)).entries():
        if item.entry.type == "decision":
            out.append(replay(repo_path, str(item.entry.seq), engine, trust_root, trust_config))
    return out
