"""Check an RFC 3161 timestamp token's signature against one TSA's certificate chain, at a
cost `audit verify` can pay on every entry.

rfc3161-client's Verifier is correct but costs ~0.6 ms a token: OpenSSL's PKCS7_verify builds
a certificate store and re-verifies the TSA's chain for every token, and the library re-parses
the embedded certificates each time. At 10,000 timestamped entries that alone is 6 s. Here the
chain (issued-by signatures, the leaf's critical id-kp-timeStamping EKU, CA constraints) is
checked once per TSA, and a token costs one signature verification: the SignerInfo must name the
TSA's certificate, its signed attributes must say TSTInfo and carry the digest of exactly the
TSTInfo the token holds, and the TSA's key must have signed those attributes. The TSTInfo itself
(time, message imprint) is read by rfc3161-client, after checking it is the signed one, byte for
byte. A test feeds both verifiers every single-byte corruption of real tokens: this one never
accepts what the library refuses.

DER is walked by hand (a few dozen lines: tags, lengths, nesting) because only byte ranges are
needed; anything that is not minimal, definite-length DER of the expected shape is refused.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import itertools
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, NamedTuple

from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa
from cryptography.hazmat.primitives.serialization import Encoding
from cryptography.x509.oid import ExtendedKeyUsageOID

from engine.errors import Refused

SEQUENCE, SET, OID, INTEGER, OCTETS = 0x30, 0x31, 0x06, 0x02, 0x04
CONTEXT_0, CONTEXT_1, IMPLICIT_0 = 0xA0, 0xA1, 0xA0


def _oid(dotted: str) -> bytes:
    """The DER content octets of an object identifier."""
    parts = [int(p) for p in dotted.split(".")]
    out = bytearray([40 * parts[0] + parts[1]])
    for part in parts[2:]:
        chunk = [part & 0x7F]
        part >>= 7
        while part:
            chunk.append(0x80 | (part & 0x7F))
            part >>= 7
        out.extend(reversed(chunk))
    return bytes(out)


SIGNED_DATA = _oid("1.2.840.113549.1.7.2")
TST_INFO = _oid("1.2.840.113549.1.9.16.1.4")
CONTENT_TYPE_ATTR = _oid("1.2.840.113549.1.9.3")
MESSAGE_DIGEST_ATTR = _oid("1.2.840.113549.1.9.4")
DIGESTS = {_oid("2.16.840.1.101.3.4.2.1"): "sha256", _oid("2.16.840.1.101.3.4.2.2"): "sha384",
           _oid("2.16.840.1.101.3.4.2.3"): "sha512"}
HASHES: dict[str, type[hashes.HashAlgorithm]] = {
    "sha256": hashes.SHA256, "sha384": hashes.SHA384, "sha512": hashes.SHA512}
ECDSA_WITH = {_oid("1.2.840.10045.4.3.2"): "sha256", _oid("1.2.840.10045.4.3.3"): "sha384",
              _oid("1.2.840.10045.4.3.4"): "sha512"}
RSA_WITH = {_oid("1.2.840.113549.1.1.11"): "sha256", _oid("1.2.840.113549.1.1.12"): "sha384",
            _oid("1.2.840.113549.1.1.13"): "sha512"}
RSA_ENCRYPTION = _oid("1.2.840.113549.1.1.1")


class _Malformed(Exception):
    pass


class _Tlv(NamedTuple):  # a tuple: thousands are made per `audit verify`
    tag: int
    start: int  # the first byte of the tag
    body: int  # the first byte of the content
    end: int


def _read(data: bytes, pos: int, end: int) -> _Tlv:
    if pos + 2 > end:
        raise _Malformed("truncated")
    tag, length, body = data[pos], data[pos + 1], pos + 2
    if tag & 0x1F == 0x1F:
        raise _Malformed("high tag number")
    if length & 0x80:
        count = length & 0x7F
        if count == 0 or count > 4 or body + count > end or data[body] == 0:
            raise _Malformed("not a definite, minimal length")
        length = int.from_bytes(data[body:body + count], "big")
        if length < 0x80:
            raise _Malformed("not a minimal length")
        body += count
    if body + length > end:
        raise _Malformed("truncated")
    return _Tlv(tag, pos, body, body + length)


def _children(data: bytes, parent: _Tlv) -> list[_Tlv]:
    found, pos = [], parent.body
    while pos < parent.end:
        child = _read(data, pos, parent.end)
        found.append(child)
        pos = child.end
    return found


def _expect(tlv: _Tlv, tag: int, what: str) -> _Tlv:
    if tlv.tag != tag:
        raise _Malformed(f"{what} has tag {tlv.tag:#x}, not {tag:#x}")
    return tlv


def _content(data: bytes, tlv: _Tlv) -> bytes:
    return data[tlv.body:tlv.end]


def _only(items: list[_Tlv], count: int, what: str) -> list[_Tlv]:
    if len(items) != count:
        raise _Malformed(f"{what} has {len(items)} parts, not {count}")
    return items


@dataclass(frozen=True)
class _SignerInfo:
    issuer: bytes  # the issuer Name, DER
    serial: int
    digest: str  # the digest algorithm of the signed attributes' messageDigest
    digest_oid: bytes
    signed_attributes: bytes  # re-tagged as the SET OF that was signed
    content_types: tuple[bytes, ...]
    message_digests: tuple[bytes, ...]
    algorithm: bytes
    signature: bytes


@dataclass(frozen=True)
class _Token:
    tst_info: bytes  # the DER TSTInfo the signature covers
    signer: _SignerInfo
    certificates: tuple[bytes, ...]  # embedded (unsigned, so only compared), DER


def _attributes(data: bytes, attrs: _Tlv) -> tuple[tuple[bytes, ...], tuple[bytes, ...]]:
    types: list[bytes] = []
    digests: list[bytes] = []
    for attr in _children(data, attrs):
        kind, values = _only(_children(data, _expect(attr, SEQUENCE, "an attribute")), 2,
                             "an attribute")
        oid = _content(data, _expect(kind, OID, "an attribute type"))
        if oid == CONTENT_TYPE_ATTR:
            value = _only(_children(data, _expect(values, SET, "attribute values")), 1,
                          "the content-type attribute")[0]
            types.append(_content(data, _expect(value, OID, "the content type")))
        elif oid == MESSAGE_DIGEST_ATTR:
            value = _only(_children(data, _expect(values, SET, "attribute values")), 1,
                          "the message-digest attribute")[0]
            digests.append(_content(data, _expect(value, OCTETS, "the message digest")))
    return tuple(types), tuple(digests)


def _signer_info(data: bytes, info: _Tlv) -> _SignerInfo:
    parts = _children(data, _expect(info, SEQUENCE, "the SignerInfo"))
    if len(parts) not in (6, 7) or parts[3].tag != IMPLICIT_0:
        raise _Malformed("the SignerInfo has no signed attributes")
    if len(parts) == 7 and parts[6].tag != CONTEXT_1:
        raise _Malformed("the SignerInfo ends with something other than unsigned attributes")
    version, sid, digest_alg, attrs, sig_alg, signature = parts[:6]
    if _content(data, _expect(version, INTEGER, "the SignerInfo version")) != b"\x01":
        raise _Malformed("the SignerInfo does not name its signer by issuer and serial")
    issuer, serial = _only(_children(data, _expect(sid, SEQUENCE, "the signer id")), 2,
                           "the signer id")
    _expect(issuer, SEQUENCE, "the issuer")
    digest_oid = _children(data, _expect(digest_alg, SEQUENCE, "the digest algorithm"))[0]
    digest_der = _content(data, _expect(digest_oid, OID, "the digest algorithm"))
    digest = DIGESTS.get(digest_der)
    if digest is None:
        raise _Malformed("the digest algorithm is not SHA-256/384/512")
    sig_oid = _children(data, _expect(sig_alg, SEQUENCE, "the signature algorithm"))[0]
    types, digests = _attributes(data, attrs)
    return _SignerInfo(
        issuer=data[issuer.start:issuer.end],
        serial=int.from_bytes(_content(data, _expect(serial, INTEGER, "the serial")), "big",
                              signed=True),
        digest=digest, digest_oid=digest_der,
        signed_attributes=bytes([SET]) + data[attrs.start + 1:attrs.end],
        content_types=types, message_digests=digests,
        algorithm=_content(data, _expect(sig_oid, OID, "the signature algorithm")),
        signature=_content(data, _expect(signature, OCTETS, "the signature")))


def _token(response: bytes) -> _Token:
    """The signed TSTInfo and the one SignerInfo of a DER TimeStampResp."""
    outer = _expect(_read(response, 0, len(response)), SEQUENCE, "the response")
    if outer.end != len(response):
        raise _Malformed("trailing bytes")
    token = _only(_children(response, outer), 2, "the response")[1]
    kind, wrapped = _only(_children(response, _expect(token, SEQUENCE, "the token")), 2,
                          "the token")
    if _content(response, _expect(kind, OID, "the content type")) != SIGNED_DATA:
        raise _Malformed("the token is not CMS SignedData")
    signed = _only(_children(response, _expect(wrapped, CONTEXT_0, "the content")), 1,
                   "the content")[0]
    parts = _children(response, _expect(signed, SEQUENCE, "the SignedData"))
    if len(parts) not in (4, 5) or any(p.tag != CONTEXT_0 for p in parts[3:-1]):
        raise _Malformed("the SignedData is not version, digests, content, [certs], infos "
                         "(a token carries no CRLs)")
    _expect(parts[0], INTEGER, "the SignedData version")
    digests = tuple(_content(response, _children(response, _expect(a, SEQUENCE, "a digest"))[0])
                    for a in _children(response, _expect(parts[1], SET, "the digests")))
    encapsulated = _children(response, _expect(parts[2], SEQUENCE, "the content info"))
    content_type, explicit = _only(encapsulated, 2, "the content info")
    if _content(response, _expect(content_type, OID, "the content type")) != TST_INFO:
        raise _Malformed("the signed content is not a TSTInfo")
    octets = _only(_children(response, _expect(explicit, CONTEXT_0, "the content")), 1,
                   "the content")[0]
    tst_info = _content(response, _expect(octets, OCTETS, "the content"))
    infos = _only(_children(response, _expect(parts[-1], SET, "the signer infos")), 1,
                  "the signer infos")
    embedded = [p for p in parts[3:-1] if p.tag == CONTEXT_0]
    certificates = tuple(response[c.start:c.end] for e in embedded
                         for c in _children(response, e))
    signer = _signer_info(response, infos[0])
    if signer.digest_oid not in digests:
        raise _Malformed("the SignedData does not list its signer's digest algorithm")
    return _Token(tst_info, signer, certificates)


@dataclass(frozen=True)
class TsaChain:
    """A TSA's certificates (its own first, the root last), checked once: each issued by the
    next, the issuers CAs, the TSA's own with a critical id-kp-timeStamping EKU."""

    leaf: x509.Certificate
    chain: tuple[x509.Certificate, ...]
    issuer: bytes  # the leaf's issuer Name, DER, as a SignerInfo names it
    serial: int
    der: bytes  # the leaf, as a token may embed it

    @classmethod
    def of(cls, certificates: Sequence[x509.Certificate]) -> TsaChain:
        leaf = certificates[0]
        for child, parent in itertools.pairwise(certificates):
            try:
                constraints = parent.extensions.get_extension_for_class(x509.BasicConstraints)
            except x509.ExtensionNotFound:
                constraints = None
            if constraints is None or not constraints.value.ca:
                raise Refused(f"the TSA certificate {parent.subject.rfc4514_string()} is not "
                              "a CA, yet issues another in the chain")
            try:
                child.verify_directly_issued_by(parent)
            except (ValueError, TypeError, InvalidSignature):
                raise Refused(f"the TSA certificate {child.subject.rfc4514_string()} is not "
                              f"issued by {parent.subject.rfc4514_string()}") from None
        try:
            usage = leaf.extensions.get_extension_for_class(x509.ExtendedKeyUsage)
        except x509.ExtensionNotFound:
            raise Refused("the TSA certificate has no extended key usage") from None
        if not usage.critical or ExtendedKeyUsageOID.TIME_STAMPING not in usage.value:
            raise Refused("the TSA certificate's extended key usage is not a critical "
                          "id-kp-timeStamping")
        return cls(leaf, tuple(certificates), leaf.issuer.public_bytes(), leaf.serial_number,
                   leaf.public_bytes(Encoding.DER))

    def valid_at(self, moment: dt.datetime) -> bool:
        return all(c.not_valid_before_utc <= moment <= c.not_valid_after_utc
                   for c in self.chain)


def _check_signature(chain: TsaChain, signer: _SignerInfo) -> None:
    key: Any = chain.leaf.public_key()
    data, signature = signer.signed_attributes, signer.signature
    try:
        if isinstance(key, ec.EllipticCurvePublicKey) and signer.algorithm in ECDSA_WITH:
            key.verify(signature, data, ec.ECDSA(HASHES[ECDSA_WITH[signer.algorithm]]()))
        elif isinstance(key, rsa.RSAPublicKey) and (signer.algorithm in RSA_WITH
                                                    or signer.algorithm == RSA_ENCRYPTION):
            name = RSA_WITH.get(signer.algorithm, signer.digest)
            key.verify(signature, data, padding.PKCS1v15(), HASHES[name]())
        else:
            raise Refused("the token's signature algorithm is not one the TSA's key makes "
                          "(ECDSA or RSA PKCS#1 v1.5 with SHA-2)")
    except InvalidSignature:
        raise Refused("the token's signature does not verify under the TSA's key") from None


def signed_tst_info(response: bytes, chain: TsaChain) -> bytes:
    """The DER TSTInfo of `response`, once it is shown signed by the TSA of `chain`; Refused
    otherwise. The caller still checks the time against the chain and the message imprint."""
    try:
        token = _token(response)
    except (_Malformed, IndexError) as exc:
        raise Refused(f"the timestamp token is malformed ({exc})") from None
    signer = token.signer
    if signer.issuer != chain.issuer or signer.serial != chain.serial:
        raise Refused("the token is not signed by the TSA's certificate (its signer id names "
                      "another)")
    if token.certificates and chain.der not in token.certificates:
        raise Refused("the token embeds certificates, but not the TSA's")
    if signer.content_types != (TST_INFO,):
        raise Refused("the token's signed attributes do not say it holds a TSTInfo")
    wanted = hashlib.new(signer.digest, token.tst_info).digest()
    if signer.message_digests != (wanted,):
        raise Refused("the token's signed digest is not that of the TSTInfo it holds")
    _check_signature(chain, signer)
    return token.tst_info
