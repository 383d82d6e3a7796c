"""OpenSSF model signatures (issue 18, acceptance 4): the weights of acme's production chat
model are signed with the `model-signing` library itself (an elliptic-curve key, as
`model_signing sign key` does), the bundle and the public key committed beside the Model.
A signed model verifies; a changed file, another signer and a missing signature are refused by
MDL-006 and by the apply gate, which judges the revision again at deploy time."""

from __future__ import annotations

import contextlib
import json
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pygit2
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from model_signing import signing

import engine.commands.apply as apply_module
from engine.attest.model_signatures import FILES_VARIABLE
from engine.cli.deploy import apply
from engine.deploy import pulumi_run
from engine.ledger.store import Ledger
from engine.repo import open_repo
from engine.repo.scripted import Step
from tests.support.approvals import approve_all
from tests.support.cli import check, govops, invoke
from tests.support.pulumi_fakes import STACK, FakePulumi, approved_cluster
from tests.support.repos import NOW, fixture, make_repo
from tests.support.sigstore_mock import SigstoreMock, sigstore_mock

__all__ = ["sigstore_mock"]  # the fixture, used by name

MODEL = "llama-3-8b-instruct"
MODEL_FILE = f"models/{MODEL}.yaml"
SIGNATURE = """  signature:
    bundle: signatures/llama-3-8b-instruct.sig
    key: {key}
"""


def _key(folder: Path, name: str) -> tuple[Path, bytes]:
    key = ec.generate_private_key(ec.SECP256R1())
    private = folder / f"{name}.pem"
    private.write_bytes(key.private_bytes(serialization.Encoding.PEM,
                                          serialization.PrivateFormat.PKCS8,
                                          serialization.NoEncryption()))
    public = key.public_key().public_bytes(serialization.Encoding.PEM,
                                           serialization.PublicFormat.SubjectPublicKeyInfo)
    return private, public


@dataclass(frozen=True)
class Signed:
    repo: Path
    weights: Path  # GOVOPS_MODEL_FILES: holds <model name>/
    other_key: bytes


def _signed_repo(tmp: Path, key_path: str = "keys/model-publisher.pub",
                 config: bytes | None = None, ci: Path | None = None) -> Signed:
    """acme-ml with the chat model signed (its licence waiver approved, so that only MDL-006
    decides the verdict); `ci`: the key the trust root lets sign the ledger."""
    weights = tmp / "weights"
    model = weights / MODEL
    model.mkdir(parents=True)
    (model / "model.safetensors").write_bytes(b"\x00" * 4096)
    (model / "config.json").write_text('{"architectures": ["LlamaForCausalLM"]}')
    private, public = _key(tmp, "publisher")
    _, other = _key(tmp, "someone-else")
    bundle = tmp / "model.sig"
    signing.Config().use_elliptic_key_signer(private_key=private).sign(model, bundle)
    files = fixture("acme-ml")
    files[MODEL_FILE] = files[MODEL_FILE] + SIGNATURE.format(key=key_path).encode()
    files["signatures/llama-3-8b-instruct.sig"] = bundle.read_bytes()
    files["keys/model-publisher.pub"] = public
    files["keys/someone-else.pub"] = other
    if config is not None:
        files["govops.yaml"] = config
    make_repo(tmp / "repo", Step("signed chat model", files, time="2026-11-19T09:00:00Z"))
    approve_all(tmp / "repo", tmp / "trust", ci)
    return Signed(tmp / "repo", weights, other)


def _mdl006(run_json: dict[str, object]) -> list[dict[str, object]]:
    return [r for r in run_json["results"] if r["id"] == "MDL-006"]  # type: ignore[union-attr]


def _line_of_signature() -> int:
    text = (fixture("acme-ml")[MODEL_FILE] + SIGNATURE.encode()).decode()
    return text.splitlines().index("  signature:") + 1


def test_a_signed_model_verifies_and_the_aibom_says_by_whom(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    signed = _signed_repo(tmp_path)
    monkeypatch.setenv(FILES_VARIABLE, str(signed.weights))
    run = check(signed.repo, "--format", "json")
    assert _mdl006(run.json()) == []
    assert run.exit_code == 0, run.stdout
    aibom = json.loads(govops("bom", "--repo", str(signed.repo)).stdout)
    [model] = [c for c in aibom["components"] if c.get("name") == MODEL]
    props = {p["name"]: p["value"] for p in model["properties"]}
    assert props["govops:signature"] == "verified, signed by key keys/model-publisher.pub"


def test_a_changed_file_is_refused_at_the_signature_line(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    signed = _signed_repo(tmp_path)
    monkeypatch.setenv(FILES_VARIABLE, str(signed.weights))
    (signed.weights / MODEL / "model.safetensors").write_bytes(b"\x01" + b"\x00" * 4095)
    run = check(signed.repo, "--format", "json")
    assert run.exit_code == 1
    [result] = _mdl006(run.json())
    assert (result["file"], result["line"], result["severity"]) == (
        MODEL_FILE, _line_of_signature(), "deny")
    assert result["msg"] == (f"Model {MODEL}'s signature by key keys/model-publisher.pub does "
                             "not verify: model.safetensors differs from the signed manifest.")
    aibom = json.loads(govops("bom", "--repo", str(signed.repo)).stdout)
    [model] = [c for c in aibom["components"] if c.get("name") == MODEL]
    props = {p["name"]: p["value"] for p in model["properties"]}
    assert props["govops:signature"].startswith("not verified (signer key ")


def test_an_added_file_is_refused(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    signed = _signed_repo(tmp_path)
    monkeypatch.setenv(FILES_VARIABLE, str(signed.weights))
    (signed.weights / MODEL / "backdoor.py").write_text("import os\n")
    [result] = _mdl006(check(signed.repo, "--format", "json").json())
    assert "does not verify" in str(result["msg"])


def test_another_signer_is_refused(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    signed = _signed_repo(tmp_path, key_path="keys/someone-else.pub")
    monkeypatch.setenv(FILES_VARIABLE, str(signed.weights))
    [result] = _mdl006(check(signed.repo, "--format", "json").json())
    assert result["msg"] == (f"Model {MODEL}'s signature by key keys/someone-else.pub does not "
                             "verify: it was signed by another key.")


def test_a_missing_signature_is_refused_where_production_requires_one(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    config = fixture("acme-ml")["govops.yaml"].replace(
        b"  data: {}", b"  data: {requireModelSignatures: true}", 1)
    assert b"requireModelSignatures" in config
    signed = _signed_repo(tmp_path, config=config)
    monkeypatch.setenv(FILES_VARIABLE, str(signed.weights))
    results = _mdl006(check(signed.repo, "--format", "json").json())
    # The chat model is signed and verifies; the two other models prod-inference serves are not.
    assert sorted(r["name"] for r in results) == ["bge-large-en-v1.5", "mistral-7b-instruct-v0.3"]
    assert all("has no spec.signature: govops.yaml requires signed weights in production"
               in str(r["msg"]) for r in results)


def test_weights_out_of_reach_are_a_warning_not_a_pass(tmp_path: Path,
                                                        monkeypatch: pytest.MonkeyPatch) -> None:
    signed = _signed_repo(tmp_path)
    monkeypatch.delenv(FILES_VARIABLE, raising=False)
    run = check(signed.repo, "--format", "json")
    [result] = _mdl006(run.json())
    assert result["severity"] == "warn"
    assert "was not verified: its weights could not be reached" in str(result["msg"])


def test_the_signature_must_name_exactly_one_signer(tmp_path: Path) -> None:
    files = fixture("acme-ml")
    files[MODEL_FILE] += b"  signature:\n    bundle: signatures/x.sig\n"
    make_repo(tmp_path / "repo", Step("no signer", files))
    run = check(tmp_path / "repo")
    assert run.exit_code == 2
    assert run.stderr.startswith(f"govops: error: {MODEL_FILE}:{_line_of_signature()}: "
                                 "spec.signature names who signed the weights with exactly one")


def test_the_apply_gate_refuses_weights_changed_after_the_decision(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Attested (and recorded) while the weights matched their signature; the weights change;
    apply judges the revision again and refuses, recording nothing."""
    _deploy_host(tmp_path, monkeypatch)
    signed = _signed_repo(tmp_path, ci=tmp_path / "ci.pub")
    monkeypatch.setenv(FILES_VARIABLE, str(signed.weights))
    assert _attested(signed, tmp_path)["verdict"] == "pass"
    (signed.weights / MODEL / "config.json").write_text('{"architectures": ["Evil"]}')
    assert "evaluated again at 2026-11-21T10:00:00Z with its own policies it is 'fail' " \
           "(failing policies: MDL-006)" in _refused(signed, tmp_path, monkeypatch)


def _deploy_host(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A CI key, and Pulumi and the cluster as the deploy-time gate tests stand them in."""
    monkeypatch.delenv(pulumi_run.PASSPHRASE_ENV, raising=False)
    monkeypatch.delenv(pulumi_run.PASSPHRASE_FILE_ENV, raising=False)
    monkeypatch.setattr(pulumi_run, "pulumi_cli", FakePulumi)
    approved_cluster(monkeypatch)
    assert govops("keygen", "--output", str(tmp_path / "ci")).exit_code == 0


def _attested(signed: Signed, tmp_path: Path) -> dict[str, Any]:
    """`attest --record` of HEAD; the decision it wrote."""
    commit = str(pygit2.Repository(str(signed.repo)).head.target)
    run = govops("attest", "--repo", str(signed.repo), "--rev", commit, "--key",
                 str(tmp_path / "ci.key"), "--output", str(tmp_path / "out"), "--now", NOW,
                 "--record")
    assert run.exit_code == 0, run.stderr
    decision: dict[str, Any] = json.loads((tmp_path / "out" / "decision.json").read_text())
    return decision


def _refused(signed: Signed, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    """`apply` of HEAD a day later, which must refuse and record nothing; its error."""
    before = [e.entry.type for e in Ledger(open_repo(signed.repo)).entries()]
    commit = str(pygit2.Repository(str(signed.repo)).head.target)
    monkeypatch.setattr(apply_module, "utc_now", lambda: "2026-11-21T10:00:00Z")
    refused = invoke(apply, "--repo", str(signed.repo), "--stack", STACK, "--rev", commit,
                     "--key", str(tmp_path / "ci.key"))
    assert refused.exit_code == 1, refused.stdout + refused.stderr
    assert [e.entry.type for e in Ledger(open_repo(signed.repo)).entries()] == before
    return refused.stderr


KEYLESS = """  signature:
    bundle: signatures/llama-3-8b-instruct.sig
    identity:
      subject: {subject}
      issuer: {issuer}
"""


@contextlib.contextmanager
def _oidc_discovery() -> Iterator[str]:
    """An OIDC provider's discovery document on 127.0.0.1, for the length of the block."""
    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            base = f"http://127.0.0.1:{self.server.server_address[1]}"
            body = json.dumps({"issuer": base, "authorization_endpoint": f"{base}/auth",
                               "token_endpoint": f"{base}/token"}).encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


def _keyless_repo(tmp: Path, mock: SigstoreMock, subject: str) -> Signed:
    """The chat model signed keyless through the Sigstore mock (Fulcio certificate for the
    token's identity, Rekor entry), with model-signing's own Sigstore signer."""
    weights = tmp / "weights"
    model = weights / MODEL
    model.mkdir(parents=True)
    (model / "model.safetensors").write_bytes(b"\x00" * 4096)
    bundle = tmp / "model.sig"
    # model-signing reads an OIDC provider's configuration even when it is handed a token:
    # one on 127.0.0.1 answers it (the token is used as given).
    with _oidc_discovery() as issuer:
        signing.Config().use_sigstore_signer(
            identity_token=mock.token, oidc_issuer=issuer,
            trust_config=mock.trust_config).sign(model, bundle)
    files = fixture("acme-ml")
    files[MODEL_FILE] += KEYLESS.format(subject=subject, issuer=mock.issuer).encode()
    files["signatures/llama-3-8b-instruct.sig"] = bundle.read_bytes()
    make_repo(tmp / "repo", Step("keyless", files, time="2026-11-19T09:00:00Z"))
    approve_all(tmp / "repo", tmp / "trust")
    return Signed(tmp / "repo", weights, b"")


def test_a_keyless_signature_verifies_for_its_identity_only(
        tmp_path: Path, sigstore_mock: SigstoreMock, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GOVOPS_MODEL_TRUST_CONFIG", str(sigstore_mock.trust_config))
    signed = _keyless_repo(tmp_path / "right", sigstore_mock, sigstore_mock.identity)
    monkeypatch.setenv(FILES_VARIABLE, str(signed.weights))
    assert _mdl006(check(signed.repo, "--format", "json").json()) == []
    wrong = _keyless_repo(tmp_path / "wrong", sigstore_mock,
                          "https://github.com/someone/else/.github/workflows/x.yml@refs/heads/main")
    monkeypatch.setenv(FILES_VARIABLE, str(wrong.weights))
    [result] = _mdl006(check(wrong.repo, "--format", "json").json())
    assert result["severity"] == "deny"
    assert "https://github.com/someone/else/" in str(result["msg"])
    assert "does not verify" in str(result["msg"])


@pytest.mark.parametrize("case", ["another signer", "required and missing"])
def test_the_apply_gate_refuses_a_model_whose_signature_failed_its_decision(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, case: str) -> None:
    """Signed by another key than the one named, or unsigned where govops.yaml requires
    signed production weights: the recorded decision fails on MDL-006 and apply refuses it."""
    _deploy_host(tmp_path, monkeypatch)
    config = fixture("acme-ml")["govops.yaml"].replace(
        b"  data: {}", b"  data: {requireModelSignatures: true}", 1)
    signed = (_signed_repo(tmp_path, key_path="keys/someone-else.pub", ci=tmp_path / "ci.pub")
              if case == "another signer" else
              _signed_repo(tmp_path, config=config, ci=tmp_path / "ci.pub"))
    monkeypatch.setenv(FILES_VARIABLE, str(signed.weights))
    decision = _attested(signed, tmp_path)  # attested and recorded, verdict fail
    assert decision["verdict"] == "fail"
    assert {r["id"] for r in decision["results"] if r["severity"] == "deny"} == {"MDL-006"}
    assert "is 'fail', not pass: failing policies MDL-006" in _refused(signed, tmp_path,
                                                                        monkeypatch)
