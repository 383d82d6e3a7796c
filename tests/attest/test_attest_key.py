"""Receipts signed with a key: they verify, and every kind of tampering or untrusted signer is
refused with exit 3 and its reason (acceptance 1); the private key never leaks (acceptance 4)."""

from __future__ import annotations

import base64
import json
import os
import stat
from pathlib import Path

import pygit2
import pytest

from engine.attest.keys import PASSPHRASE_ENV
from engine.repo.scripted import Step, commit, stage
from engine.workdir import WorkDir
from tests.support.cli import Run, govops
from tests.support.repos import NOW, fixture, make_repo, unwaived
from tests.support.trust import Keys, trusted


def keygen(prefix: Path) -> Path:
    run = govops("keygen", "--output", str(prefix))
    assert run.exit_code == 0, run.stderr
    return prefix


def repo_with_key(root: Path, public: Path, *more: Step) -> Path:
    """The fixture with our CI key, and a trust root whose signer it is."""
    files = {**unwaived(fixture("acme-ml")), "keys/ci.pub": public.read_bytes()}
    make_repo(root, Step("acme with our CI key", files), *more)
    trusted(root, root.parent / "trust", public)
    return root


UNTRUSTED = "does not verify under any key of the signers of trust #1"


def attest(repo: Path, key: Path, out: Path, *args: str) -> Run:
    return govops("attest", "--repo", str(repo), "--key", str(key), "--output", str(out),
                  "--now", NOW, *args)


def verify(repo: Path, *args: str) -> Run:
    return govops("verify", "--repo", str(repo), *args)


@pytest.fixture
def signed(tmp_path: Path) -> tuple[Path, Path, Path]:
    """(repo, receipts dir, key prefix)"""
    prefix = keygen(tmp_path / "ci")
    repo = repo_with_key(tmp_path / "repo", Path(f"{prefix}.pub"))
    out = tmp_path / "out"
    run = attest(repo, Path(f"{prefix}.key"), out)
    assert run.exit_code == 0, run.stderr
    return repo, out, prefix


def _refused(run: Run, reason: str) -> None:
    assert run.exit_code == 3, run.stdout + run.stderr
    assert "REFUSED" in run.stderr and reason in run.stderr, run.stderr


def _edit_bundle(path: Path, change: str) -> None:
    bundle = json.loads(path.read_text())
    envelope = bundle["dsseEnvelope"]
    if change == "payload":
        payload = bytearray(base64.b64decode(envelope["payload"]))
        payload[len(payload) // 2] ^= 0x01
        envelope["payload"] = base64.b64encode(bytes(payload)).decode()
    elif change == "signature":
        signature = bytearray(base64.b64decode(envelope["signatures"][0]["sig"]))
        signature[-3] ^= 0x01
        envelope["signatures"][0]["sig"] = base64.b64encode(bytes(signature)).decode()
    elif change == "payloadType":
        envelope["payloadType"] = "application/json"
    path.write_text(json.dumps(bundle))


def test_receipts_of_a_fixture_commit_verify(signed: tuple[Path, Path, Path]) -> None:
    repo, out, _ = signed
    assert sorted(p.name for p in out.iterdir()) == [
        "aibom.cdx.json", "aibom.sigstore.json", "decision.json", "decision.sigstore.json"]
    run = verify(repo, str(out / "decision.sigstore.json"), str(out / "aibom.sigstore.json"))
    assert run.exit_code == 0, run.stderr
    assert run.stdout.count(f"signed by key {_keyid(signed[2])}") == 2
    pin = WorkDir(repo / ".git").trust_pin.read_text().strip()
    assert run.stdout.splitlines()[0].startswith("trusting the signers of trust #1 at ")
    assert f"trust root {pin} (pinned by " in run.stdout.splitlines()[0]
    bundle = json.loads((out / "decision.sigstore.json").read_text())
    assert bundle["mediaType"] == "application/vnd.dev.sigstore.bundle.v0.3+json"
    assert bundle["verificationMaterial"]["tlogEntries"] == []
    assert bundle["verificationMaterial"]["publicKey"]["hint"]
    statement = json.loads(base64.b64decode(bundle["dsseEnvelope"]["payload"]))
    assert statement["predicateType"] == "https://govops.dev/attestation/decision/v1"
    commit = statement["subject"][0]
    assert commit["name"] == "repo@" + commit["digest"]["gitCommit"]
    assert statement["subject"][1]["name"] == "decision.json"
    assert statement["predicate"] == json.loads((out / "decision.json").read_text())


@pytest.mark.parametrize(("change", "reason"), [
    ("payload", UNTRUSTED),
    ("signature", UNTRUSTED),
    ("payloadType", "payloadType is 'application/json'"),
])
def test_tampered_bundles_are_refused(signed: tuple[Path, Path, Path], change: str,
                                      reason: str) -> None:
    repo, out, _ = signed
    _edit_bundle(out / "decision.sigstore.json", change)
    _refused(verify(repo, str(out / "decision.sigstore.json")), reason)
    assert verify(repo, str(out / "aibom.sigstore.json")).exit_code == 0


def test_a_changed_artifact_is_refused(signed: tuple[Path, Path, Path]) -> None:
    repo, out, _ = signed
    decision = out / "decision.json"
    decision.write_text(decision.read_text().replace('"pass"', '"fail"', 1))
    _refused(verify(repo, str(out / "decision.sigstore.json")), "is not a subject")
    _refused(verify(repo, "--artifact", str(out / "aibom.cdx.json"),
                    str(out / "decision.sigstore.json")), "is not a subject")


def test_a_receipt_about_another_commit_is_refused(tmp_path: Path) -> None:
    prefix = keygen(tmp_path / "ci")
    repo = repo_with_key(tmp_path / "repo", Path(f"{prefix}.pub"),
                         Step("later", {"README.md": "later\n"}))
    out = tmp_path / "out"
    assert attest(repo, Path(f"{prefix}.key"), out, "--rev", "HEAD~1").exit_code == 0
    assert verify(repo, "--rev", "HEAD~1", str(out / "decision.sigstore.json")).exit_code == 0
    _refused(verify(repo, str(out / "decision.sigstore.json")), "the receipt is about commit")


def test_a_key_not_in_trust_keys_is_refused_even_with_a_trusted_hint(
        signed: tuple[Path, Path, Path], tmp_path: Path) -> None:
    repo, out, _ = signed
    other = keygen(tmp_path / "intruder")
    rogue = tmp_path / "rogue"
    assert attest(repo, Path(f"{other}.key"), rogue).exit_code == 0
    _refused(verify(repo, str(rogue / "decision.sigstore.json")), UNTRUSTED)
    trusted_hint = json.loads((out / "decision.sigstore.json").read_text())[
        "verificationMaterial"]["publicKey"]["hint"]
    bundle_path = rogue / "decision.sigstore.json"
    bundle = json.loads(bundle_path.read_text())
    bundle["verificationMaterial"]["publicKey"]["hint"] = trusted_hint
    bundle_path.write_text(json.dumps(bundle))
    _refused(verify(repo, str(bundle_path)), "hints are not trusted")


def test_a_key_a_commit_adds_to_govops_yaml_is_not_trusted(
        signed: tuple[Path, Path, Path], tmp_path: Path) -> None:
    """Attack (a) of issue 13: merge a commit listing your own key in govops.yaml, then sign
    with it. The trust root never granted it, so nothing it signs verifies."""
    repo, _, _ = signed
    intruder = keygen(tmp_path / "intruder")
    git = pygit2.Repository(str(repo))
    head_config = git.revparse_single("HEAD:govops.yaml").data
    assert b"keys/ci.pub" in head_config
    stage(git, {"keys/intruder.pub": Path(f"{intruder}.pub").read_bytes(),
                "govops.yaml": head_config.replace(b"keys/ci.pub", b"keys/intruder.pub")})
    commit(git, "trust me", "2026-11-21T09:00:00Z")
    out = tmp_path / "forged"
    assert attest(repo, Path(f"{intruder}.key"), out).exit_code == 0
    _refused(verify(repo, str(out / "decision.sigstore.json")), UNTRUSTED)


def test_without_a_trust_root_govops_yaml_trust_is_refused_with_the_migration(
        tmp_path: Path) -> None:
    prefix = keygen(tmp_path / "ci")
    files = {**unwaived(fixture("acme-ml")), "keys/ci.pub": Path(f"{prefix}.pub").read_bytes()}
    make_repo(tmp_path / "old", Step("acme", files))
    out = tmp_path / "out"
    assert attest(tmp_path / "old", Path(f"{prefix}.key"), out).exit_code == 0
    run = verify(tmp_path / "old", str(out / "decision.sigstore.json"))
    assert run.exit_code == 3 and run.stdout == ""
    assert run.stderr.strip().splitlines() == [
        "govops: error: refs/govops/trust holds no trust root, and govops.yaml's trust section "
        "no longer grants trust (anyone who can merge could add a key to it): make a trust "
        "root from it once, with a root key kept off the repository: govops trust init "
        "--from-config --root-key ROOT.pub --sign-with ROOT.key"]
    root = keygen(tmp_path / "root")
    legal = keygen(tmp_path / "legal")
    run = govops("trust", "init", "--repo", str(tmp_path / "old"), "--from-config",
                 "--root-key", f"{root}.pub", "--approver-key", f"{legal}.pub",
                 "--approver-owner", "legal@acme.test", "--sign-with", f"{root}.key")
    assert run.exit_code == 0, run.stderr
    run = verify(tmp_path / "old", str(out / "decision.sigstore.json"))
    assert run.exit_code == 0, run.stderr
    assert f"signed by key {_keyid(prefix)}" in run.stdout


def _keyid(prefix: Path) -> str:
    return Keys(prefix.parent).grant(prefix.name).keyid[:16]


def test_a_bundle_without_its_artifact_or_not_a_bundle_is_refused(
        signed: tuple[Path, Path, Path], tmp_path: Path) -> None:
    repo, out, _ = signed
    lone = tmp_path / "lone.sigstore.json"  # would cover lone.json, which is not there
    lone.write_bytes((out / "decision.sigstore.json").read_bytes())
    _refused(verify(repo, str(lone)), "no artifact to check the receipt against")
    junk = tmp_path / "decision.sigstore.json"
    junk.write_text('{"mediaType": "x"}')
    (tmp_path / "decision.json").write_text("{}")
    _refused(verify(repo, str(junk)), "not a Sigstore bundle")


# -- acceptance 4: the private key stays private ---------------------------------------------

def _key_material(private: Path) -> list[str]:
    lines = [ln for ln in private.read_text().splitlines() if not ln.startswith("-----")]
    return [ln for ln in lines if len(ln) > 16]


def test_the_private_key_is_0600_and_never_printed_or_embedded(tmp_path: Path) -> None:
    prefix = tmp_path / "ci"
    run = govops("keygen", "--output", str(prefix))
    private = Path(f"{prefix}.key")
    assert stat.S_IMODE(private.stat().st_mode) == 0o600
    secret = _key_material(private)
    assert secret
    repo = repo_with_key(tmp_path / "repo", Path(f"{prefix}.pub"))
    out = tmp_path / "out"
    runs = [run, attest(repo, private, out), verify(repo, str(out / "decision.sigstore.json"))]
    texts = [r.stdout + r.stderr for r in runs] + [p.read_text() for p in out.iterdir()]
    decoded = [base64.b64decode(json.loads(p.read_text())["dsseEnvelope"]["payload"]).decode()
               for p in out.glob("*.sigstore.json")]
    for text in texts + decoded:
        assert not any(line in text for line in secret)
    assert "PRIVATE KEY" not in "".join(texts + decoded)


def test_keygen_never_overwrites(tmp_path: Path) -> None:
    keygen(tmp_path / "ci")
    before = Path(f"{tmp_path / 'ci'}.key").read_bytes()
    run = govops("keygen", "--output", str(tmp_path / "ci"))
    assert run.exit_code == 2 and "already exists" in run.stderr
    assert Path(f"{tmp_path / 'ci'}.key").read_bytes() == before


def test_an_encrypted_key_signs_with_its_passphrase_and_fails_cleanly_without(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(PASSPHRASE_ENV, "correct horse battery staple")
    prefix = keygen(tmp_path / "ci")
    private = Path(f"{prefix}.key")
    assert "ENCRYPTED PRIVATE KEY" in private.read_text()
    repo = repo_with_key(tmp_path / "repo", Path(f"{prefix}.pub"))
    assert attest(repo, private, tmp_path / "ok").exit_code == 0
    monkeypatch.setenv(PASSPHRASE_ENV, "wrong passphrase")
    run = attest(repo, private, tmp_path / "wrong")
    assert run.exit_code == 2
    assert "wrong GOVOPS_KEY_PASSPHRASE" in run.stderr
    assert len(run.stderr.strip().splitlines()) == 1
    assert not (tmp_path / "wrong").exists()
    monkeypatch.delenv(PASSPHRASE_ENV)
    run = attest(repo, private, tmp_path / "none")
    assert run.exit_code == 2 and "set GOVOPS_KEY_PASSPHRASE" in run.stderr
    assert os.environ.get(PASSPHRASE_ENV) is None


def test_attest_needs_exactly_one_signer(signed: tuple[Path, Path, Path],
                                         tmp_path: Path) -> None:
    repo, _, prefix = signed
    run = govops("attest", "--repo", str(repo), "--output", str(tmp_path / "x"))
    assert run.exit_code == 2 and "--key FILE or --keyless" in run.stderr
    run = govops("attest", "--repo", str(repo), "--output", str(tmp_path / "x"), "--keyless",
                 "--key", f"{prefix}.key")
    assert run.exit_code == 2
    assert not (tmp_path / "x").exists()
