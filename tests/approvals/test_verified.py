"""Approval signatures remembered once verified (engine.approvals.verified): a commit does not
verify the same approvals again, and nothing is reused under other trust or other bytes."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

import engine.attest.verify as attest_verify
from engine.approvals.verified import VerifiedApprovals, verification_key
from engine.workdir import WorkDir
from tests.support.approvals import approve_all
from tests.support.cli import check

REMEMBERED = Path(".git") / "govops" / "approvals-verified.json"


def _refuse_all(*_args: Any, **_kwargs: Any) -> Any:
    raise AssertionError("verify_receipt was called: the remembered verification was not used")


def _decision(repo: Path) -> dict[str, Any]:
    run = check(repo, "--format", "json")
    assert run.exit_code == 0, run.stdout + run.stderr
    decision: dict[str, Any] = run.json()
    return decision


def test_a_verified_approval_is_not_verified_again(acme: Path, tmp_path: Path,
                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    approve_all(acme, tmp_path / "keys")
    first = _decision(acme)
    stored = json.loads((acme / REMEMBERED).read_text())
    assert len(stored) == 1
    [remembered] = stored.values()
    assert remembered["owners"] == ["legal@acme.test"]
    monkeypatch.setattr(attest_verify, "verify_receipt", _refuse_all)
    again = _decision(acme)
    assert again["decision_id"] == first["decision_id"]
    assert again["approvals"] == first["approvals"]


def test_a_remembered_verification_under_other_trust_is_not_used(
        acme: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The approvers' fingerprint is part of the key and of the value: a record whose trust
    does not match what the trust root says now is verified again (here: refused, because
    verification is switched off, so the waiver is not approved)."""
    approve_all(acme, tmp_path / "keys")
    _decision(acme)
    path = acme / REMEMBERED
    stored = json.loads(path.read_text())
    for value in stored.values():
        value["trust"] = "sha256:" + "0" * 64  # approvers the trust root never had
    path.write_text(json.dumps(stored))
    calls: list[str] = []

    def counting(*args: Any, **kwargs: Any) -> Any:
        calls.append("verify")
        return real(*args, **kwargs)

    real = attest_verify.verify_receipt
    monkeypatch.setattr(attest_verify, "verify_receipt", counting)
    _decision(acme)
    assert calls == ["verify"]


def test_other_bytes_miss() -> None:
    key = verification_key(b"receipt", b"entry", "abc", "2026-11-01T00:00:00Z", "sha256:t")
    assert key != verification_key(b"receipt2", b"entry", "abc", "2026-11-01T00:00:00Z",
                                   "sha256:t")
    assert key != verification_key(b"receipt", b"entry", "abd", "2026-11-01T00:00:00Z",
                                   "sha256:t")
    assert key != verification_key(b"receipt", b"entry", "abc", "2026-11-01T00:00:00Z",
                                   "sha256:u")


def test_a_damaged_file_only_costs_a_verification(acme: Path, tmp_path: Path) -> None:
    approve_all(acme, tmp_path / "keys")
    first = _decision(acme)
    (acme / REMEMBERED).write_text("{not json")
    assert VerifiedApprovals.open(acme / REMEMBERED).entries == {}
    assert _decision(acme)["decision_id"] == first["decision_id"]
    assert json.loads((acme / REMEMBERED).read_text())  # written again, whole


def test_certificate_bundles_are_not_remembered(acme: Path, tmp_path: Path,
                                                monkeypatch: pytest.MonkeyPatch) -> None:
    """A keyless verdict also depends on the Sigstore trust configuration: not remembered."""
    approve_all(acme, tmp_path / "keys")
    real = attest_verify.verify_receipt

    def as_certificate(*args: Any, **kwargs: Any) -> Any:
        import dataclasses

        return dataclasses.replace(real(*args, **kwargs), keyid=None)

    monkeypatch.setattr(attest_verify, "verify_receipt", as_certificate)
    _decision(acme)
    assert not (acme / REMEMBERED).exists()
    assert WorkDir(acme / ".git").verified_approvals == acme / REMEMBERED
