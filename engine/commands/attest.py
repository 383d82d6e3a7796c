"""`govops attest` and `check --record`: compose check, bom and the attest stage into receipts,
and append them to the ledger.

Everything is signed before anything is written; the four files are written all or none, and
`--record` appends the decision and its AIBOM as one ledger update: a failure or a crash leaves
no partial output and never half a record.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from engine.atomic import all_or_none
from engine.attest import statement as st
from engine.attest.files import AIBOM_FILE, AIBOM_RECEIPT, DECISION_FILE, DECISION_RECEIPT
from engine.attest.signers import Signer, SignerOptions, sign_file
from engine.clock import utc_now
from engine.commands.bom import BomOptions, run_bom
from engine.commands.check import Checked, CheckOptions, run_check
from engine.commands.trust import recording_signer
from engine.errors import GovopsError
from engine.ledger.drafts import actor, aibom_draft, decision_draft
from engine.ledger.entry import StoredEntry
from engine.ledger.store import Ledger
from engine.repo import open_repo
from engine.report import renderer

ATTESTED = ((DECISION_RECEIPT, DECISION_FILE, st.DECISION), (AIBOM_RECEIPT, AIBOM_FILE, st.AIBOM))


@dataclass(frozen=True)
class AttestOptions:
    repo: Path
    output: Path
    signer: SignerOptions
    rev: str | None = None
    engine: str = "auto"
    now: str | None = None
    advisories: Path | None = None
    record: bool = False


@dataclass(frozen=True)
class Attested:
    commit: str
    verdict: str
    decision_id: str
    serial_number: str
    written: tuple[Path, ...]


def record_decision(repo_path: Path, checked: Checked, signer: Signer) -> StoredEntry:
    """`check --record`: sign the decision and append a decision entry."""
    commit = checked.decision.revision.commit
    if commit is None:
        raise GovopsError("--record needs a commit: the index (--staged) cannot be recorded")
    repo = open_repo(repo_path)
    text = renderer("json")(checked.decision, checked.metadata, False)
    receipt = sign_file(signer, st.DECISION, repo.name, commit, DECISION_FILE, text)
    draft = decision_draft(commit, text, receipt, checked.bundle.encode(), checked.now)
    return Ledger(repo).append(draft, signer, actor(repo), utc_now())


def run_attest(options: AttestOptions) -> Attested:
    signer = recording_signer(options.repo, options.signer)  # first: a bad key costs nothing
    repo = open_repo(options.repo)
    commit = repo.resolve(options.rev or "HEAD").id
    rev = str(commit)
    checked = run_check(CheckOptions(repo=options.repo, rev=rev, engine=options.engine,
                                     now=options.now, advisories=options.advisories))
    decision_text = renderer("json")(checked.decision, checked.metadata, False)
    aibom = run_bom(BomOptions(repo=options.repo, advisories=options.advisories), rev)
    name = repo.name
    outputs: dict[str, str] = {DECISION_FILE: decision_text, AIBOM_FILE: aibom.text}
    for receipt, covered, predicate_type in ATTESTED:
        outputs[receipt] = sign_file(signer, predicate_type, name, rev, covered,
                                     outputs[covered])
    try:
        options.output.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise GovopsError(f"{options.output}: cannot create: {exc.strerror}") from None
    written = [options.output / filename for filename in outputs]
    with all_or_none(dict(zip(written, outputs.values(), strict=True))):
        if options.record:
            # One append: the decision and its AIBOM enter the ledger together or not at all,
            # and the files appear only once they have.
            Ledger(repo).append_all([
                decision_draft(rev, decision_text, outputs[DECISION_RECEIPT],
                               checked.bundle.encode(), checked.now),
                aibom_draft(rev, aibom.text, outputs[AIBOM_RECEIPT])], signer, actor(repo),
                utc_now())
    decision = checked.decision
    return Attested(rev, decision.verdict, decision.decision_id, aibom.serial_number,
                    tuple(written))
