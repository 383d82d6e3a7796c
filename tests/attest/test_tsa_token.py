"""govops checks RFC 3161 token signatures itself (engine.attest.tsa_token, for speed); these
tests hold it to rfc3161-client's own Verifier on real tokens from OpenSSL's TSA: both accept
a genuine token, and no corruption of any byte is accepted by govops that the library refuses.
Then the attacks one by one: a TSA with the same names and serial but another key, a chain
whose TSA certificate may not timestamp or is not issued by the root, a token outside its
certificates' validity."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID
from rfc3161_client import VerificationError, VerifierBuilder, decode_timestamp_response

from engine.attest.timestamp import TimestampAuthority, request_timestamp, verify_timestamp
from engine.attest.tsa_token import TsaChain
from engine.errors import Refused
from tests.support.tsa import Tsa, start_tsa

MESSAGE = b"an entry's signature"


@dataclass(frozen=True)
class Stamped:
    tsa: Tsa
    response: bytes
    twin: bytes  # the same message stamped by a TSA with the same names and serial, other keys


@pytest.fixture(scope="module")
def stamped(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stamped]:
    folder = tmp_path_factory.mktemp("tsa")
    tsa, server = start_tsa(folder / "tsa")
    twin, twin_server = start_tsa(folder / "twin")  # "test TSA", serial 2, "test TSA root"
    try:
        yield Stamped(tsa, request_timestamp(tsa.url, MESSAGE),
                      request_timestamp(twin.url, MESSAGE))
    finally:
        for started in (server, twin_server):
            started.shutdown()
            started.server_close()


def library_time(response: bytes, message: bytes, authority: TimestampAuthority
                 ) -> dt.datetime | None:
    """rfc3161-client's answer: the time, or None when it refuses."""
    leaf, root = (x509.load_pem_x509_certificate(p.encode()) for p in authority.certificates)
    verifier = VerifierBuilder().tsa_certificate(leaf).add_root_certificate(root).build()
    try:
        parsed = decode_timestamp_response(response)
        verifier.verify_message(parsed, message)
    except (VerificationError, ValueError):
        return None
    gen_time: dt.datetime = parsed.tst_info.gen_time
    return gen_time.astimezone(dt.UTC)


def our_time(response: bytes, message: bytes, authority: TimestampAuthority
             ) -> dt.datetime | None:
    try:
        return verify_timestamp(response, message, [authority])
    except Refused:
        return None


def test_both_verifiers_accept_a_genuine_token_at_the_same_time(stamped: Stamped) -> None:
    ours = our_time(stamped.response, MESSAGE, stamped.tsa.authority)
    assert ours is not None
    assert ours == library_time(stamped.response, MESSAGE, stamped.tsa.authority)
    assert our_time(stamped.response, b"another signature", stamped.tsa.authority) is None


def test_no_corrupted_byte_passes_that_the_library_refuses(stamped: Stamped) -> None:
    authority, response = stamped.tsa.authority, stamped.response
    accepted_by_us_only, refused = [], 0
    for position in range(len(response)):
        for mask in (1, 2, 4, 8, 16, 32, 64, 128):  # every bit of every byte
            corrupted = bytearray(response)
            corrupted[position] ^= mask
            ours = our_time(bytes(corrupted), MESSAGE, authority)
            if ours is None:
                refused += 1
            elif library_time(bytes(corrupted), MESSAGE, authority) != ours:
                accepted_by_us_only.append((position, mask))
    assert accepted_by_us_only == []
    # Nearly every byte is signed or structural; what is left is the status text and the like.
    assert refused > 0.9 * 8 * len(response), refused


def test_a_twin_tsa_with_the_same_names_and_serial_is_refused(stamped: Stamped) -> None:
    """Its token names the trusted certificate's issuer and serial: only the signature, made
    with the twin's key, tells them apart."""
    authority = stamped.tsa.authority
    assert library_time(stamped.twin, MESSAGE, authority) is None
    with pytest.raises(Refused, match="embeds certificates, but not the TSA's"):
        verify_timestamp(stamped.twin, MESSAGE, [authority])


def test_a_twin_token_without_embedded_certificates_fails_on_its_signature(
        stamped: Stamped) -> None:
    from engine.attest.tsa_token import _token

    token = _token(stamped.twin)
    assert token.certificates, "openssl embeds the TSA certificate"
    stripped = _strip_certificates(stamped.twin)
    with pytest.raises(Refused, match="signature does not verify under the TSA's key"):
        verify_timestamp(stripped, MESSAGE, [stamped.tsa.authority])
    genuine = _strip_certificates(stamped.response)
    assert our_time(genuine, MESSAGE, stamped.tsa.authority) is not None


def _strip_certificates(response: bytes) -> bytes:
    """The response with the SignedData's embedded certificates removed (lengths re-encoded):
    they are unsigned, so a token is as valid without them."""
    from engine.attest.tsa_token import CONTEXT_0, _children, _read

    def encode(tag: int, content: bytes) -> bytes:
        n = len(content)
        if n < 0x80:
            return bytes([tag, n]) + content
        size = n.to_bytes((n.bit_length() + 7) // 8, "big")
        return bytes([tag, 0x80 | len(size)]) + size + content

    outer = _read(response, 0, len(response))
    status, token = _children(response, outer)
    kind, wrapped = _children(response, token)
    signed = _children(response, wrapped)[0]
    parts = [p for i, p in enumerate(_children(response, signed))
             if not (i >= 3 and p.tag == CONTEXT_0 and i < len(_children(response, signed)) - 1)]
    body = b"".join(response[p.start:p.end] for p in parts)
    new_token = encode(0x30, response[kind.start:kind.end]
                       + encode(0xA0, encode(0x30, body)))
    return encode(0x30, response[status.start:status.end] + new_token)


def _cert(name: str, issuer: str, key: ec.EllipticCurvePrivateKey,
          signer: ec.EllipticCurvePrivateKey, *, ca: bool, usage: bool = True,
          critical: bool = True, days: tuple[int, int] = (-400, 3650)) -> x509.Certificate:
    now = dt.datetime.now(dt.UTC)
    builder = (x509.CertificateBuilder()
               .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)]))
               .issuer_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, issuer)]))
               .public_key(key.public_key()).serial_number(7)
               .not_valid_before(now + dt.timedelta(days=days[0]))
               .not_valid_after(now + dt.timedelta(days=days[1])))
    if ca:
        builder = builder.add_extension(x509.BasicConstraints(ca=True, path_length=None),
                                        critical=True)
    if usage:
        builder = builder.add_extension(
            x509.ExtendedKeyUsage([ExtendedKeyUsageOID.TIME_STAMPING]), critical=critical)
    return builder.sign(signer, hashes.SHA256())


def test_a_chain_is_checked_once_and_fails_closed() -> None:
    root_key, leaf_key = ec.generate_private_key(ec.SECP256R1()), \
        ec.generate_private_key(ec.SECP256R1())
    root = _cert("r", "r", root_key, root_key, ca=True, usage=False)
    good = _cert("t", "r", leaf_key, root_key, ca=False)
    assert TsaChain.of([good, root]).leaf == good
    with pytest.raises(Refused, match="has no extended key usage"):
        TsaChain.of([_cert("t", "r", leaf_key, root_key, ca=False, usage=False), root])
    with pytest.raises(Refused, match="is not a critical id-kp-timeStamping"):
        TsaChain.of([_cert("t", "r", leaf_key, root_key, ca=False, critical=False), root])
    with pytest.raises(Refused, match="is not issued by"):
        TsaChain.of([_cert("t", "r", leaf_key, leaf_key, ca=False), root])
    not_ca = _cert("r", "r", root_key, root_key, ca=False, usage=False)
    with pytest.raises(Refused, match="is not a CA"):
        TsaChain.of([good, not_ca])
    expired = TsaChain.of([_cert("t", "r", leaf_key, root_key, ca=False, days=(-10, -5)),
                           root])
    assert not expired.valid_at(dt.datetime.now(dt.UTC))
    assert TsaChain.of([good, root]).valid_at(dt.datetime.now(dt.UTC))


def test_a_token_outside_its_certificates_validity_is_refused(tmp_path: Path) -> None:
    """A TSA whose certificate expired yesterday still answers (OpenSSL signs regardless); its
    token's time is after the certificate's end, so the library and govops refuse it."""
    expired, server = start_tsa(tmp_path / "expired", expired=True)
    try:
        response = request_timestamp(expired.url, MESSAGE)
    finally:
        server.shutdown()
        server.server_close()
    assert library_time(response, MESSAGE, expired.authority) is None
    with pytest.raises(Refused, match="certificates were not valid at"):
        verify_timestamp(response, MESSAGE, [expired.authority])
