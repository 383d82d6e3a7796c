"""RFC 3161 timestamps against a real TSA (OpenSSL's `openssl ts -reply`) on 127.0.0.1: a
signature timestamped by a trusted TSA gets its time; another message, another TSA, a garbled
response or an unreachable TSA are refused."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import pytest

from engine.attest.bundle import parse_bundle
from engine.attest.signers import KeySigner
from engine.attest.timestamp import (
    TimestampError,
    request_timestamp,
    timestamps_of,
    verify_timestamp,
    with_timestamp,
)
from engine.errors import Refused
from tests.support.cli import govops
from tests.support.tsa import Tsa, start_tsa, tsa

__all__ = ["tsa"]  # the fixture, used by name


def test_a_trusted_tsa_dates_exactly_the_signature_it_saw(tsa: Tsa) -> None:
    before = dt.datetime.now(dt.UTC).replace(microsecond=0)
    response = request_timestamp(tsa.url, b"a signature")
    seen = verify_timestamp(response, b"a signature", [tsa.authority])
    assert before - dt.timedelta(seconds=2) <= seen <= dt.datetime.now(dt.UTC) + \
        dt.timedelta(seconds=2)
    assert len(tsa.requests) == 1
    with pytest.raises(Refused, match="not from a trusted timestamp authority"):
        verify_timestamp(response, b"another signature", [tsa.authority])


def test_a_timestamp_from_an_untrusted_tsa_is_refused(tsa: Tsa, tmp_path: Path) -> None:
    other, server = start_tsa(tmp_path / "other", "mallory TSA")
    try:
        response = request_timestamp(other.url, b"a signature")
    finally:
        server.shutdown()
        server.server_close()
    assert verify_timestamp(response, b"a signature", [other.authority])  # genuine, but...
    with pytest.raises(Refused, match="not from a trusted timestamp authority"):
        verify_timestamp(response, b"a signature", [tsa.authority])
    with pytest.raises(Refused, match="no timestamp authority is trusted"):
        verify_timestamp(response, b"a signature", [])
    with pytest.raises(Refused, match="not an RFC 3161 response"):
        verify_timestamp(b"junk", b"a signature", [tsa.authority])


def test_an_unreachable_tsa_is_one_clear_error(tmp_path: Path) -> None:
    stopped, server = start_tsa(tmp_path / "gone")
    server.shutdown()
    server.server_close()
    with pytest.raises(TimestampError, match=f"timestamp authority {stopped.url}"):
        request_timestamp(stopped.url, b"a signature")


def test_a_bundle_carries_its_timestamps_where_sigstore_puts_them(tsa: Tsa,
                                                                   tmp_path: Path) -> None:
    assert govops("keygen", "--output", str(tmp_path / "ci")).exit_code == 0
    bundle = KeySigner(tmp_path / "ci.key").sign(b'{"_type": "x"}')
    assert timestamps_of(bundle.encode()) == []
    response = request_timestamp(tsa.url, b"sig")
    stamped = with_timestamp(bundle, response)
    doc = json.loads(stamped)
    assert list(doc["verificationMaterial"]["timestampVerificationData"]) == [
        "rfc3161Timestamps"]
    assert timestamps_of(stamped.encode()) == [response]
    from sigstore_models.bundle.v1 import Bundle

    material = Bundle.from_json(stamped).verification_material  # the bundle schema reads it
    assert material.timestamp_verification_data is not None
    assert len(material.timestamp_verification_data.rfc3161_timestamps) == 1
    assert parse_bundle(stamped.encode()).signature == parse_bundle(bundle.encode()).signature
