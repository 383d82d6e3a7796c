"""`govops verify`: receipts checked against the signers of the repository's trust root (pinned
out of band) in force at a time (default: now), or against the keys and identities given on
the command line when there is no repository at hand (an exported evidence pack).

Each receipt gets its own outcome with the reason it was refused; nothing here decides the exit
code, and nothing is trusted by default.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from engine.attest.files import covered_by, is_receipt
from engine.attest.keys import load_public
from engine.attest.trust import TrustedIdentity, TrustedKey, TrustPolicy
from engine.attest.trust_config import trust_root_loader
from engine.attest.verify import Expectation, Verified, verify_receipt
from engine.clock import parse_time, utc, utc_now
from engine.commands.trust import verifier_trust
from engine.errors import GovopsError, Refused
from engine.repo import open_repo


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
    """Trust and the expected commit: from the repository (its trust root, `rev`), or, with
    no repository at hand (an exported evidence pack), from the options themselves."""

    repo: Path
    rev: str | None = None
    commit: str | None = None
    artifact: Path | None = None
    trust_config: Path | None = None
    keys: tuple[Path, ...] = ()
    identities: tuple[tuple[str, str], ...] = ()  # (issuer, subject)
    trust_root: str | None = None  # the pin (engine.trust.pin)
    at: str | None = None  # TIME the signers must have been trusted at (default: now)


@dataclass(frozen=True)
class Verification:
    outcomes: tuple[VerifyOutcome, ...]
    trusted: str  # what the receipts were checked against, in words


def _given_trust(options: VerifyOptions) -> TrustPolicy:
    keys = []
    for path in options.keys:
        try:
            data = path.read_bytes()
        except OSError as exc:
            raise GovopsError(f"{path}: cannot read: {exc.strerror}") from None
        keys.append(TrustedKey(str(path), load_public(data, str(path))))
    return TrustPolicy(tuple(keys), tuple(TrustedIdentity(i, s) for i, s in options.identities))


def run_verify(bundles: list[Path], options: VerifyOptions) -> Verification:
    if options.artifact is not None and len(bundles) != 1:
        raise GovopsError("--artifact goes with exactly one bundle")
    given = bool(options.keys or options.identities)
    repo = None if given and options.commit else open_repo(options.repo)
    if given:
        trust = _given_trust(options)
        trusted = "the keys and identities given"
    else:
        assert repo is not None
        history = verifier_trust(repo, options.trust_root)
        moment = utc(parse_time(options.at)) if options.at else utc_now()
        trust = history.signers_at(moment)
        trusted = (f"{trust.label}, trust root {history.pin} (pinned by "
                   f"{history.pin_source})")
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
    return Verification(tuple(outcomes), trusted)
