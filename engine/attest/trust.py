"""Who may sign a receipt, as data the verifier checks signatures against, and the key check.

Empty means no: a trust section without keys trusts no key bundle, one without identities
trusts no certificate. A key bundle's hint only chooses which trusted key to try first; the
signature must verify under a key listed in `trust.keys`. Keyless identities match the OIDC
issuer exactly and the certificate subject exactly, or as a regular expression when it starts
with `^` (as in `^https://github.com/acme/ml-infra/`); `identity.py` applies them to
certificates.
"""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import dataclass

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec

from engine.attest.keys import key_hint
from engine.attest.timestamp import TimestampAuthority


@dataclass(frozen=True)
class TrustedKey:
    source: str  # where it was listed, e.g. keys/ci.pub
    key: ec.EllipticCurvePublicKey
    owner: str | None = None  # who holds it (an email), when the trust says

    @property
    def hint(self) -> str:
        return key_hint(self.key)


@dataclass(frozen=True)
class TrustedIdentity:
    issuer: str
    subject: str

    def matches(self, subject: str) -> bool:
        if self.subject.startswith("^"):
            return re.search(self.subject, subject) is not None
        return subject == self.subject


@dataclass(frozen=True)
class TrustPolicy:
    keys: tuple[TrustedKey, ...]
    identities: tuple[TrustedIdentity, ...]
    label: str = "the keys given"  # whose keys these are, for the reasons a refusal gives
    # Timestamp authorities a key bundle must carry a timestamp from (none: no timestamp is
    # required), and how far its stated time may be from that timestamp, in seconds.
    authorities: tuple[TimestampAuthority, ...] = ()
    tolerance: int = 300

    def fingerprint(self) -> str:
        """A digest of everything this policy trusts: a verification remembered under it
        (engine.approvals.verified) is never reused under different trust."""
        doc = {
            "keys": [[k.source, k.owner, k.key.public_bytes(
                serialization.Encoding.PEM,
                serialization.PublicFormat.SubjectPublicKeyInfo).decode()] for k in self.keys],
            "identities": [[i.issuer, i.subject] for i in self.identities],
            "authorities": [[a.name, a.url, list(a.certificates)] for a in self.authorities],
            "tolerance": self.tolerance,
        }
        encoded = json.dumps(doc, sort_keys=True, separators=(",", ":")).encode()
        return "sha256:" + hashlib.sha256(encoded).hexdigest()

    def key_for(self, signed: bytes, signature: bytes, hint: str | None) -> TrustedKey | None:
        """The trusted key this signature verifies under, or None. The hint only orders the
        attempts; every trusted key is tried."""
        ordered = sorted(self.keys, key=lambda k: k.hint != hint)
        for trusted in ordered:
            try:
                trusted.key.verify(signature, signed, ec.ECDSA(hashes.SHA256()))
            except InvalidSignature:
                continue
            return trusted
        return None
