"""Keyless signers: who a Fulcio certificate says signed, and the sigstore-python verification
policy that accepts only the trusted identities, saying why it refused."""

from __future__ import annotations

from cryptography.x509 import Certificate

from engine.attest.trust import TrustedIdentity


class IdentityPolicy:
    """A sigstore-python verification policy (`verify(cert)` raising VerificationError) that
    accepts a certificate issued to any trusted identity, and says why it refused."""

    def __init__(self, identities: tuple[TrustedIdentity, ...]) -> None:
        self._identities = identities

    def verify(self, cert: Certificate) -> None:
        from sigstore.errors import VerificationError

        issuer, subjects = certificate_identity(cert)
        if not self._identities:
            raise VerificationError("no keyless identity is trusted")
        for identity in self._identities:
            if identity.issuer == issuer and any(identity.matches(s) for s in subjects):
                return
        raise VerificationError(f"certificate identity {', '.join(sorted(subjects)) or '-'} "
                                f"from issuer {issuer or '-'} is not a trusted identity")


def certificate_identity(cert: Certificate) -> tuple[str | None, set[str]]:
    """The OIDC issuer (Fulcio's v2 extension, else v1) and the SAN values of a certificate."""
    from cryptography import x509

    issuer: str | None = None
    for oid, der in (("1.3.6.1.4.1.57264.1.8", True), ("1.3.6.1.4.1.57264.1.1", False)):
        try:
            value = cert.extensions.get_extension_for_oid(x509.ObjectIdentifier(oid)).value
        except x509.ExtensionNotFound:
            continue
        raw = value.value if isinstance(value, x509.UnrecognizedExtension) else b""
        issuer = _der_utf8(raw) if der else raw.decode("utf-8", "replace")
        break
    subjects: set[str] = set()
    try:
        san = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    except x509.ExtensionNotFound:
        return issuer, subjects
    subjects.update(san.get_values_for_type(x509.RFC822Name))
    subjects.update(san.get_values_for_type(x509.UniformResourceIdentifier))
    subjects.update(_der_utf8(o.value) for o in san.get_values_for_type(x509.OtherName))
    return issuer, subjects


def _der_utf8(raw: bytes) -> str:
    """The string of a DER UTF8String (tag 0x0c, short or long length form)."""
    if len(raw) < 2 or raw[0] != 0x0C:
        return raw.decode("utf-8", "replace")
    length, start = raw[1], 2
    if length & 0x80:
        count = length & 0x7F
        length, start = int.from_bytes(raw[2:2 + count], "big"), 2 + count
    return raw[start:start + length].decode("utf-8", "replace")
