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
from typing import Any

from engine.aibom import BomOptions, run_bom
from engine.attest import statement as st
from engine.attest.keys import load_public
from engine.attest.signers import KeySigner, Signer
from engine.attest.trust import TrustedIdentity, TrustedKey, TrustPolicy
from engine.attest.verify import Expectation, Refused, Verified, verify_receipt
from engine.catalog import CatalogLoader, Config, ParseCache
from engine.check import CheckOptions, run_check
from engine.errors import GovopsError, InputError
from engine.repo import GitRepo, open_repo
from engine.report import renderer
from engine.report.write import write_atomically

DECISION_FILE, AIBOM_FILE = "decision.json", "aibom.cdx.json"
DECISION_RECEIPT, AIBOM_RECEIPT = "decision.sigstore.json", "aibom.sigstore.json"
# receipt file -> (the file it covers, the predicate type it must carry)
KNOWN_RECEIPTS = {DECISION_RECEIPT: (DECISION_FILE, st.DECISION),
                  AIBOM_RECEIPT: (AIBOM_FILE, st.AIBOM)}


@dataclass(frozen=True)
class AttestOptions:
    repo: Path
    output: Path
    rev: str | None = None
    key: Path | None = None
    keyless: bool = False
    trust_config: Path | None = None
    engine: str = "auto"
    now: str | None = None
    advisories: Path | None = None


@dataclass(frozen=True)
class Attested:
    commit: str
    verdict: str
    decision_id: str
    serial_number: str
    written: tuple[Path, ...]


def _signer(options: AttestOptions) -> Signer:
    if (options.key is None) == (not options.keyless):
        raise GovopsError("choose one signer: --key FILE or --keyless")
    if options.key is not None:
        return KeySigner(options.key)
    from engine.attest.keyless import KeylessSigner, identity_token, load_trust_config

    return KeylessSigner(load_trust_config(options.trust_config), identity_token())


def run_attest(options: AttestOptions) -> Attested:
    signer = _signer(options)  # first: a bad key or token costs no evaluation
    repo = open_repo(options.repo)
    commit = repo.resolve(options.rev or "HEAD").id
    rev = str(commit)
    checked = run_check(CheckOptions(repo=options.repo, rev=rev, engine=options.engine,
                                     now=options.now, advisories=options.advisories))
    decision_text = renderer("json")(checked.decision, checked.metadata, False)
    aibom = run_bom(BomOptions(repo=options.repo, advisories=options.advisories), rev)
    name = repo.name
    outputs: dict[str, str] = {DECISION_FILE: decision_text, AIBOM_FILE: aibom.text}
    for receipt, (covered, predicate_type) in KNOWN_RECEIPTS.items():
        text = outputs[covered]
        document = st.statement(predicate_type, json.loads(text), name, rev,
                                [st.Covered(covered, text.encode("utf-8"))])
        outputs[receipt] = signer.sign(st.payload(document))
    try:
        options.output.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise GovopsError(f"{options.output}: cannot create: {exc.strerror}") from None
    written = []
    for filename, text in outputs.items():
        write_atomically(options.output / filename, text)
        written.append(options.output / filename)
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
    covered, predicate_type = KNOWN_RECEIPTS.get(bundle.name, (None, None))
    if artifact is None:
        name = covered or bundle.name.removesuffix(".sigstore.json")
        candidate = bundle.parent / name
        if name == bundle.name or not candidate.is_file():
            raise Refused(f"no artifact to check the receipt against (looked for {candidate}); "
                          "pass --artifact FILE")
        artifact = candidate
    try:
        data = artifact.read_bytes()
    except OSError as exc:
        raise GovopsError(f"{artifact}: cannot read: {exc.strerror}") from None
    return Expectation(predicate_type=predicate_type, artifact=data, commit=commit)


def run_verify(bundles: list[Path], repo_path: Path, rev: str | None, artifact: Path | None,
               trust_config: Path | None) -> list[VerifyOutcome]:
    if artifact is not None and len(bundles) != 1:
        raise GovopsError("--artifact goes with exactly one bundle")
    repo = open_repo(repo_path)
    commit = str(repo.resolve(rev or "HEAD").id)
    trust = repo_trust(repo)
    roots: dict[str, Any] = {}

    def certificate_root() -> Any:
        from engine.attest.keyless import load_trust_config

        if "root" not in roots:  # loaded once, and only if a certificate bundle needs it
            roots["root"] = load_trust_config(trust_config)
        return roots["root"]

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
