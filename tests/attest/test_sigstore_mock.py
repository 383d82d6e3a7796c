"""The offline Sigstore harness, proved with sigstore-python's own API (no govops code).

Keyless: sigstore-python signs an in-toto statement as DSSE against @sigstore/mock's Fulcio and
Rekor v1 on 127.0.0.1 through a ClientTrustConfig, and its Verifier accepts the bundle for the
right identity and issuer only, refuses tampered bundles, and the public-good trust root refuses
the mock's bundles. Key bundles: sigstore-js (@sigstore/verify) accepts a publicKey-hint DSSE
bundle with the right key only.
"""

from __future__ import annotations

import base64
import hashlib
import json
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ObjectIdentifier
from sigstore import dsse
from sigstore._internal.rekor.client import RekorClient
from sigstore.errors import VerificationError
from sigstore.models import Bundle, ClientTrustConfig, TrustedRoot
from sigstore.oidc import IdentityError, IdentityToken
from sigstore.sign import SigningContext
from sigstore.verify import Verifier, policy
from sigstore_models.bundle.v1 import Bundle as BundleModel

from tests.support.sigstore_mock import (
    SigstoreMock,
    make_token,
    production_trusted_root_path,
    sigstore_mock,  # noqa: F401  (the fixture)
    verify_with_sigstore_js,
)

IN_TOTO = "application/vnd.in-toto+json"
BUNDLE_V03 = "application/vnd.dev.sigstore.bundle.v0.3+json"
DECISION = "https://govops.dev/attestation/decision/v1"
FULCIO_ISSUER_V2 = ObjectIdentifier("1.3.6.1.4.1.57264.1.8")
OTHER_IDENTITY = "https://github.com/mallory/govops/.github/workflows/release.yml@refs/heads/main"
OTHER_ISSUER = "https://token.other-issuer.test"
ARTIFACT = b"apiVersion: v1\nkind: Namespace\nmetadata:\n  name: llm-serving\n"


def statement(predicate: dict[str, Any] | None = None) -> dsse.Statement:
    return (
        dsse.StatementBuilder()
        .subjects(
            [
                dsse.Subject(
                    name="stacks/llm-serving/manifest.yaml",
                    digest=dsse.DigestSet({"sha256": hashlib.sha256(ARTIFACT).hexdigest()}),
                )
            ]
        )
        .predicate_type(DECISION)
        .predicate(predicate or {"result": "pass", "policies": 12, "failures": 0})
        .build()
    )


@pytest.fixture(scope="module")
def trust_config(sigstore_mock: SigstoreMock) -> ClientTrustConfig:  # noqa: F811
    return ClientTrustConfig.from_json(sigstore_mock.trust_config.read_text())


@pytest.fixture(scope="module")
def verifier(trust_config: ClientTrustConfig) -> Verifier:
    return Verifier(trusted_root=trust_config.trusted_root)


def sign(trust_config: ClientTrustConfig, token: str, stmt: dsse.Statement) -> Bundle:
    with SigningContext.from_trust_config(trust_config).signer(IdentityToken(token)) as signer:
        return signer.sign_dsse(stmt)


@pytest.fixture(scope="module")
def signed(sigstore_mock: SigstoreMock, trust_config: ClientTrustConfig) -> tuple[dsse.Statement, Bundle]:  # noqa: F811
    stmt = statement()
    return stmt, sign(trust_config, sigstore_mock.token, stmt)


def expected(mock: SigstoreMock) -> policy.Identity:
    return policy.Identity(identity=mock.identity, issuer=mock.issuer)


# -- the harness ------------------------------------------------------------------------------


def test_trust_config_points_only_at_the_local_mock(sigstore_mock: SigstoreMock, trust_config: ClientTrustConfig) -> None:  # noqa: F811
    assert set(sigstore_mock.urls) == {"fulcio", "rekor"}
    for url in sigstore_mock.urls.values():
        assert url.startswith("http://127.0.0.1:")
    raw = json.loads(sigstore_mock.trust_config.read_text())
    assert raw["mediaType"] == "application/vnd.dev.sigstore.clienttrustconfig.v0.1+json"
    signing = raw["signingConfig"]
    assert [s["url"] for s in signing["caUrls"]] == [sigstore_mock.urls["fulcio"]]
    assert [(s["url"], s["majorApiVersion"]) for s in signing["rekorTlogUrls"]] == [
        (sigstore_mock.urls["rekor"], 1)
    ]
    assert signing["tsaUrls"] == []
    root = raw["trustedRoot"]
    assert [t["baseUrl"] for t in root["tlogs"]] == [sigstore_mock.urls["rekor"]]
    # sigstore-python reads it back: one Fulcio CA (the mock's self-signed root), Rekor v1.
    (ca,) = trust_config.trusted_root.get_fulcio_certs()
    assert ca.subject == ca.issuer
    assert ca.subject.rfc4514_string() == "O=sigstore.mock,CN=sigstore"
    assert trust_config.signing_config.get_fulcio().url == sigstore_mock.urls["fulcio"]
    (rekor,) = trust_config.signing_config.get_tlogs()
    assert isinstance(rekor, RekorClient)  # Rekor v1: inclusion promise + integrated time
    assert rekor.url == sigstore_mock.urls["rekor"] + "/api/v1"


def test_token_is_an_identity_token_sigstore_python_accepts(sigstore_mock: SigstoreMock) -> None:  # noqa: F811
    token = IdentityToken(sigstore_mock.token)
    assert token.identity == sigstore_mock.identity
    assert token.issuer == sigstore_mock.issuer
    assert token.in_validity_period()
    other = IdentityToken(sigstore_mock.token_for(identity=OTHER_IDENTITY, issuer=OTHER_ISSUER))
    assert (other.identity, other.issuer) == (OTHER_IDENTITY, OTHER_ISSUER)


@pytest.mark.parametrize(
    ("token", "cause"),
    [
        (make_token(lifetime=-120), "ExpiredSignatureError"),
        (make_token(audience="not-sigstore"), "InvalidAudienceError"),
    ],
    ids=["expired", "audience"],
)
def test_bad_tokens_are_refused_by_sigstore_python(token: str, cause: str) -> None:
    with pytest.raises(IdentityError, match="malformed or missing claims") as refused:
        IdentityToken(token)
    assert type(refused.value.__cause__).__name__ == cause


# -- keyless: sign and verify -----------------------------------------------------------------


def test_sign_dsse_and_verify(sigstore_mock: SigstoreMock, verifier: Verifier, signed: tuple[dsse.Statement, Bundle]) -> None:  # noqa: F811
    stmt, bundle = signed
    payload_type, payload = verifier.verify_dsse(bundle, expected(sigstore_mock))
    assert payload_type == IN_TOTO
    assert payload == stmt._contents
    assert json.loads(payload)["predicateType"] == DECISION

    # The certificate from the mock Fulcio: the token's sub as a URI SAN, its iss in the
    # Fulcio issuer extension, chained to the CA in the trust config.
    cert = bundle.signing_certificate
    san = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert san.get_values_for_type(x509.UniformResourceIdentifier) == [sigstore_mock.identity]
    issuer_ext = cert.extensions.get_extension_for_oid(FULCIO_ISSUER_V2).value
    assert isinstance(issuer_ext, x509.UnrecognizedExtension)
    assert sigstore_mock.issuer.encode() in issuer_ext.value

    # The Rekor v1 entry: dsse 0.0.1, stored the way Rekor stores it, with an inclusion
    # promise (SET) and an integrated time: the verified time, no timestamp authority.
    raw = json.loads(bundle.to_json())
    assert raw["mediaType"] == BUNDLE_V03
    (entry,) = raw["verificationMaterial"]["tlogEntries"]
    assert entry["kindVersion"] == {"kind": "dsse", "version": "0.0.1"}
    assert entry["inclusionPromise"]["signedEntryTimestamp"]
    assert int(entry["integratedTime"]) > 0
    body = json.loads(base64.b64decode(entry["canonicalizedBody"]))
    assert set(body["spec"]) == {"envelopeHash", "payloadHash", "signatures"}
    assert body["spec"]["payloadHash"] == {
        "algorithm": "sha256",
        "value": hashlib.sha256(stmt._contents).hexdigest(),
    }
    assert not raw["verificationMaterial"].get("timestampVerificationData", {}).get("rfc3161Timestamps")
    log = sigstore_mock.log.read_text() if sigstore_mock.log else ""
    assert "fulcio POST /api/v2/signingCert -> 201" in log
    assert "rekor POST /api/v1/log/entries -> 201" in log


def test_bundle_round_trips_through_json(tmp_path: Path, sigstore_mock: SigstoreMock, verifier: Verifier, signed: tuple[dsse.Statement, Bundle]) -> None:  # noqa: F811
    stmt, bundle = signed
    path = tmp_path / "decision.sigstore.json"
    path.write_text(bundle.to_json())
    loaded = Bundle.from_json(path.read_bytes())
    assert json.loads(loaded.to_json()) == json.loads(bundle.to_json())
    assert loaded.signing_certificate == bundle.signing_certificate
    assert verifier.verify_dsse(loaded, expected(sigstore_mock)) == (IN_TOTO, stmt._contents)


def test_sign_artifact_hashedrekord_also_verifies(sigstore_mock: SigstoreMock, trust_config: ClientTrustConfig, verifier: Verifier) -> None:  # noqa: F811
    with SigningContext.from_trust_config(trust_config).signer(IdentityToken(sigstore_mock.token)) as signer:
        bundle = signer.sign_artifact(ARTIFACT)
    verifier.verify_artifact(ARTIFACT, bundle, expected(sigstore_mock))
    assert bundle.log_entry._inner.kind_version.kind == "hashedrekord"
    with pytest.raises(VerificationError):
        verifier.verify_artifact(ARTIFACT + b"#", bundle, expected(sigstore_mock))


@pytest.mark.parametrize(
    ("identity", "issuer"),
    [(OTHER_IDENTITY, None), (None, OTHER_ISSUER), (OTHER_IDENTITY, OTHER_ISSUER)],
    ids=["wrong-identity", "wrong-issuer", "both"],
)
def test_bundle_from_another_identity_is_refused(sigstore_mock: SigstoreMock, trust_config: ClientTrustConfig, verifier: Verifier, identity: str | None, issuer: str | None) -> None:  # noqa: F811
    stmt = statement()
    bundle = sign(trust_config, sigstore_mock.token_for(identity=identity, issuer=issuer), stmt)
    with pytest.raises(VerificationError, match=r"do(es)? not match"):
        verifier.verify_dsse(bundle, expected(sigstore_mock))
    # The bundle itself is sound: it verifies for the identity and issuer that signed it.
    own = policy.Identity(identity=identity or sigstore_mock.identity, issuer=issuer or sigstore_mock.issuer)
    assert verifier.verify_dsse(bundle, own) == (IN_TOTO, stmt._contents)


@pytest.mark.parametrize(
    ("identity", "issuer", "message"),
    [
        (OTHER_IDENTITY, None, "SANs do not match"),
        (None, OTHER_ISSUER, "Certificate's OIDCIssuer does not match"),
    ],
    ids=["identity", "issuer"],
)
def test_policy_for_another_identity_refuses_the_bundle(sigstore_mock: SigstoreMock, verifier: Verifier, signed: tuple[dsse.Statement, Bundle], identity: str | None, issuer: str | None, message: str) -> None:  # noqa: F811
    _, bundle = signed
    other = policy.Identity(identity=identity or sigstore_mock.identity, issuer=issuer or sigstore_mock.issuer)
    with pytest.raises(VerificationError, match=message):
        verifier.verify_dsse(bundle, other)


def _tamper(bundle: Bundle, where: str) -> Bundle:
    raw = json.loads(bundle.to_json())
    if where == "payload":
        envelope = raw["dsseEnvelope"]
        payload = bytearray(base64.b64decode(envelope["payload"]))
        index = payload.index(b'"pass"') + 1
        payload[index] ^= 0x01  # "pass" -> "qass": one byte
        envelope["payload"] = base64.b64encode(bytes(payload)).decode()
    elif where == "signature":
        sig = raw["dsseEnvelope"]["signatures"][0]
        other = ec.generate_private_key(ec.SECP256R1()).sign(b"x", ec.ECDSA(hashes.SHA256()))
        sig["sig"] = base64.b64encode(other).decode()
    elif where == "log-entry":
        entry = raw["verificationMaterial"]["tlogEntries"][0]
        entry["logIndex"] = str(int(entry["logIndex"]) + 1)  # covered by the SET
    return Bundle.from_json(json.dumps(raw))


@pytest.mark.parametrize(
    ("where", "message"),
    [
        ("payload", "DSSE: invalid signature"),
        ("signature", "DSSE: invalid signature"),
        ("log-entry", "SET: invalid inclusion promise"),
    ],
)
def test_tampered_bundle_is_refused(sigstore_mock: SigstoreMock, verifier: Verifier, signed: tuple[dsse.Statement, Bundle], where: str, message: str) -> None:  # noqa: F811
    _, bundle = signed
    tampered = _tamper(bundle, where)
    assert tampered.to_json() != bundle.to_json()
    with pytest.raises(VerificationError, match=message):
        verifier.verify_dsse(tampered, expected(sigstore_mock))


def test_public_good_trust_root_refuses_the_mock_bundle(sigstore_mock: SigstoreMock, signed: tuple[dsse.Statement, Bundle]) -> None:  # noqa: F811
    _, bundle = signed
    production = TrustedRoot.from_file(str(production_trusted_root_path()))
    assert "https://rekor.sigstore.dev" in [t.base_url for t in production._inner.tlogs]
    with pytest.raises(VerificationError, match="certificate chain"):
        Verifier(trusted_root=production).verify_dsse(bundle, expected(sigstore_mock))


# -- the mock services refuse what the real ones refuse ----------------------------------------


def _post(url: str, body: dict[str, Any], headers: dict[str, str] | None = None) -> tuple[int, dict[str, Any]]:
    request = urllib.request.Request(
        url,
        data=json.dumps(body).encode(),
        headers={"Content-Type": "application/json", **(headers or {})},
        method="POST",
    )
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
    try:
        with opener.open(request, timeout=30) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read())


@pytest.mark.parametrize(
    ("headers", "status", "message"),
    [
        ({}, 401, "missing bearer token"),
        ({"Authorization": "Bearer " + make_token(lifetime=-120)}, 401, "expired"),
        ({"Authorization": "Bearer " + make_token(audience="other")}, 401, "audience"),
        ({"Authorization": "Bearer " + make_token()}, 400, "not a base64-encoded PEM CSR"),
    ],
    ids=["no-token", "expired", "audience", "bad-csr"],
)
def test_fulcio_refuses_bad_requests(sigstore_mock: SigstoreMock, headers: dict[str, str], status: int, message: str) -> None:  # noqa: F811
    body = {"certificateSigningRequest": base64.b64encode(b"not a CSR").decode()}
    code, reply = _post(sigstore_mock.urls["fulcio"] + "/api/v2/signingCert", body, headers)
    assert (code, reply["code"]) == (status, status)
    assert message in reply["message"]


def test_rekor_refuses_a_dsse_entry_whose_signature_does_not_verify(sigstore_mock: SigstoreMock, signed: tuple[dsse.Statement, Bundle]) -> None:  # noqa: F811
    _, bundle = signed
    envelope = json.loads(bundle.to_json())["dsseEnvelope"]
    cert = bundle.signing_certificate.public_bytes(serialization.Encoding.PEM)

    def propose(envelope: dict[str, Any]) -> tuple[int, dict[str, Any]]:
        entry = {
            "kind": "dsse",
            "apiVersion": "0.0.1",
            "spec": {"proposedContent": {"envelope": json.dumps(envelope), "verifiers": [base64.b64encode(cert).decode()]}},
        }
        return _post(sigstore_mock.urls["rekor"] + "/api/v1/log/entries", entry)

    forged = {**envelope, "payload": base64.b64encode(b'{"_type": "forged"}').decode()}
    code, reply = propose(forged)
    assert code == 400
    assert "no verifier matches the envelope signature" in reply["message"]
    code, reply = propose(envelope)
    assert code == 201
    (logged,) = reply.values()
    body = json.loads(base64.b64decode(logged["body"]))
    assert body["kind"] == "dsse"
    assert body["spec"]["signatures"] == [
        {"signature": envelope["signatures"][0]["sig"], "verifier": base64.b64encode(cert).decode()}
    ]


# -- key bundles, cross-checked with sigstore-js -----------------------------------------------


def _pae(payload_type: str, payload: bytes) -> bytes:
    return b"DSSEv1 %d %s %d %s" % (len(payload_type), payload_type.encode(), len(payload), payload)


def key_bundle(key: ec.EllipticCurvePrivateKey, payload: bytes, hint: str) -> dict[str, Any]:
    """A Sigstore bundle v0.3 the way `cosign attest-blob --key` writes one: public key hint,
    no transparency log entry, a DSSE envelope with an in-toto statement."""
    signature = key.sign(_pae(IN_TOTO, payload), ec.ECDSA(hashes.SHA256()))
    return {
        "mediaType": BUNDLE_V03,
        "verificationMaterial": {"publicKey": {"hint": hint}, "tlogEntries": []},
        "dsseEnvelope": {
            "payload": base64.b64encode(payload).decode(),
            "payloadType": IN_TOTO,
            "signatures": [{"sig": base64.b64encode(signature).decode(), "keyid": ""}],
        },
    }


def _pem(key: ec.EllipticCurvePrivateKey) -> bytes:
    return key.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )


def _hint(key: ec.EllipticCurvePrivateKey) -> str:
    der = key.public_key().public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    return base64.b64encode(hashlib.sha256(der).digest()).decode()


@pytest.fixture(scope="module")
def signing_key() -> ec.EllipticCurvePrivateKey:
    return ec.generate_private_key(ec.SECP256R1())


@pytest.fixture
def key_files(tmp_path: Path, signing_key: ec.EllipticCurvePrivateKey) -> tuple[Path, Path, bytes]:
    """(bundle.json, key.pem, payload) for a key bundle signed with `signing_key`."""
    payload = statement({"result": "pass"})._contents
    bundle_path = tmp_path / "receipt.sigstore.json"
    bundle_path.write_text(json.dumps(key_bundle(signing_key, payload, _hint(signing_key))))
    pem_path = tmp_path / "key.pem"
    pem_path.write_bytes(_pem(signing_key))
    return bundle_path, pem_path, payload


def test_key_bundle_has_the_shape_sigstore_models_reads(key_files: tuple[Path, Path, bytes], signing_key: ec.EllipticCurvePrivateKey) -> None:
    bundle_path, _, payload = key_files
    model = BundleModel.from_json(bundle_path.read_text())
    assert model.media_type == BUNDLE_V03
    assert model.verification_material.public_key is not None
    assert model.verification_material.public_key.hint == _hint(signing_key)
    assert model.verification_material.tlog_entries == []
    assert model.verification_material.certificate is None
    assert model.dsse_envelope is not None
    assert model.dsse_envelope.payload == payload
    assert model.dsse_envelope.payload_type == IN_TOTO


def test_sigstore_js_accepts_key_bundle_with_the_right_key(key_files: tuple[Path, Path, bytes], signing_key: ec.EllipticCurvePrivateKey) -> None:
    bundle_path, pem_path, _ = key_files
    result = verify_with_sigstore_js(bundle_path, pem_path)
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout) == {
        "verified": True,
        "hint": _hint(signing_key),
        "payloadType": IN_TOTO,
        "predicateType": DECISION,
    }
    assert result.stderr == ""


def test_sigstore_js_refuses_a_tampered_payload(key_files: tuple[Path, Path, bytes]) -> None:
    bundle_path, pem_path, payload = key_files
    raw = json.loads(bundle_path.read_text())
    tampered = bytearray(payload)
    tampered[tampered.index(b'"pass"') + 1] ^= 0x01
    raw["dsseEnvelope"]["payload"] = base64.b64encode(bytes(tampered)).decode()
    bundle_path.write_text(json.dumps(raw))
    result = verify_with_sigstore_js(bundle_path, pem_path)
    assert result.returncode == 1
    assert result.stdout == ""
    assert "signature verification failed" in result.stderr


def test_sigstore_js_refuses_another_key_whatever_the_hint(tmp_path: Path, key_files: tuple[Path, Path, bytes], signing_key: ec.EllipticCurvePrivateKey) -> None:
    bundle_path, _, payload = key_files
    other = ec.generate_private_key(ec.SECP256R1())
    other_pem = tmp_path / "other.pem"
    other_pem.write_bytes(_pem(other))
    result = verify_with_sigstore_js(bundle_path, other_pem)
    assert result.returncode == 1
    assert "signature verification failed" in result.stderr
    # A bundle signed by the other key but carrying the trusted key's hint is refused too.
    forged = tmp_path / "forged.sigstore.json"
    forged.write_text(json.dumps(key_bundle(other, payload, _hint(signing_key))))
    result = verify_with_sigstore_js(forged, tmp_path / "key.pem")
    assert result.returncode == 1
    assert "signature verification failed" in result.stderr


def test_sigstore_js_refuses_a_certificate_bundle_as_a_key_bundle(tmp_path: Path, key_files: tuple[Path, Path, bytes], signed: tuple[dsse.Statement, Bundle]) -> None:
    _, pem_path, _ = key_files
    _, bundle = signed
    path = tmp_path / "keyless.sigstore.json"
    path.write_text(bundle.to_json())
    result = verify_with_sigstore_js(path, pem_path)
    assert result.returncode == 1
    assert "not a key bundle: verification material is certificate" in result.stderr
