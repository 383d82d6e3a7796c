"""`check --record` and `attest --record` append signed entries; misuse is a clear error and
records nothing."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from engine.ledger.store import Ledger
from engine.repo import open_repo
from engine.repo.scripted import Step
from tests.support.cli import govops
from tests.support.repos import NOW, fixture, make_repo, unwaived


@pytest.fixture
def keyed(tmp_path: Path) -> tuple[Path, Path]:
    prefix = tmp_path / "ci"
    assert govops("keygen", "--output", str(prefix)).exit_code == 0
    repo = tmp_path / "repo"
    make_repo(repo, Step("acme", {**unwaived(fixture("acme-ml")),
                                  "keys/ci.pub": Path(f"{prefix}.pub").read_bytes()}))
    return repo, Path(f"{prefix}.key")


def test_check_record_appends_a_signed_decision_entry(keyed: tuple[Path, Path],
                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    repo, key = keyed
    monkeypatch.setenv("GOVOPS_ACTOR", "ci-bot@acme.test")
    run = govops("check", "--repo", str(repo), "--now", NOW, "--format", "json", "--record",
                 "--key", str(key))
    assert run.exit_code == 0, run.stderr
    assert "recorded ledger entry #1" in run.stderr
    [entry] = Ledger(open_repo(repo)).entries()
    assert entry.entry.type == "decision" and entry.entry.actor == "ci-bot@acme.test"
    assert entry.entry.details["decisionId"] == run.json()["decision_id"]
    assert json.loads(entry.files["decision.json"])["verdict"] == "pass"
    assert set(entry.files) == {"decision.json", "decision.sigstore.json", "entry.json",
                                "entry.sigstore.json", "policy-bundle.json"}
    # What replay needs: the policies the decision was made with, and the time it was as of.
    bundle = json.loads(entry.files["policy-bundle.json"])
    assert bundle["digest"] == run.json()["policy_digest"]
    assert entry.entry.details["evaluatedAt"] == NOW


def test_attest_record_appends_decision_and_aibom_entries(keyed: tuple[Path, Path],
                                                          tmp_path: Path) -> None:
    repo, key = keyed
    run = govops("attest", "--repo", str(repo), "--key", str(key), "--output",
                 str(tmp_path / "out"), "--now", NOW, "--record")
    assert run.exit_code == 0, run.stderr
    entries = Ledger(open_repo(repo)).entries()
    assert [e.entry.type for e in entries] == ["decision", "aibom"]
    assert entries[1].files["aibom.cdx.json"] == (tmp_path / "out" / "aibom.cdx.json").read_bytes()
    assert entries[1].entry.prev == entries[0].hash


@pytest.mark.parametrize(("args", "message"), [
    (["--record"], "choose one signer"),
    (["--key", "KEY"], "add --record"),
    (["--staged", "--record", "--key", "KEY"], "--record needs a commit"),
])
def test_misused_record_options_record_nothing(keyed: tuple[Path, Path], args: list[str],
                                               message: str) -> None:
    repo, key = keyed
    args = [str(key) if a == "KEY" else a for a in args]
    run = govops("check", "--repo", str(repo), "--now", NOW, *args)
    assert run.exit_code == 2 and message in run.stderr
    assert Ledger(open_repo(repo)).entries() == []
