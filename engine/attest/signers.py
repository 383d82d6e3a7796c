"""The two ways to sign a receipt, behind one call: `sign(payload) -> bundle JSON`.

- KeySigner (here): a local ECDSA P-256 key; DSSE signed with securesystemslib, the bundle
  written by `bundle.key_bundle` with the key's hint and no transparency-log entry.
- KeylessSigner (`keyless.py`, which imports sigstore-python: 0.3 s the key path never pays).

`make_signer` chooses between them from the command line's --key / --keyless, and
`sign_file` signs the in-toto statement about one file whose JSON is also the predicate.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from engine.attest import statement as st
from engine.attest.bundle import key_bundle
from engine.attest.keys import key_hint, load_private
from engine.attest.statement import PAYLOAD_TYPE
from engine.errors import GovopsError


class Signer(Protocol):
    def sign(self, payload: bytes) -> str:
        """The Sigstore bundle (JSON text) of a DSSE envelope over an in-toto payload."""
        ...


class KeySigner:
    def __init__(self, key_path: Path) -> None:
        from securesystemslib.signer import CryptoSigner

        private = load_private(key_path)
        self._hint = key_hint(private.public_key())
        self._signer = CryptoSigner(private)

    def sign(self, payload: bytes) -> str:
        from securesystemslib.dsse import Envelope

        envelope = Envelope(payload, PAYLOAD_TYPE, {})
        signature = envelope.sign(self._signer)
        return key_bundle(PAYLOAD_TYPE, payload, bytes.fromhex(signature.signature), self._hint)


@dataclass(frozen=True)
class SignerOptions:
    key: Path | None = None
    keyless: bool = False
    trust_config: Path | None = None
    tsa_url: str | None = None  # timestamp every key signature here (engine.attest.timestamp)

    @property
    def chosen(self) -> bool:
        return self.key is not None or self.keyless


def make_signer(options: SignerOptions) -> Signer:
    if (options.key is None) == (not options.keyless):
        raise GovopsError("choose one signer: --key FILE or --keyless")
    if options.key is not None:
        signer = KeySigner(options.key)
        return TimestampingSigner(signer, options.tsa_url) if options.tsa_url else signer
    from engine.attest.keyless import KeylessSigner, identity_token, load_trust_config

    return KeylessSigner(load_trust_config(options.trust_config), identity_token())


class TimestampingSigner:
    """A key signer whose every signature is timestamped by a TSA (RFC 3161), the response
    stored in the bundle: the signer can no longer choose when it signed. Keyless bundles need
    none: Rekor's inclusion already dates them."""

    def __init__(self, inner: KeySigner, url: str) -> None:
        self._inner = inner
        self._url = url

    def sign(self, payload: bytes) -> str:
        from engine.attest.bundle import parse_bundle
        from engine.attest.timestamp import request_timestamp, with_timestamp

        bundle = self._inner.sign(payload)
        signature = parse_bundle(bundle.encode("utf-8")).signature
        return with_timestamp(bundle, request_timestamp(self._url, signature))


def sign_file(signer: Signer, predicate_type: str, repository: str, commit: str,
              name: str, text: str) -> str:
    """The receipt of one file whose JSON content is also the predicate."""
    document = st.statement(predicate_type, json.loads(text), repository, commit,
                            [st.Covered(name, text.encode("utf-8"))])
    return signer.sign(st.payload(document))
