"""Sigstore bundle v0.3 documents: built for the key path with sigstore-models (the way
`cosign attest-blob --key --new-bundle-format` writes them: a `publicKey.hint`, no certificate,
no transparency-log entry), and read back for verification of either kind.

Read back strictly (docs/verification.md): a bundle is accepted only in the form every Sigstore
client writes, because verifiers disagree on the others. A field given twice (sigstore-go's
protojson refuses it, sigstore-python keeps the last), a field in its protobuf spelling
(`payload_type`: sigstore-js ignores it), and bytes that are not canonical base64 (standard
alphabet, padded, nothing else: sigstore-python refuses unpadded input and ignores stray
characters, sigstore-go accepts unpadded and URL-safe input and refuses stray characters) are
refused before any library reads the bundle, so no two verifiers can read different meanings
into one receipt.
"""

from __future__ import annotations

import base64
import binascii
import functools
import json
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any, Final

from pydantic import ValidationError
from sigstore_models.bundle.v1 import Bundle, VerificationMaterial
from sigstore_models.common.v1 import PublicKeyIdentifier
from sigstore_models.intoto import Envelope, Signature

BUNDLE_MEDIA_TYPE: Final = "application/vnd.dev.sigstore.bundle.v0.3+json"


# The bundle's protobuf `bytes` fields (base64 in JSON), by JSON name, wherever they sit:
# the DSSE envelope, certificates, transparency-log entries, RFC 3161 timestamps, and a
# message signature.
BYTES_FIELDS: Final = frozenset({
    "payload", "sig", "rawBytes", "keyId", "signedEntryTimestamp", "rootHash", "hashes",
    "canonicalizedBody", "signedTimestamp", "digest", "signature"})


class BundleFormatError(ValueError):
    """The bytes are not a Sigstore bundle v0.3 with one DSSE signature."""


class _Lenient(ValueError):
    """JSON that parses, but not as every Sigstore verifier would read it."""


class _NotCanonical(_Lenient):
    """A bytes field that is not canonical base64 (where: found again for the message)."""


def canonical_base64(text: str) -> bool:
    """Whether `text` is exactly what standard, padded base64 of some bytes looks like: whole
    quads of the alphabet, padding only at the end (binascii's strict mode), and final bits
    that are zero (the last quad decodes and encodes back to itself). Decoding in C, once:
    `audit verify` checks a dozen fields per entry."""
    if len(text) % 4:
        return False
    try:
        binascii.a2b_base64(text, strict_mode=True)
    except ValueError:  # binascii.Error, or a character that is not ASCII
        return False
    tail = text[-4:]
    return base64.b64encode(base64.b64decode(tail)).decode("ascii") == tail


def _is_canonical(value: Any) -> bool:
    """A bytes field's value: a string, or (`hashes`) a list of them; other types are the
    schema's to refuse."""
    if isinstance(value, str):
        return canonical_base64(value)
    if isinstance(value, list):
        return all(canonical_base64(v) for v in value if isinstance(v, str))
    return True


def _one_of_each(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    """An object's fields, refusing one given twice (also as `payload_type` and
    `payloadType`, which protobuf reads as the same field), one in its protobuf spelling, and
    bytes that are not canonical base64 (checked here, while the parser builds the object: no
    second walk over the document; set operations, since `audit verify` reads a bundle per
    entry)."""
    fields = dict(pairs)
    if len(fields) != len(pairs):
        twice = next(name for i, (name, _) in enumerate(pairs)
                     if any(name == other for other, _ in pairs[:i]))
        raise _Lenient(f"the field {twice!r} appears twice in one object (Sigstore "
                       "verifiers disagree on which counts: sigstore-go refuses it)")
    for name in fields:
        if "_" in name:
            raise _Lenient(f"the field {name!r} is spelt the protobuf way; a bundle spells its "
                           "fields in camelCase, as every Sigstore client writes them")
    for name in fields.keys() & BYTES_FIELDS:
        if not _is_canonical(fields[name]):
            raise _NotCanonical(name)
    return fields


def _no_constant(name: str) -> Any:
    raise _Lenient(f"{name} is not JSON")


def _byte_fields(node: Any, path: str) -> Iterator[tuple[str, Any]]:
    """(path, value) of every bytes field under `node`, a list field's items one by one."""
    if isinstance(node, dict):
        for name, value in node.items():
            where = f"{path}.{name}" if path else name
            if name in BYTES_FIELDS and isinstance(value, list):
                yield from ((f"{where}[{i}]", item) for i, item in enumerate(value))
            elif name in BYTES_FIELDS and not isinstance(value, dict):
                yield where, value
            else:
                yield from _byte_fields(value, where)
    elif isinstance(node, list):
        for i, item in enumerate(node):
            yield from _byte_fields(item, f"{path}[{i}]")


def _where_not_canonical(raw: bytes, name: str) -> str:
    """The path of the first bytes field that is not canonical base64 (the document parsed
    again, leniently: only to name it)."""
    for where, value in _byte_fields(json.loads(raw), ""):
        if isinstance(value, str) and not canonical_base64(value):
            return where
    return name


def check_strict(raw: bytes) -> None:
    """BundleFormatError unless `raw` is JSON in the one form every Sigstore verifier reads
    alike (see the module's docstring); the schema itself is sigstore-models' to check."""
    try:
        json.loads(raw, object_pairs_hook=_one_of_each, parse_constant=_no_constant)
    except _NotCanonical as exc:
        raise BundleFormatError(
            "not a Sigstore bundle as verifiers agree on: "
            f"{_where_not_canonical(raw, str(exc))} is not canonical base64 (the standard "
            "alphabet, padded, no whitespace or other characters)") from None
    except _Lenient as exc:
        raise BundleFormatError(f"not a Sigstore bundle as verifiers agree on: {exc}") from None
    except (ValueError, RecursionError) as exc:  # UnicodeDecodeError and int limits included
        reason = "it nests too deep" if isinstance(exc, RecursionError) else str(exc)
        raise BundleFormatError(f"not a Sigstore bundle: not JSON ({reason})") from None


def _validation_reason(exc: ValidationError) -> str:
    """pydantic's first complaint, on one line: where, and what."""
    errors = exc.errors()
    if not errors:
        return str(exc).splitlines()[0]
    first = errors[0]
    where = ".".join(str(part) for part in first.get("loc", ())) or "the bundle"
    return " ".join(f"{where}: {first.get('msg', 'invalid')}".split())


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
    check_strict(raw)
    try:
        bundle = Bundle.from_json(raw)
    except ValidationError as exc:
        raise BundleFormatError(f"not a Sigstore bundle: {_validation_reason(exc)}") from None
    except (ValueError, RecursionError) as exc:
        first = (str(exc).splitlines() or [type(exc).__name__])[0]
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
        issuer, subjects = certificate_identity(cert)  # extensions are parsed only here
    except ValueError:
        return None
    return f"identity {', '.join(sorted(subjects)) or '-'} (issuer {issuer or '-'})"
