"""Verify a receipt, failing closed: every check that does not pass is a refusal with its
reason, and nothing is trusted that the trust policy does not name.

Order: the bundle's form and payload type; the signature (key bundles against `trust.keys`
only, certificate bundles through sigstore-python's Verifier with the trusted identities); then
the statement: its type, the predicate type expected for the file, the artifact's sha256 among
the subjects, the subject commit equal to the revision asked for.
"""

from __future__ import annotations

import hashlib
import json
import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from cryptography.exceptions import UnsupportedAlgorithm

from engine.attest.bundle import BundleFormatError, ParsedBundle, parse_bundle
from engine.attest.dsse import pae
from engine.attest.identity import IdentityPolicy
from engine.attest.statement import PAYLOAD_TYPE, PREDICATE_TYPES, STATEMENT_TYPE
from engine.attest.timestamp import timestamps_of, verify_timestamp
from engine.attest.trust import TrustPolicy
from engine.clock import instant, utc
from engine.errors import Refused  # re-exported: callers catch it from here

EXIT_REFUSED = 3

# What third-party parsers (sigstore-python, cryptography, pydantic, base64, json) raise on
# input they cannot read, besides their own error types: each is a refusal with its reason,
# never a traceback. An exception of any other type is a bug, and is left to say so.
PARSE_FAILURES: tuple[type[Exception], ...] = (
    ValueError, TypeError, KeyError, IndexError, RecursionError, UnsupportedAlgorithm)


def _one_line(exc: BaseException) -> str:
    """A library's message on one line (some span several)."""
    return " ".join(str(exc).split()) or type(exc).__name__


@dataclass(frozen=True)
class Expectation:
    """What the receipt must be about; None leaves that check to the caller."""

    predicate_type: str | None = None
    artifact: bytes | None = None
    commit: str | None = None
    time: str | None = None  # the time the receipt says it was made (a ledger entry's time)
    stamped: str | None = None  # its timestamp, already verified by the caller (engine.ledger)
    # The repository the commit must be of, as the statement names it (`<repository>@<commit>`,
    # engine.attest.statement): a ledger fetched from another repository signed by the same
    # key is about that repository, not this one.
    repository: str | None = None


@dataclass(frozen=True)
class Verified:
    statement: dict[str, Any]
    signer: str
    timestamp: str | None = None  # when a trusted TSA saw the signature, if one had to
    # Who signed, as people: the key's owner (when the trust names one) or the certificate's
    # identities; an approval is compared with the waiver's authors by these.
    owners: tuple[str, ...] = ()
    keyid: str | None = None  # the trusted key (its source in the trust), for key bundles

    @property
    def predicate_type(self) -> str:
        return str(self.statement["predicateType"])

    @property
    def commit(self) -> str | None:
        for subject in self.statement["subject"]:
            if "gitCommit" in subject.get("digest", {}):
                return str(subject["digest"]["gitCommit"])
        return None


@dataclass(frozen=True)
class _Signer:
    said: str
    owners: tuple[str, ...]
    keyid: str | None = None


def _key_signer(bundle: ParsedBundle, trust: TrustPolicy) -> _Signer:
    if not trust.keys:
        raise Refused(f"{trust.label} hold no key: no key bundle is trusted")
    trusted = trust.key_for(pae(bundle.payload_type, bundle.payload), bundle.signature,
                            bundle.key_hint)
    if trusted is None:
        hinted = any(k.hint == bundle.key_hint for k in trust.keys)
        raise Refused(f"the signature does not verify under any key of {trust.label}"
                      + (" (its hint names a trusted key, but hints are not trusted)"
                         if hinted else ""))
    return _Signer(f"key {trusted.source}", (trusted.owner,) if trusted.owner else (),
                   trusted.source)


def _certificate_signer(bundle: ParsedBundle, trust: TrustPolicy, trust_config: Any
                        ) -> _Signer:
    from sigstore.errors import Error as SigstoreError
    from sigstore.models import Bundle
    from sigstore.verify import Verifier

    from engine.attest.identity import certificate_identity

    if not trust.identities:
        raise Refused(f"{trust.label} hold no keyless identity: no certificate bundle is "
                      "trusted")
    logging.getLogger("sigstore").setLevel(logging.ERROR)
    try:
        sigstore_bundle = Bundle.from_json(bundle.raw)
    except SigstoreError as exc:
        raise Refused(f"Sigstore verification failed: {_one_line(exc)}") from None
    except PARSE_FAILURES as exc:  # the certificate's DER, read by cryptography
        raise Refused(f"the bundle's certificate does not parse: {_one_line(exc)}") from None
    try:
        Verifier(trusted_root=trust_config.trusted_root).verify_dsse(
            sigstore_bundle, IdentityPolicy(trust.identities))
    except SigstoreError as exc:
        raise Refused(f"Sigstore verification failed: {_one_line(exc)}") from None
    except PARSE_FAILURES as exc:  # a log entry, an SCT, a chain sigstore-python read
        raise Refused(f"Sigstore verification failed: a part of the bundle does not parse "
                      f"({_one_line(exc)})") from None
    issuer, subjects = certificate_identity(sigstore_bundle.signing_certificate)
    return _Signer(f"identity {', '.join(sorted(subjects))} (issuer {issuer})",
                   tuple(sorted(subjects)))


def _statement(bundle: ParsedBundle) -> dict[str, Any]:
    try:
        statement = json.loads(bundle.payload)
    except (UnicodeDecodeError, json.JSONDecodeError, RecursionError):
        raise Refused("the signed payload is not JSON (or nests too deep)") from None
    if not isinstance(statement, dict) or statement.get("_type") != STATEMENT_TYPE:
        raise Refused(f"the signed payload is not an in-toto Statement ({STATEMENT_TYPE})")
    subjects = statement.get("subject")
    if not isinstance(subjects, list) or not all(
            isinstance(s, dict) and isinstance(s.get("digest"), dict) for s in subjects):
        raise Refused("the statement's subjects are malformed")
    if statement.get("predicateType") not in PREDICATE_TYPES:
        raise Refused(f"predicate type {statement.get('predicateType')!r} is not a govops one")
    return statement


def _check_subjects(statement: dict[str, Any], expect: Expectation) -> None:
    if expect.predicate_type is not None and statement["predicateType"] != expect.predicate_type:
        raise Refused(f"predicate type is {statement['predicateType']}, expected "
                      f"{expect.predicate_type} for this file")
    digests = [s["digest"] for s in statement["subject"]]
    if expect.artifact is not None:
        wanted = hashlib.sha256(expect.artifact).hexdigest()
        if not any(d.get("sha256") == wanted for d in digests):
            raise Refused(f"the artifact's sha256 {wanted[:16]}... is not a subject of the "
                          "receipt (the file changed, or it is another file)")
    if expect.commit is not None:
        commits = [d["gitCommit"] for d in digests if "gitCommit" in d]
        if commits != [expect.commit]:
            raise Refused(f"the receipt is about commit {', '.join(map(str, commits)) or '(none)'}"
                          f", not {expect.commit}")
        if expect.repository is not None:
            _check_repository(statement, expect.repository, expect.commit)


def _check_repository(statement: dict[str, Any], repository: str, commit: str) -> None:
    """The commit subject's name says which repository the commit is of."""
    wanted = f"{repository}@{commit}"
    named = [s.get("name") for s in statement["subject"]
             if "gitCommit" in s["digest"]]
    if named != [wanted]:
        shown = ", ".join(str(n) for n in named)
        raise Refused(f"the receipt is about {shown}, not {wanted}: it was recorded in another "
                      "repository")


def stamped_time(raw: bytes, trust: TrustPolicy, expect: Expectation) -> str | None:
    """When a trusted TSA saw a key bundle's signature, if the trust requires timestamps
    (checked against `expect.time`); None otherwise. Refused as `verify_receipt` would."""
    try:
        bundle = parse_bundle(raw)
    except BundleFormatError as exc:
        raise Refused(str(exc)) from None
    return None if bundle.has_certificate else _check_timestamp(bundle, trust, expect)


def verify_receipt(raw: bytes, trust: TrustPolicy, expect: Expectation,
                   trust_config: Callable[[], Any] | None = None) -> Verified:
    """The verified statement and who signed it; Refused otherwise. `trust_config` gives the
    sigstore ClientTrustConfig, called only for certificate bundles (loading it costs 0.3 s)."""
    try:
        bundle = parse_bundle(raw)
    except BundleFormatError as exc:
        raise Refused(str(exc)) from None
    if bundle.payload_type != PAYLOAD_TYPE:  # before the signature: the clearer reason
        raise Refused(f"payloadType is {bundle.payload_type!r}, not {PAYLOAD_TYPE!r}")
    if bundle.has_certificate:
        if trust_config is None:
            raise Refused("a certificate bundle needs a Sigstore trust root to verify")
        signer = _certificate_signer(bundle, trust, trust_config())
    else:
        signer = _key_signer(bundle, trust)
    stamped = None if bundle.has_certificate else _check_timestamp(bundle, trust, expect)
    statement = _statement(bundle)
    _check_subjects(statement, expect)
    return Verified(statement, signer.said, stamped, signer.owners, signer.keyid)


def _check_timestamp(bundle: ParsedBundle, trust: TrustPolicy, expect: Expectation
                     ) -> str | None:
    """When the trust names timestamp authorities, a key bundle must carry a timestamp of its
    signature from one of them, and a stated time within the tolerance of it."""
    if not trust.authorities:
        return None
    if expect.stamped is not None:
        return expect.stamped
    stamps = timestamps_of(bundle.raw)
    if not stamps:
        raise Refused("the signature carries no timestamp, and the trust requires one from "
                      f"{', '.join(a.name for a in trust.authorities)}")
    reasons = []
    for response in stamps:
        try:
            seen = verify_timestamp(response, bundle.signature, trust.authorities)
        except Refused as exc:
            reasons.append(str(exc))
            continue
        if expect.time is not None:
            drift = abs((seen - instant(expect.time)).total_seconds())
            if drift > trust.tolerance:
                raise Refused(f"it says it was made at {expect.time}, but a trusted TSA saw "
                              f"its signature at {utc(seen)}, {drift:.0f} s apart (tolerance "
                              f"{trust.tolerance} s): it was back- or forward-dated")
        return utc(seen)
    raise Refused("; ".join(reasons))
