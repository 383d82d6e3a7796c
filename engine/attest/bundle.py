"""Sigstore bundle v0.3 documents: built for the key path with sigstore-models (the way
`cosign attest-blob --key --new-bundle-format` writes them: a `publicKey.hint`, no certificate,
no transparency-log entry), and read back for verification of either kind.
"""

from __future__ import annotations

import base64
import functools
import json
from dataclasses import dataclass
from typing import Final

from pydantic import ValidationError
from sigstore_models.bundle.v1 import Bundle, VerificationMaterial
from sigstore_models.common.v1 import PublicKeyIdentifier
from sigstore_models.intoto import Envelope, Signature

BUNDLE_MEDIA_TYPE: Final = "application/vnd.dev.sigstore.bundle.v0.3+json"


class BundleFormatError(ValueError):
    """The bytes are not a Sigstore bundle v0.3 with one DSSE signature."""


@dataclass(frozen=True)
class ParsedBundle:
    """What verification needs from a bundle, whatever its kind."""

    raw: bytes
    payload_type: str
    payload: bytes
    signature: bytes
    key_hint: str | None
    has_certificate: bool


def key_bundle(payload_type: str, payload: bytes, signature: bytes, hint: str) -> str:
    bundle = Bundle(
        media_type=BUNDLE_MEDIA_TYPE,
        verification_material=VerificationMaterial(
            public_key=PublicKeyIdentifier(hint=hint), tlog_entries=[]),
        dsse_envelope=Envelope(payload=base64.b64encode(payload), payload_type=payload_type,
                               signatures=[Signature(sig=base64.b64encode(signature))]),
    )
    return json.dumps(json.loads(bundle.to_json()), indent=2, sort_keys=True) + "\n"


@functools.lru_cache(maxsize=16)
def parse_bundle(raw: bytes) -> ParsedBundle:
    """Cached (the result is frozen): verifying an entry reads its bundle for the timestamp,
    then for the signature."""
    try:
        bundle = Bundle.from_json(raw)
    except (ValidationError, ValueError) as exc:
        first = str(exc).splitlines()[0]
        raise BundleFormatError(f"not a Sigstore bundle: {first}") from None
    if bundle.media_type != BUNDLE_MEDIA_TYPE:
        raise BundleFormatError(f"bundle media type {bundle.media_type} is not "
                                f"{BUNDLE_MEDIA_TYPE}")
    envelope = bundle.dsse_envelope
    if envelope is None:
        raise BundleFormatError("the bundle holds a message signature, not a DSSE envelope")
    if len(envelope.signatures) != 1:
        raise BundleFormatError(f"the DSSE envelope has {len(envelope.signatures)} signatures; "
                                "a receipt has exactly one")
    material = bundle.verification_material
    return ParsedBundle(
        raw=raw,
        payload_type=envelope.payload_type,
        payload=envelope.payload,  # sigstore-models decodes the base64 on validation
        signature=envelope.signatures[0].sig,
        key_hint=material.public_key.hint if material.public_key else None,
        has_certificate=material.public_key is None,
    )


def declared_signer(raw: bytes) -> str | None:
    """Who the bundle says signed it, unverified, for listings: `key <hint>` for a key bundle,
    `identity <subject> (issuer <issuer>)` for a certificate bundle; None for no bundle. Only
    verification (engine.attest.verify) says whether that signer is trusted."""
    try:
        bundle = Bundle.from_json(raw)
    except (ValidationError, ValueError):
        return None
    material = bundle.verification_material
    if material.public_key is not None:
        return f"key {material.public_key.hint}"
    if material.certificate is None:
        return None
    from cryptography import x509

    from engine.attest.identity import certificate_identity

    try:
        cert = x509.load_der_x509_certificate(material.certificate.raw_bytes)
    except ValueError:
        return None
    issuer, subjects = certificate_identity(cert)
    return f"identity {', '.join(sorted(subjects)) or '-'} (issuer {issuer or '-'})"
