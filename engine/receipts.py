"""`govops attest` and `govops verify`: compose check, bom and the attest stage into receipts,
and verify receipts against the trust policy of the governed repo.

The trust policy is read from govops.yaml at HEAD (from git objects), never from the revision
being verified: a commit must not be able to trust the key that signed it. Everything is signed
before anything is written, and files are replaced whole: a failure leaves no partial output.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

from engine.aibom import BomOptions, run_bom
from engine.attest import statement as st
from engine.attest.files import (
    AIBOM_FILE,
    AIBOM_RECEIPT,
    DECISION_FILE,
    DECISION_RECEIPT,
    covered_by,
    is_receipt,
)
from engine.attest.keys import load_public
from engine.attest.signers import KeySigner, Signer
from engine.attest.trust import TrustedIdentity, TrustedKey, TrustPolicy
from engine.attest.verify import (
    Expectation,
    Refused,
    Verified,
    trust_root_loader,
    verify_receipt,
)
from engine.catalog import CatalogLoader, Config, ParseCache
from engine.check import Checked, CheckOptions, run_check, utc_now
from engine.errors import GovopsError, InputError
from engine.ledger.record import actor, aibom_draft, decision_draft
from engine.ledger.store import Ledger, StoredEntry
from engine.repo import GitRepo, open_repo
from engine.report import renderer
from engine.report.write import write_atomically

ATTESTED = ((DECISION_RECEIPT, DECISION_FILE, st.DECISION), (AIBOM_RECEIPT, AIBOM_FILE, st.AIBOM))


@dataclass(frozen=True)
class SignerOptions:
    key: Path | None = None
    keyless: bool = False
    trust_config: Path | None = None

    @property
    def chosen(self) -> bool:
        return self.key is not None or self.keyless


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


def make_signer(options: SignerOptions) -> Signer:
    if (options.key is None) == (not options.keyless):
        raise GovopsError("choose one signer: --key FILE or --keyless")
    if options.key is not None:
        return KeySigner(options.key)
    from engine.attest.keyless import KeylessSigner, identity_token, load_trust_config

    return KeylessSigner(load_trust_config(options.trust_config), identity_token())


def sign_file(signer: Signer, predicate_type: str, repository: str, commit: str,
              name: str, text: str) -> str:
    """The receipt of one file whose JSON content is also the predicate."""
    document = st.statement(predicate_type, json.loads(text), repository, commit,
                            [st.Covered(name, text.encode("utf-8"))])
    return signer.sign(st.payload(document))


def record_decision(repo_path: Path, checked: Checked, signer: Signer) -> StoredEntry:
    """`check --record`: sign the decision and append a decision entry."""
    commit = checked.decision.revision.commit
    if commit is None:
        raise GovopsError("--record needs a commit: the index (--staged) cannot be recorded")
    repo = open_repo(repo_path)
    text = renderer("json")(checked.decision, checked.metadata, False)
    receipt = sign_file(signer, st.DECISION, repo.name, commit, DECISION_FILE, text)
    return Ledger(repo).append(decision_draft(commit, text, receipt), signer, actor(repo),
                               utc_now())


def run_attest(options: AttestOptions) -> Attested:
    signer = make_signer(options.signer)  # first: a bad key or token costs no evaluation
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
    written = []
    for filename, text in outputs.items():
        write_atomically(options.output / filename, text)
        written.append(options.output / filename)
    if options.record:
        ledger, who, now = Ledger(repo), actor(repo), utc_now()
        ledger.append(decision_draft(rev, decision_text, outputs[DECISION_RECEIPT]), signer,
                      who, now)
        ledger.append(aibom_draft(rev, aibom.text, outputs[AIBOM_RECEIPT]), signer, who, now)
    decision = checked.decision
    return Attested(rev, decision.verdict, decision.decision_id, aibom.serial_number,
                    tuple(written))


def trust_policy(repo: GitRepo, config: Config, rev: str) -> TrustPolicy:
    """The trust section of govops.yaml with its key files read from the same revision."""
    snapshot = repo.snapshot(rev)
    keys = []
    for i, declared in enumerate(config.trust_keys):
        entry = snapshot.files.get(declared.strip("/"))
        line = config.lines.get(f"trust.keys[{i}]")
        if entry is None or entry.is_symlink:
            raise InputError(config.path or "govops.yaml", line,
                             f"trusted key {declared!r} is not a file in revision {rev}")
        keys.append(TrustedKey(declared, load_public(repo.read_blob(entry.oid), declared)))
    identities = tuple(TrustedIdentity(i["issuer"], i["subject"])
                       for i in config.trust_identities)
    return TrustPolicy(tuple(keys), identities)


def repo_trust(repo: GitRepo) -> TrustPolicy:
    cache = ParseCache(repo.git_dir / "govops" / "cache.sqlite")
    try:
        catalog = CatalogLoader(repo, cache).load(repo.snapshot("HEAD"))
    finally:
        cache.close()
    return trust_policy(repo, catalog.config, "HEAD")


@dataclass(frozen=True)
class VerifyOutcome:
    bundle: Path
    verified: Verified | None
    reason: str | None


def _expectation(bundle: Path, artifact: Path | None, commit: str) -> Expectation:
    covered, predicate_type = covered_by(bundle.name)
    if artifact is None:
        candidate = bundle.parent / covered
        if not is_receipt(bundle.name) or not candidate.is_file():
            raise Refused(f"no artifact to check the receipt against (looked for {candidate}); "
                          "pass --artifact FILE")
        artifact = candidate
    try:
        data = artifact.read_bytes()
    except OSError as exc:
        raise GovopsError(f"{artifact}: cannot read: {exc.strerror}") from None
    return Expectation(predicate_type=predicate_type, artifact=data, commit=commit)


@dataclass(frozen=True)
class VerifyOptions:
    """Trust and the expected commit: from the repository (govops.yaml at HEAD, `rev`), or,
    with no repository at hand (an exported evidence pack), from the options themselves."""

    repo: Path
    rev: str | None = None
    commit: str | None = None
    artifact: Path | None = None
    trust_config: Path | None = None
    keys: tuple[Path, ...] = ()
    identities: tuple[tuple[str, str], ...] = ()  # (issuer, subject)


def _given_trust(options: VerifyOptions) -> TrustPolicy:
    keys = []
    for path in options.keys:
        try:
            data = path.read_bytes()
        except OSError as exc:
            raise GovopsError(f"{path}: cannot read: {exc.strerror}") from None
        keys.append(TrustedKey(str(path), load_public(data, str(path))))
    return TrustPolicy(tuple(keys), tuple(TrustedIdentity(i, s) for i, s in options.identities))


def run_verify(bundles: list[Path], options: VerifyOptions) -> list[VerifyOutcome]:
    if options.artifact is not None and len(bundles) != 1:
        raise GovopsError("--artifact goes with exactly one bundle")
    given = bool(options.keys or options.identities)
    repo = None if given and options.commit else open_repo(options.repo)
    trust = _given_trust(options) if given else repo_trust(repo) if repo else None
    assert trust is not None
    if options.commit is not None:
        if len(options.commit) != 40 or any(c not in "0123456789abcdef" for c in options.commit):
            raise GovopsError(f"--commit {options.commit!r} is not a full commit sha")
        commit = options.commit
    else:
        assert repo is not None
        commit = str(repo.resolve(options.rev or "HEAD").id)
    trust_config, artifact = options.trust_config, options.artifact
    certificate_root = trust_root_loader(trust_config)
    outcomes = []
    for bundle in bundles:
        try:
            raw = bundle.read_bytes()
        except OSError as exc:
            raise GovopsError(f"{bundle}: cannot read: {exc.strerror}") from None
        try:
            expect = _expectation(bundle, artifact, commit)
            verified = verify_receipt(raw, trust, expect, certificate_root)
            outcomes.append(VerifyOutcome(bundle, verified, None))
        except Refused as exc:
            outcomes.append(VerifyOutcome(bundle, None, str(exc)))
    return outcomes
