"""Keyless receipts against the Sigstore project's own mock Fulcio/CT log/Rekor on 127.0.0.1
(acceptance 2), and independent tooling agreeing with ours (acceptance 3)."""

from __future__ import annotations

import base64
import json
from pathlib import Path

import pygit2
import pytest
from sigstore.models import Bundle

from engine.repo.scripted import Step
from tests.support.cli import Run, govops
from tests.support.repos import NOW, fixture, make_repo, unwaived
from tests.support.sigstore_mock import SigstoreMock, sigstore_mock, verify_with_sigstore_js
from tests.support.trust import Keys, trusted

__all__ = ["sigstore_mock"]  # the fixture, used by name


def _repo(root: Path, issuer: str, subject: str) -> Path:
    """The fixture, with a trust root whose one signer is the keyless identity given."""
    make_repo(root, Step("acme", unwaived(fixture("acme-ml"))))
    trusted(root, root.parent / f"{root.name}-trust", identities=[(issuer, subject)])
    return root


def _attest(repo: Path, mock: SigstoreMock, out: Path, monkeypatch: pytest.MonkeyPatch,
            token: str | None = None) -> Run:
    monkeypatch.setenv("SIGSTORE_ID_TOKEN", token or mock.token)
    return govops("attest", "--repo", str(repo), "--keyless", "--trust-config",
                  str(mock.trust_config), "--output", str(out), "--now", NOW)


def _verify(repo: Path, mock: SigstoreMock | None, *bundles: Path) -> Run:
    trust = ["--trust-config", str(mock.trust_config)] if mock else []
    return govops("verify", "--repo", str(repo), *trust, *map(str, bundles))


@pytest.fixture
def keyless(tmp_path: Path, sigstore_mock: SigstoreMock,
            monkeypatch: pytest.MonkeyPatch) -> tuple[Path, Path]:
    repo = _repo(tmp_path / "repo", sigstore_mock.issuer, sigstore_mock.identity)
    out = tmp_path / "out"
    run = _attest(repo, sigstore_mock, out, monkeypatch)
    assert run.exit_code == 0, run.stderr
    return repo, out


def test_keyless_receipts_verify_for_the_trusted_identity(keyless: tuple[Path, Path],
                                                          sigstore_mock: SigstoreMock) -> None:
    repo, out = keyless
    run = _verify(repo, sigstore_mock, out / "decision.sigstore.json", out / "aibom.sigstore.json")
    assert run.exit_code == 0, run.stderr
    assert run.stdout.count(f"signed by identity {sigstore_mock.identity} "
                            f"(issuer {sigstore_mock.issuer})") == 2
    bundle = json.loads((out / "decision.sigstore.json").read_text())
    assert bundle["verificationMaterial"]["certificate"]
    assert bundle["verificationMaterial"]["tlogEntries"][0]["kindVersion"]["kind"] == "dsse"
    statement = json.loads(base64.b64decode(bundle["dsseEnvelope"]["payload"]))
    assert "gitCommit" in statement["subject"][0]["digest"]


def test_a_regex_subject_matches_and_an_exact_one_must_be_exact(
        tmp_path: Path, sigstore_mock: SigstoreMock, monkeypatch: pytest.MonkeyPatch) -> None:
    prefix = sigstore_mock.identity.split("/.github/")[0] + "/"
    repo = _repo(tmp_path / "repo", sigstore_mock.issuer, "^" + prefix.replace(".", r"\."))
    out = tmp_path / "out"
    assert _attest(repo, sigstore_mock, out, monkeypatch).exit_code == 0
    run = _verify(repo, sigstore_mock, out / "decision.sigstore.json")
    assert run.exit_code == 0, run.stderr
    # The same prefix without `^` is an exact subject: it no longer matches. (The same fixture
    # commit, under a trust root that names the exact subject.)
    exact = _repo(tmp_path / "exact", sigstore_mock.issuer, prefix)
    assert str(pygit2.Repository(str(exact)).head.target) == str(
        pygit2.Repository(str(repo)).head.target)
    run = _verify(exact, sigstore_mock, out / "decision.sigstore.json")
    assert run.exit_code == 3 and "is not a trusted identity" in run.stderr


@pytest.mark.parametrize("wrong", ["identity", "issuer"])
def test_a_wrong_identity_or_issuer_is_refused(tmp_path: Path, sigstore_mock: SigstoreMock,
                                               monkeypatch: pytest.MonkeyPatch,
                                               wrong: str) -> None:
    repo = _repo(tmp_path / "repo", sigstore_mock.issuer, sigstore_mock.identity)
    token = (sigstore_mock.token_for(identity="https://github.com/mallory/evil/.github/x.yml")
             if wrong == "identity" else
             sigstore_mock.token_for(issuer="https://accounts.mallory.test"))
    out = tmp_path / "out"
    assert _attest(repo, sigstore_mock, out, monkeypatch, token).exit_code == 0
    run = _verify(repo, sigstore_mock, out / "decision.sigstore.json")
    assert run.exit_code == 3
    assert "Sigstore verification failed" in run.stderr
    assert "is not a trusted identity" in run.stderr


def test_a_tampered_keyless_payload_is_refused(keyless: tuple[Path, Path],
                                               sigstore_mock: SigstoreMock) -> None:
    repo, out = keyless
    path = out / "decision.sigstore.json"
    bundle = json.loads(path.read_text())
    payload = bytearray(base64.b64decode(bundle["dsseEnvelope"]["payload"]))
    payload[40] ^= 0x01
    bundle["dsseEnvelope"]["payload"] = base64.b64encode(bytes(payload)).decode()
    path.write_text(json.dumps(bundle))
    run = _verify(repo, sigstore_mock, path)
    assert run.exit_code == 3 and "Sigstore verification failed" in run.stderr


def test_the_public_sigstore_root_refuses_the_mock_bundle(keyless: tuple[Path, Path]) -> None:
    repo, out = keyless
    run = _verify(repo, None, out / "decision.sigstore.json")
    assert run.exit_code == 3
    assert "Sigstore verification failed" in run.stderr


def test_empty_identities_trust_no_certificate(tmp_path: Path, keyless: tuple[Path, Path],
                                               sigstore_mock: SigstoreMock) -> None:
    _, out = keyless
    root = tmp_path / "keys-only"  # a trust root whose signers are keys, no identity
    make_repo(root, Step("acme", unwaived(fixture("acme-ml"))))
    keys = Keys(tmp_path / "keys").make("ci")
    trusted(root, tmp_path / "keys-only-trust", keys.pub("ci"))
    run = _verify(root, sigstore_mock, out / "decision.sigstore.json")
    assert run.exit_code == 3
    assert "hold no keyless identity: no certificate bundle is trusted" in run.stderr


def test_no_identity_token_is_a_clear_error(tmp_path: Path, sigstore_mock: SigstoreMock,
                                            monkeypatch: pytest.MonkeyPatch) -> None:
    repo = _repo(tmp_path / "repo", sigstore_mock.issuer, sigstore_mock.identity)
    monkeypatch.delenv("SIGSTORE_ID_TOKEN", raising=False)
    for variable in ("GITHUB_ACTIONS", "ACTIONS_ID_TOKEN_REQUEST_URL", "GITLAB_CI",
                     "BUILDKITE", "GOOGLE_SERVICE_ACCOUNT_NAME"):
        monkeypatch.delenv(variable, raising=False)
    run = govops("attest", "--repo", str(repo), "--keyless", "--trust-config",
                 str(sigstore_mock.trust_config), "--output", str(tmp_path / "out"))
    assert run.exit_code == 2 and "SIGSTORE_ID_TOKEN" in run.stderr
    assert not (tmp_path / "out").exists()


# -- acceptance 3: independent implementations agree -------------------------------------

def test_our_keyless_bundle_loads_with_sigstore_models(keyless: tuple[Path, Path]) -> None:
    _, out = keyless
    bundle = Bundle.from_json((out / "aibom.sigstore.json").read_text())
    assert bundle.signing_certificate is not None


def test_sigstore_js_accepts_our_key_bundle_and_rejects_a_tampered_copy(tmp_path: Path) -> None:
    prefix = tmp_path / "ci"
    assert govops("keygen", "--output", str(prefix)).exit_code == 0
    public = Path(f"{prefix}.pub")
    root = tmp_path / "repo"
    make_repo(root, Step("acme", {**unwaived(fixture("acme-ml")), "keys/ci.pub": public.read_bytes()}))
    out = tmp_path / "out"
    run = govops("attest", "--repo", str(root), "--key", f"{prefix}.key", "--output", str(out),
                 "--now", NOW)
    assert run.exit_code == 0, run.stderr
    for name in ("decision.sigstore.json", "aibom.sigstore.json"):
        accepted = verify_with_sigstore_js(out / name, public)
        assert accepted.returncode == 0, accepted.stderr
    bundle = json.loads((out / "decision.sigstore.json").read_text())
    payload = bytearray(base64.b64decode(bundle["dsseEnvelope"]["payload"]))
    payload[10] ^= 0x01
    bundle["dsseEnvelope"]["payload"] = base64.b64encode(bytes(payload)).decode()
    tampered = tmp_path / "tampered.sigstore.json"
    tampered.write_text(json.dumps(bundle))
    refused = verify_with_sigstore_js(tampered, public)
    assert refused.returncode == 1 and refused.stderr.strip()
    other = tmp_path / "other"
    assert govops("keygen", "--output", str(other)).exit_code == 0
    assert verify_with_sigstore_js(out / "decision.sigstore.json",
                                   Path(f"{other}.pub")).returncode == 1


def recorded_keyless(root: Path, mock: SigstoreMock, monkeypatch: pytest.MonkeyPatch) -> Path:
    """The fixture trusting the mock's identity, with a keyless `check --record` entry."""
    repo = _repo(root, mock.issuer, mock.identity)
    monkeypatch.setenv("SIGSTORE_ID_TOKEN", mock.token)
    run = govops("check", "--repo", str(repo), "--now", NOW, "--record", "--keyless",
                 "--trust-config", str(mock.trust_config))
    assert run.exit_code == 0, run.stderr
    return repo


def test_a_keyless_ledger_verifies_against_the_trusted_identity(
        tmp_path: Path, sigstore_mock: SigstoreMock, monkeypatch: pytest.MonkeyPatch) -> None:
    from click.testing import CliRunner

    from engine.cli.audit import audit_verify

    repo = recorded_keyless(tmp_path / "repo", sigstore_mock, monkeypatch)
    verified = CliRunner().invoke(audit_verify, ["--repo", str(repo), "--trust-config",
                                                 str(sigstore_mock.trust_config)])
    assert verified.exit_code == 0, verified.stderr
    assert "ledger verified: 1 entry, 2 signatures" in verified.stdout
    refused = CliRunner().invoke(audit_verify, ["--repo", str(repo)])  # public Sigstore root
    assert refused.exit_code == 3 and "entry #1" in refused.stderr
