"""The two ways to sign a receipt, behind one call: `sign(payload) -> bundle JSON`.

- KeySigner (here): a local ECDSA P-256 key; DSSE signed with securesystemslib, the bundle
  written by `bundle.key_bundle` with the key's hint and no transparency-log entry.
- KeylessSigner (`keyless.py`, which imports sigstore-python: 0.3 s the key path never pays).
"""

from __future__ import annotations

from pathlib import Path
from typing import Protocol

from engine.attest.bundle import key_bundle
from engine.attest.keys import key_hint, load_private
from engine.attest.statement import PAYLOAD_TYPE


class Signer(Protocol):
    def sign(self, payload: bytes) -> str:
        """The Sigstore bundle (JSON text) of a DSSE envelope over an in-toto payload."""
        ...


class KeySigner:
    def __init__(self, key_path: Path) -> None:
        from securesystemslib.signer import CryptoSigner  # type: ignore[attr-defined]

        private = load_private(key_path)
        self._hint = key_hint(private.public_key())
        self._signer = CryptoSigner(private)

    def sign(self, payload: bytes) -> str:
        from securesystemslib.dsse import Envelope

        envelope = Envelope(payload, PAYLOAD_TYPE, {})
        signature = envelope.sign(self._signer)
        return key_bundle(PAYLOAD_TYPE, payload, bytes.fromhex(signature.signature), self._hint)
