"""RFC 3161 timestamps: time a signer cannot choose.

A receipt's signature is sent to a timestamp authority (TSA), whose signed response says when it
saw it; the response goes into the Sigstore bundle where sigstore-python puts them
(`verificationMaterial.timestampVerificationData.rfc3161Timestamps`). Verification, with the
`rfc3161-client` library sigstore already depends on, checks that a response is over exactly
this signature and chains to a TSA the trust root names; its time is then the receipt's
trusted time. A timestamp from any other TSA proves nothing and is refused.
"""

from __future__ import annotations

import base64
import datetime as dt
import functools
import json
import urllib.error
import urllib.request
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from engine.errors import GovopsError, Refused

if TYPE_CHECKING:
    from rfc3161_client import Verifier

CONTENT_TYPE = "application/timestamp-query"
TIMEOUT_SECONDS = 15


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
    except (ValueError, KeyError, TypeError):
        return []


@functools.lru_cache(maxsize=32)
def _verifier(certificates: tuple[str, ...]) -> Verifier:
    """Built once per TSA: `audit verify` checks a timestamp on every entry."""
    from cryptography import x509
    from rfc3161_client import VerifierBuilder

    parsed = [x509.load_pem_x509_certificate(pem.encode("ascii")) for pem in certificates]
    builder = VerifierBuilder().tsa_certificate(parsed[0])
    for cert in parsed[1:-1]:
        builder = builder.add_intermediate_certificate(cert)
    return builder.add_root_certificate(parsed[-1]).build()


def verify_timestamp(response: bytes, message: bytes,
                     authorities: Sequence[TimestampAuthority]) -> dt.datetime:
    """The time a trusted TSA saw `message`; Refused unless the response is over exactly it and
    chains to one of `authorities`."""
    from rfc3161_client import VerificationError, decode_timestamp_response

    try:
        parsed = decode_timestamp_response(response)
    except ValueError as exc:
        raise Refused(f"the timestamp is not an RFC 3161 response ({exc})") from None
    reasons = []
    for authority in authorities:
        try:
            _verifier(authority.certificates).verify_message(parsed, message)
        except VerificationError as exc:
            reasons.append(f"{authority.name}: {exc}")
            continue
        gen_time: dt.datetime = parsed.tst_info.gen_time
        return gen_time.astimezone(dt.UTC)
    if not authorities:
        raise Refused("no timestamp authority is trusted")
    raise Refused("the timestamp is not from a trusted timestamp authority ("
                  + "; ".join(reasons) + ")")
