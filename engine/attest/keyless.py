"""Keyless signing with sigstore-python: an OIDC identity token, a Fulcio certificate and a
Rekor entry, configured by a ClientTrustConfig (public Sigstore's, shipped with sigstore-python,
unless `--trust-config` names a private instance)."""

from __future__ import annotations

import json
import logging
import os
from pathlib import Path

from sigstore import dsse
from sigstore.errors import Error as SigstoreError
from sigstore.models import ClientTrustConfig
from sigstore.oidc import IdentityToken, detect_credential
from sigstore.sign import SigningContext

from engine.errors import GovopsError

TOKEN_ENV = "SIGSTORE_ID_TOKEN"


def load_trust_config(path: Path | None) -> ClientTrustConfig:
    """The given ClientTrustConfig file, or public Sigstore's as sigstore-python ships it
    (offline: no TUF refresh is attempted, so verification works without a network)."""
    logging.getLogger("sigstore").setLevel(logging.ERROR)  # "offline mode" is not news
    if path is None:
        return ClientTrustConfig.production(offline=True)
    try:
        return ClientTrustConfig.from_json(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise GovopsError(f"{path}: cannot read the trust config: {exc.strerror}") from None
    except Exception as exc:  # pydantic and sigstore raise several kinds for a bad file
        raise GovopsError(f"{path}: not a Sigstore ClientTrustConfig: "
                          f"{str(exc).splitlines()[0]}") from None


def identity_token() -> str:
    """SIGSTORE_ID_TOKEN, else the CI system's ambient OIDC credentials (GitHub Actions,
    GitLab, Buildkite, GCP) as sigstore-python detects them."""
    token = os.environ.get(TOKEN_ENV)
    if token:
        return token
    try:
        found = detect_credential()
    except SigstoreError as exc:
        raise GovopsError(f"no identity token: ambient credential detection failed: {exc}"
                          ) from None
    if not found:
        raise GovopsError(f"--keyless needs an OIDC identity token: set {TOKEN_ENV} or run "
                          "where ambient CI credentials are available")
    return found


class GitStatement(dsse.Statement):
    """sigstore-python validates subject digests against SHA-2/SHA-3 names only, but in-toto
    (and DESIGN.md) name the commit by `gitCommit`. The payload was built and checked by
    `statement.py`; this carries its exact bytes to signing, which uses only them (the PAE)."""

    def __init__(self, contents: bytes) -> None:
        self._contents = contents


class KeylessSigner:
    def __init__(self, trust_config: ClientTrustConfig, token: str) -> None:
        try:
            self._token = IdentityToken(token)
        except SigstoreError as exc:
            raise GovopsError(f"the identity token is not usable: {exc}") from None
        self._context = SigningContext.from_trust_config(trust_config)

    def sign(self, payload: bytes) -> str:
        try:
            with self._context.signer(self._token, cache=True) as signer:
                bundle = signer.sign_dsse(GitStatement(payload))
        except SigstoreError as exc:
            raise GovopsError(f"keyless signing failed: {exc}") from None
        return json.dumps(json.loads(bundle.to_json()), indent=2, sort_keys=True) + "\n"

