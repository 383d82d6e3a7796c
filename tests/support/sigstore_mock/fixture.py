"""Offline Sigstore for tests: @sigstore/mock's Fulcio, CT log and Rekor on 127.0.0.1.

`sigstore_mock` (a session fixture) starts `server.mjs` under node, writes a sigstore-python
`ClientTrustConfig` for it (trusted root: the mock's CA certificate, CT log key and Rekor key;
signing config: its Fulcio and Rekor v1 URLs) and an OIDC identity token it accepts, and stops
the server at the end of the session. Signing goes through the real sigstore-python API:

    config = ClientTrustConfig.from_json(mock.trust_config.read_text())
    with SigningContext.from_trust_config(config).signer(IdentityToken(mock.token)) as signer:
        bundle = signer.sign_dsse(statement)
    Verifier(trusted_root=config.trusted_root).verify_dsse(
        bundle, policy.Identity(identity=mock.identity, issuer=mock.issuer))

The mock's Fulcio puts the token's `sub` in the certificate's SAN (a URI) and its `iss` in the
Fulcio issuer extensions; `mock.token_for(identity=..., issuer=...)` makes a token for another
identity or issuer. Nothing here needs the network beyond 127.0.0.1.
"""

from __future__ import annotations

import base64
import json
import os
import selectors
import shutil
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from importlib import resources
from pathlib import Path
from typing import Any

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.utils import decode_dss_signature

ROOT = Path(__file__).resolve().parents[3]
HERE = Path(__file__).resolve().parent
SERVER = HERE / "server.mjs"
VERIFY_KEY_BUNDLE = HERE / "verify_key_bundle.mjs"
NODE_MODULES = ROOT / "node_modules"
NODE_PACKAGES = ("@sigstore/mock", "@sigstore/verify", "@sigstore/bundle")

ISSUER = "https://oidc.govops.test"
IDENTITY = "https://github.com/govops/govops/.github/workflows/release.yml@refs/heads/main"
AUDIENCE = "sigstore"
OPERATOR = "sigstore.mock"
STARTUP_TIMEOUT = 30.0

CLIENT_TRUST_CONFIG = "application/vnd.dev.sigstore.clienttrustconfig.v0.1+json"
TRUSTED_ROOT = "application/vnd.dev.sigstore.trustedroot+json;version=0.1"
SIGNING_CONFIG = "application/vnd.dev.sigstore.signingconfig.v0.2+json"

# A throwaway key for the test identity tokens. Neither sigstore-python (which never checks a
# token's signature) nor the mock Fulcio verifies it; signing just keeps the tokens ordinary JWTs.
_TOKEN_KEY = ec.generate_private_key(ec.SECP256R1())


def _b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def make_token(
    identity: str = IDENTITY,
    issuer: str = ISSUER,
    *,
    audience: str = AUDIENCE,
    lifetime: int = 3600,
    email: str | None = None,
) -> str:
    """An ES256 OIDC identity token (JWT) for `identity` (`sub`) from `issuer` (`iss`).

    It expires `lifetime` seconds from now; a negative one gives an already expired token.
    """
    now = int(time.time())
    issued = now if lifetime > 0 else now + lifetime - 60
    claims: dict[str, Any] = {
        "iss": issuer,
        "sub": identity,
        "aud": audience,
        "iat": issued,
        "nbf": issued,
        "exp": now + lifetime,
    }
    if email is not None:
        claims.update(email=email, email_verified=True)
    header = {"alg": "ES256", "typ": "JWT", "kid": "govops-test"}
    signing_input = (
        _b64url(json.dumps(header, separators=(",", ":")).encode())
        + "."
        + _b64url(json.dumps(claims, separators=(",", ":")).encode())
    )
    r, s = decode_dss_signature(
        _TOKEN_KEY.sign(signing_input.encode(), ec.ECDSA(hashes.SHA256()))
    )
    return signing_input + "." + _b64url(r.to_bytes(32, "big") + s.to_bytes(32, "big"))


@dataclass(frozen=True)
class SigstoreMock:
    """A running mock Sigstore instance (see the module docstring)."""

    trust_config: Path  # ClientTrustConfig JSON: trusted root + signing config
    token: str  # an identity token for `identity` from `issuer`
    issuer: str  # the token's `iss`, in the certificate's Fulcio issuer extension
    identity: str  # the token's `sub`, the certificate's SAN (a URI)
    urls: dict[str, str] = field(default_factory=dict)  # {"fulcio": ..., "rekor": ...}
    log: Path | None = None  # the server's stderr: one line per request

    def token_for(self, identity: str | None = None, issuer: str | None = None) -> str:
        """A token for another identity and/or issuer (same audience and lifetime)."""
        return make_token(identity or self.identity, issuer or self.issuer)


def _iso(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _log_id(spki_b64: str) -> str:
    digest = hashes.Hash(hashes.SHA256())
    digest.update(base64.b64decode(spki_b64))
    return base64.b64encode(digest.finalize()).decode()


def client_trust_config(info: dict[str, str]) -> dict[str, Any]:
    """The ClientTrustConfig JSON for the server's startup line `info`.

    Rekor v1 only, no timestamp authority: Rekor v1's signed entry timestamp (inclusion promise)
    and integrated time are the verified time sigstore-python's Verifier needs.
    """
    ca = x509.load_der_x509_certificate(base64.b64decode(info["ca_certificate"]))
    start = _iso(ca.not_valid_before_utc)

    def log(url: str, key: str) -> dict[str, Any]:
        return {
            "baseUrl": url,
            "hashAlgorithm": "SHA2_256",
            "publicKey": {
                "rawBytes": key,
                "keyDetails": "PKIX_ECDSA_P256_SHA_256",
                "validFor": {"start": start},
            },
            "logId": {"keyId": _log_id(key)},
        }

    def service(url: str) -> dict[str, Any]:
        return {"url": url, "majorApiVersion": 1, "validFor": {"start": start}, "operator": OPERATOR}

    return {
        "mediaType": CLIENT_TRUST_CONFIG,
        "trustedRoot": {
            "mediaType": TRUSTED_ROOT,
            "tlogs": [log(info["rekor"], info["rekor_public_key"])],
            "certificateAuthorities": [
                {
                    "subject": {"organization": OPERATOR, "commonName": "sigstore"},
                    "uri": info["fulcio"],
                    "certChain": {"certificates": [{"rawBytes": info["ca_certificate"]}]},
                    "validFor": {"start": start},
                }
            ],
            "ctlogs": [log(info["fulcio"], info["ctlog_public_key"])],
            "timestampAuthorities": [],
        },
        "signingConfig": {
            "mediaType": SIGNING_CONFIG,
            "caUrls": [service(info["fulcio"])],
            "oidcUrls": [],
            "rekorTlogUrls": [service(info["rekor"])],
            "tsaUrls": [],
            "rekorTlogConfig": {"selector": "ANY"},
            "tsaConfig": {"selector": "ANY"},
        },
    }


def production_trusted_root_path() -> Path:
    """The public-good Sigstore trusted root that sigstore-python ships (no TUF, no network)."""
    store = resources.files("sigstore._store") / "https%3A%2F%2Ftuf-repo-cdn.sigstore.dev"
    path = Path(str(store / "trusted_root.json"))
    if not path.is_file():
        pytest.fail(f"sigstore-python's bundled production trusted root is missing: {path}")
    return path


def require_node() -> str:
    """The node executable, with the npm packages from package-lock.json installed; else fail."""
    node = shutil.which("node")
    if node is None:
        pytest.fail(
            "node is not on PATH: the Sigstore test harness (tests/support/sigstore_mock) needs Node.js "
            "20+ and the npm packages from package-lock.json (`make test` runs `npm ci`)",
            pytrace=False,
        )
    missing = [p for p in NODE_PACKAGES if not (NODE_MODULES / p / "package.json").is_file()]
    if missing:
        pytest.fail(
            f"npm packages missing from {NODE_MODULES}: {', '.join(missing)}; "
            f"run `npm ci --no-audit --no-fund` in {ROOT} (`make test` does)",
            pytrace=False,
        )
    return node


def verify_with_sigstore_js(bundle_path: Path, pem_path: Path) -> subprocess.CompletedProcess[str]:
    """Verify a key bundle (publicKey hint, no tlog entry, DSSE in-toto) with @sigstore/verify.

    Returns the finished process: returncode 0 and a JSON line on stdout when the bundle
    verifies with the key in `pem_path`, non-zero and the reason on stderr when not.
    """
    node = require_node()
    return subprocess.run(
        [node, str(VERIFY_KEY_BUNDLE), str(bundle_path), str(pem_path)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def _read_startup_line(proc: subprocess.Popen[str], log: Path) -> dict[str, str]:
    assert proc.stdout is not None
    deadline = time.monotonic() + STARTUP_TIMEOUT
    with selectors.DefaultSelector() as selector:
        selector.register(proc.stdout, selectors.EVENT_READ)
        while time.monotonic() < deadline:
            if selector.select(timeout=0.1):
                line = proc.stdout.readline()
                if line:
                    info: dict[str, str] = json.loads(line)
                    return info
                break  # EOF: the server exited
            if proc.poll() is not None:
                break
    _stop(proc)
    pytest.fail(
        f"the Sigstore mock server ({SERVER.name}) did not start "
        f"(exit code {proc.returncode}):\n{log.read_text(errors='replace')}",
        pytrace=False,
    )


def _stop(proc: subprocess.Popen[str]) -> None:
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
    for stream in (proc.stdin, proc.stdout):
        if stream is not None:
            stream.close()


@pytest.fixture(scope="session")
def sigstore_mock(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SigstoreMock]:
    """Start the mock Sigstore services and yield a `SigstoreMock`; stop them afterwards."""
    node = require_node()
    workdir = tmp_path_factory.mktemp("sigstore-mock")
    log = workdir / "server.log"
    # requests honours *_PROXY variables; the mock is local, keep it that way.
    no_proxy = ",".join(filter(None, [os.environ.get("NO_PROXY"), "127.0.0.1"]))
    saved = {name: os.environ.get(name) for name in ("NO_PROXY", "no_proxy")}
    os.environ["NO_PROXY"] = os.environ["no_proxy"] = no_proxy
    with log.open("w") as stderr:
        proc = subprocess.Popen(
            [node, str(SERVER)],
            cwd=ROOT,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=stderr,
            text=True,
        )
    try:
        info = _read_startup_line(proc, log)
        trust_config = workdir / "trust_config.json"
        trust_config.write_text(json.dumps(client_trust_config(info), indent=2))
        yield SigstoreMock(
            trust_config=trust_config,
            token=make_token(),
            issuer=ISSUER,
            identity=IDENTITY,
            urls={"fulcio": info["fulcio"], "rekor": info["rekor"]},
            log=log,
        )
    finally:
        _stop(proc)
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value
