"""Hostile bundles (issue 19): what a third-party parser cannot read is a refusal (exit 3) with
its reason on one line, never a traceback; encodings Sigstore verifiers disagree on are
refused; a high-S ECDSA signature, which they all accept, is accepted (docs/verification.md).
"""

from __future__ import annotations

import base64
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pygit2
import pytest
from cryptography.hazmat.primitives.asymmetric.utils import (
    decode_dss_signature,
    encode_dss_signature,
)

from engine.attest.bundle import BundleFormatError, parse_bundle
from engine.cli.audit import audit_verify
from engine.ledger.entry import ENTRY_RECEIPT
from engine.ledger.store import LEDGER_REF
from tests.attest.test_attest_key import signed, verify
from tests.attest.test_attest_keyless import keyless, recorded_keyless
from tests.support.cli import Run, govops
from tests.support.sigstore_mock import SigstoreMock, sigstore_mock, verify_with_sigstore_js

__all__ = ["keyless", "signed", "sigstore_mock"]  # fixtures, used by name

P256_ORDER = 0xFFFFFFFF00000000FFFFFFFFFFFFFFFFBCE6FAADA7179E84F3B9CAC2FC632551
NOT_CANONICAL = ("is not canonical base64 (the standard alphabet, padded, no whitespace or "
                 "other characters)")
AGREED = "not a Sigstore bundle as verifiers agree on: "


def _refused_line(run: Run, bundle: Path) -> str:
    """The one line `verify` gives a refused bundle (exit 3), without its `REFUSED path: `."""
    assert run.exit_code == 3, run.stdout + run.stderr
    lines = run.stderr.strip().splitlines()
    assert len(lines) == 1, run.stderr
    prefix = f"REFUSED {bundle}: "
    assert lines[0].startswith(prefix), lines[0]
    return lines[0].removeprefix(prefix)


# -- item 1: a certificate that does not parse ---------------------------------------------------

def _bad_certificate(bundle: dict[str, Any]) -> None:
    bundle["verificationMaterial"]["certificate"]["rawBytes"] = base64.b64encode(
        b"not a certificate").decode()


def test_a_certificate_that_does_not_parse_is_refused(keyless: tuple[Path, Path],
                                                      sigstore_mock: SigstoreMock) -> None:
    repo, out = keyless
    path = out / "decision.sigstore.json"
    bundle = json.loads(path.read_text())
    _bad_certificate(bundle)
    path.write_text(json.dumps(bundle))
    run = govops("verify", "--repo", str(repo), "--trust-config",
                 str(sigstore_mock.trust_config), str(path))
    assert _refused_line(run, path).startswith(
        "the bundle's certificate does not parse: error parsing asn1 value")


def test_a_ledger_entry_whose_certificate_does_not_parse_is_refused(
        tmp_path: Path, sigstore_mock: SigstoreMock, monkeypatch: pytest.MonkeyPatch) -> None:
    from click.testing import CliRunner

    repo = recorded_keyless(tmp_path / "repo", sigstore_mock, monkeypatch)
    git = pygit2.Repository(str(repo))
    tip = git[git.references[LEDGER_REF].target]
    assert isinstance(tip, pygit2.Commit)
    receipt = git[tip.tree[ENTRY_RECEIPT].id]
    assert isinstance(receipt, pygit2.Blob)
    bundle = json.loads(receipt.data)
    _bad_certificate(bundle)
    builder = git.TreeBuilder(tip.tree)
    builder.insert(ENTRY_RECEIPT, git.create_blob(json.dumps(bundle).encode()),
                   pygit2.GIT_FILEMODE_BLOB)
    forged = git.create_commit(None, tip.author, tip.committer, tip.message, builder.write(),
                               list(tip.parent_ids))
    git.references.create(LEDGER_REF, forged, force=True)
    result = CliRunner().invoke(audit_verify, ["--repo", str(repo), "--trust-config",
                                               str(sigstore_mock.trust_config)],
                                catch_exceptions=False)
    assert result.exit_code == 3, result.output
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1
    assert lines[0].startswith(f"ledger REFUSED at entry #1 ({str(forged)[:12]}): signature "
                               "refused: the bundle's certificate does not parse: error "
                               "parsing asn1 value")


# -- item 4: encodings verifiers disagree on -----------------------------------------------------

def _wrapped(bundle: dict[str, Any]) -> str:
    envelope = bundle["dsseEnvelope"]
    envelope["payload"] = envelope["payload"][:76] + "\n" + envelope["payload"][76:]
    return "dsseEnvelope.payload"


def _spaced(bundle: dict[str, Any]) -> str:
    envelope = bundle["dsseEnvelope"]
    envelope["payload"] = envelope["payload"][:8] + " " + envelope["payload"][8:]
    return "dsseEnvelope.payload"


def _trailing(bundle: dict[str, Any]) -> str:
    bundle["dsseEnvelope"]["payload"] += "!!"
    return "dsseEnvelope.payload"


LENIENT_BASE64: dict[str, Callable[[dict[str, Any]], str]] = {
    "a line break": _wrapped, "a space": _spaced, "trailing characters": _trailing}


@pytest.mark.parametrize("change", sorted(LENIENT_BASE64))
def test_base64_that_is_not_canonical_is_refused(signed: tuple[Path, Path, Path],
                                                 change: str) -> None:
    repo, out, _ = signed
    path = out / "decision.sigstore.json"
    assert verify(repo, str(path)).exit_code == 0
    bundle = json.loads(path.read_text())
    where = LENIENT_BASE64[change](bundle)
    path.write_text(json.dumps(bundle, indent=2))
    assert _refused_line(verify(repo, str(path)), path) == f"{AGREED}{where} {NOT_CANONICAL}"


def _bundle(signature: str) -> dict[str, Any]:
    return {"mediaType": "application/vnd.dev.sigstore.bundle.v0.3+json",
            "verificationMaterial": {"publicKey": {"hint": "h"}, "tlogEntries": []},
            "dsseEnvelope": {"payload": base64.b64encode(b"{}").decode(),
                             "payloadType": "application/vnd.in-toto+json",
                             "signatures": [{"sig": signature}]}}


SIGNATURE = bytes(range(250, 256)) * 3 + b"\x01"  # its base64 has `+`, `/` and padding


@pytest.mark.parametrize(("change", "text"), [
    ("unpadded", base64.b64encode(SIGNATURE).decode().rstrip("=")),
    ("URL-safe", base64.urlsafe_b64encode(SIGNATURE).decode()),
    ("non-zero final bits", base64.b64encode(SIGNATURE).decode()[:-3] + "R=="),
])
def test_other_base64_forms_are_refused(change: str, text: str) -> None:
    """Parsed directly (which bytes a real signature's base64 holds, and so whether it is
    padded, depends on the key): each form is refused, the canonical one read."""
    canonical = base64.b64encode(SIGNATURE).decode()
    assert canonical.endswith("=") and "+" in canonical and "/" in canonical
    assert text != canonical
    assert parse_bundle(json.dumps(_bundle(canonical)).encode()).signature == SIGNATURE
    with pytest.raises(BundleFormatError) as refused:
        parse_bundle(json.dumps(_bundle(text)).encode())
    assert str(refused.value) == f"{AGREED}dsseEnvelope.signatures[0].sig {NOT_CANONICAL}"


def test_a_field_given_twice_is_refused(signed: tuple[Path, Path, Path]) -> None:
    """Python's json keeps the last; sigstore-go's protojson refuses a duplicate field."""
    repo, out, _ = signed
    path = out / "decision.sigstore.json"
    text = path.read_text()
    doubled = text.replace('"payloadType": "application/vnd.in-toto+json"',
                           '"payloadType": "text/plain", '
                           '"payloadType": "application/vnd.in-toto+json"')
    assert doubled != text
    path.write_text(doubled)
    assert _refused_line(verify(repo, str(path)), path) == (
        f"{AGREED}the field 'payloadType' appears twice in one object (Sigstore verifiers "
        "disagree on which counts: sigstore-go refuses it)")


def test_a_field_in_its_protobuf_spelling_is_refused(signed: tuple[Path, Path, Path]) -> None:
    repo, out, _ = signed
    path = out / "decision.sigstore.json"
    bundle = json.loads(path.read_text())
    envelope = bundle["dsseEnvelope"]
    envelope["payload_type"] = envelope.pop("payloadType")
    path.write_text(json.dumps(bundle))
    assert _refused_line(verify(repo, str(path)), path) == (
        f"{AGREED}the field 'payload_type' is spelt the protobuf way; a bundle spells its "
        "fields in camelCase, as every Sigstore client writes them")


@pytest.mark.parametrize("text", [b"[" * 100_000, b'{"mediaType": ' + b"9" * 5000 + b"}",
                                  b'{"mediaType": NaN}', b"\xff\xfe{}"])
def test_json_no_verifier_reads_is_refused_on_one_line(signed: tuple[Path, Path, Path],
                                                       text: bytes) -> None:
    repo, out, _ = signed
    path = out / "decision.sigstore.json"
    path.write_bytes(text)
    reason = _refused_line(verify(repo, str(path)), path)
    assert reason.startswith("not a Sigstore bundle")


# -- high-S: accepted, as every Sigstore verifier accepts it -------------------------------------

def _high_s(signature: bytes) -> bytes:
    """The other valid signature of the same message: (r, n - s). Anyone can make it from a
    signature, without the key."""
    r, s = decode_dss_signature(signature)
    return encode_dss_signature(r, P256_ORDER - s)


def test_the_high_s_twin_of_a_signature_verifies_as_with_sigstore_js(
        signed: tuple[Path, Path, Path]) -> None:
    """cryptography (OpenSSL), Go's crypto/ecdsa (sigstore-go, cosign) and Node (sigstore-js)
    all accept either S, and signers (ours, cosign's) do not normalise it: refusing high S
    would refuse half of every ledger. The twin changes no signed byte."""
    repo, out, prefix = signed
    path = out / "decision.sigstore.json"
    bundle = json.loads(path.read_text())
    signature = bundle["dsseEnvelope"]["signatures"][0]
    twin = _high_s(base64.b64decode(signature["sig"]))
    assert twin != base64.b64decode(signature["sig"])
    signature["sig"] = base64.b64encode(twin).decode()
    path.write_text(json.dumps(bundle, indent=2))
    run = verify(repo, str(path))
    assert run.exit_code == 0, run.stderr
    assert verify_with_sigstore_js(path, Path(f"{prefix}.pub")).returncode == 0


def test_a_signature_that_is_not_strict_der_is_refused(signed: tuple[Path, Path, Path]) -> None:
    """The failing twin: the same (r, s) with a byte after the DER sequence."""
    repo, out, prefix = signed
    path = out / "decision.sigstore.json"
    bundle = json.loads(path.read_text())
    signature = bundle["dsseEnvelope"]["signatures"][0]
    signature["sig"] = base64.b64encode(base64.b64decode(signature["sig"]) + b"\0").decode()
    path.write_text(json.dumps(bundle, indent=2))
    reason = _refused_line(verify(repo, str(path)), path)
    assert reason.startswith("the signature does not verify under any key of the signers of "
                             "trust #1 at ")
    assert verify_with_sigstore_js(path, Path(f"{prefix}.pub")).returncode == 1
