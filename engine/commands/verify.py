"""`govops verify`: receipts checked against the trust policy of the governed repo (govops.yaml
at HEAD), or against the keys and identities given on the command line when there is no
repository at hand (an exported evidence pack).

Each receipt gets its own outcome with the reason it was refused; nothing here decides the exit
code, and nothing is trusted by default.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from engine.attest.files import covered_by, is_receipt
from engine.attest.keys import load_public
from engine.attest.trust import TrustedIdentity, TrustedKey, TrustPolicy
from engine.attest.verify import Expectation, Verified, trust_root_loader, verify_receipt
from engine.commands.trust import repo_trust
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
