"""RFC 3161 timestamps: time a signer cannot choose.

A receipt's signature is sent to a timestamp authority (TSA), whose signed response says when it
saw it; the response goes into the Sigstore bundle where sigstore-python puts them
(`verificationMaterial.timestampVerificationData.rfc3161Timestamps`). Verification, with the
`rfc3161-client` library sigstore already depends on to read it and engine.attest.tsa_token to
check its signature, makes sure a response is over exactly this signature and is signed by a TSA
the trust root names, with certificates valid then; its time is then the receipt's trusted
time. A timestamp from any other TSA proves nothing and is refused.
"""

from __future__ import annotations

import base64
import datetime as dt
import functools
import hashlib
import json
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from engine.errors import GovopsError, Refused

if TYPE_CHECKING:
    from engine.attest.tsa_token import TsaChain

CONTENT_TYPE = "application/timestamp-query"
TIMEOUT_SECONDS = 15
GRANTED = 0  # PKIStatus granted (RFC 3161 2.4.2); granted-with-mods is not accepted either
IMPRINT_HASHES = {"2.16.840.1.101.3.4.2.1": "sha256", "2.16.840.1.101.3.4.2.2": "sha384",
                  "2.16.840.1.101.3.4.2.3": "sha512"}


@dataclass(frozen=True)
class TimestampAuthority:
    """A TSA the trust root names: where to ask, and the certificates its responses must
    chain to (PEM, the TSA's own first and the root last)."""

    name: str
    url: str
    certificates: tuple[str, ...]


class TimestampError(GovopsError):
    """The TSA could not be reached or gave no usable response (nothing is recorded)."""


def request_timestamp(url: str, message: bytes) -> bytes:
    """The DER TimeStampResp of `url` over `message` (sha256), with a nonce it must echo."""
    import urllib.error  # here: 0.05 s to import, and only recording asks a TSA
    import urllib.request

    from rfc3161_client import TimestampRequestBuilder, decode_timestamp_response

    request = TimestampRequestBuilder().data(message).nonce(nonce=True).build()
    http = urllib.request.Request(url, data=request.as_bytes(), method="POST",
                                  headers={"Content-Type": CONTENT_TYPE})
    try:
        with urllib.request.urlopen(http, timeout=TIMEOUT_SECONDS) as reply:
            data: bytes = reply.read()
    except (urllib.error.URLError, OSError) as exc:
        raise TimestampError(f"timestamp authority {url}: {getattr(exc, 'reason', exc)}") from None
    try:
        response = decode_timestamp_response(data)
    except ValueError as exc:
        raise TimestampError(f"timestamp authority {url}: not a timestamp response ({exc})"
                             ) from None
    if response.tst_info.nonce != request.nonce:
        raise TimestampError(f"timestamp authority {url}: the response does not answer this "
                             "request (its nonce differs)")
    return data


def with_timestamp(bundle: str, response: bytes) -> str:
    """The bundle (JSON text) with the timestamp response added to its verification material."""
    doc = json.loads(bundle)
    material = doc.setdefault("verificationMaterial", {})
    stamps = material.setdefault("timestampVerificationData", {}).setdefault(
        "rfc3161Timestamps", [])
    stamps.append({"signedTimestamp": base64.b64encode(response).decode("ascii")})
    return json.dumps(doc, indent=2, sort_keys=True) + "\n"


def timestamps_of(bundle: bytes) -> list[bytes]:
    """The timestamp responses a bundle carries (none for an unparsable one)."""
    try:
        doc = json.loads(bundle)
        stamps = doc["verificationMaterial"]["timestampVerificationData"]["rfc3161Timestamps"]
        return [base64.b64decode(s["signedTimestamp"], validate=True) for s in stamps]
    except (ValueError, KeyError, TypeError, RecursionError):
        return []


@functools.lru_cache(maxsize=32)
def _chain(certificates: tuple[str, ...]) -> TsaChain:
    """Checked once per TSA: `audit verify` checks a timestamp on every entry."""
    from cryptography import x509

    from engine.attest.tsa_token import TsaChain

    return TsaChain.of([x509.load_pem_x509_certificate(pem.encode("ascii"))
                        for pem in certificates])


@dataclass(frozen=True)
class _Stamp:
    """What rfc3161-client read from a response (it parses lazily: all of it is read at once,
    so a malformed part is one refusal, never an exception halfway)."""

    status: int
    tst_info: bytes  # DER
    time: dt.datetime
    imprint_algorithm: str  # dotted OID
    imprint: bytes


def _read_stamp(response: bytes) -> _Stamp:
    from rfc3161_client import decode_timestamp_response

    try:
        parsed = decode_timestamp_response(response)
        info: Any = parsed.tst_info  # as_bytes() exists (the Rust class), not in the stubs
        return _Stamp(parsed.status, info.as_bytes(), info.gen_time.astimezone(dt.UTC),
                      info.message_imprint.hash_algorithm.dotted_string,
                      info.message_imprint.message)
    except ValueError as exc:
        raise Refused(f"the timestamp is not an RFC 3161 response ({exc})") from None


def _seen_by(response: bytes, stamp: _Stamp, message: bytes, authority: TimestampAuthority
             ) -> dt.datetime:
    from engine.attest.tsa_token import signed_tst_info

    try:
        chain = _chain(authority.certificates)
    except ValueError as exc:  # a certificate the trust names that cryptography cannot read
        raise Refused(f"its certificates do not parse ({' '.join(str(exc).split())})") from None
    if signed_tst_info(response, chain) != stamp.tst_info:
        raise Refused("the TSTInfo read is not the one the TSA signed")
    if not chain.valid_at(stamp.time):
        raise Refused(f"its certificates were not valid at {stamp.time.isoformat()}")
    name = IMPRINT_HASHES.get(stamp.imprint_algorithm)
    if name is None:
        raise Refused(f"the timestamp's message imprint uses {stamp.imprint_algorithm}, not "
                      "SHA-256/384/512")
    if hashlib.new(name, message).digest() != stamp.imprint:
        raise Refused("the timestamp is over another message")
    return stamp.time


def verify_timestamp(response: bytes, message: bytes,
                     authorities: Sequence[TimestampAuthority]) -> dt.datetime:
    """The time a trusted TSA saw `message`; Refused unless the response is over exactly it and
    is signed by one of `authorities` (engine.attest.tsa_token checks the signature)."""
    stamp = _read_stamp(response)
    if stamp.status != GRANTED:
        raise Refused(f"the timestamp response's status is {stamp.status}, not granted")
    if not authorities:
        raise Refused("no timestamp authority is trusted")
    reasons = []
    for authority in authorities:
        try:
            return _seen_by(response, stamp, message, authority)
        except Refused as exc:
            reasons.append(f"{authority.name}: {exc}")
    raise Refused("the timestamp is not from a trusted timestamp authority ("
                  + "; ".join(reasons) + ")")
