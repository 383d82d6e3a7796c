"""Signing keys for the key path: ECDSA P-256, PEM files, the passphrase from the environment.

The private key never leaves this module as text: it is written once (mode 0600, encrypted
when GOVOPS_KEY_PASSPHRASE is set) and loaded into a cryptography key object; no error message
quotes it. The hint a bundle carries is the base64 SHA-256 of the DER public key, as cosign
writes it: it lets a verifier pick a key quickly, and never makes a key trusted.
"""

from __future__ import annotations

import base64
import hashlib
import os
from pathlib import Path

from cryptography.exceptions import UnsupportedAlgorithm
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

from engine.errors import GovopsError, InputError

PASSPHRASE_ENV = "GOVOPS_KEY_PASSPHRASE"


def _passphrase() -> bytes | None:
    value = os.environ.get(PASSPHRASE_ENV)
    return value.encode("utf-8") if value else None


def key_hint(public_key: ec.EllipticCurvePublicKey) -> str:
    der = public_key.public_bytes(serialization.Encoding.DER,
                                  serialization.PublicFormat.SubjectPublicKeyInfo)
    return base64.b64encode(hashlib.sha256(der).digest()).decode("ascii")


def generate(prefix: Path) -> tuple[Path, Path]:
    """Write PREFIX.key (0600) and PREFIX.pub; refuse to overwrite either."""
    private_path, public_path = Path(f"{prefix}.key"), Path(f"{prefix}.pub")
    for path in (private_path, public_path):
        if path.exists():
            raise GovopsError(f"{path}: already exists; govops never overwrites a key")
    key = ec.generate_private_key(ec.SECP256R1())
    secret = _passphrase()
    encryption: serialization.KeySerializationEncryption = (
        serialization.BestAvailableEncryption(secret) if secret
        else serialization.NoEncryption())
    private_pem = key.private_bytes(serialization.Encoding.PEM,
                                    serialization.PrivateFormat.PKCS8, encryption)
    public_pem = key.public_key().public_bytes(serialization.Encoding.PEM,
                                               serialization.PublicFormat.SubjectPublicKeyInfo)
    try:
        fd = os.open(private_path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "wb") as handle:
            handle.write(private_pem)
        public_path.write_bytes(public_pem)
    except OSError as exc:
        private_path.unlink(missing_ok=True)
        raise GovopsError(f"{prefix}: cannot write the key pair: {exc.strerror}") from None
    return private_path, public_path


def load_private(path: Path) -> ec.EllipticCurvePrivateKey:
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise InputError(str(path), None, f"cannot read the signing key: {exc.strerror}") from None
    secret = _passphrase()
    try:
        key = serialization.load_pem_private_key(data, password=secret)
    except TypeError:
        raise InputError(str(path), None, "the key is encrypted: set GOVOPS_KEY_PASSPHRASE"
                         if secret is None else "the key is not encrypted: unset "
                         "GOVOPS_KEY_PASSPHRASE") from None
    except (ValueError, UnsupportedAlgorithm):
        # cryptography says "Bad decrypt" for a wrong passphrase; never echo the key.
        raise InputError(str(path), None, "cannot load the signing key (wrong "
                         "GOVOPS_KEY_PASSPHRASE, or not a PEM private key)") from None
    if not isinstance(key, ec.EllipticCurvePrivateKey) or key.curve.name != "secp256r1":
        raise InputError(str(path), None, "the signing key must be ECDSA P-256")
    return key


def load_public(data: bytes, shown: str) -> ec.EllipticCurvePublicKey:
    try:
        key = serialization.load_pem_public_key(data)
    except (ValueError, UnsupportedAlgorithm):
        raise InputError(shown, None, "not a PEM public key") from None
    if not isinstance(key, ec.EllipticCurvePublicKey) or key.curve.name != "secp256r1":
        raise InputError(shown, None, "trusted keys must be ECDSA P-256 public keys")
    return key
