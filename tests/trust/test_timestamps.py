"""Trusted time (issue 13): once the trust root names a timestamp authority, every key-signed
entry and receipt carries an RFC 3161 timestamp of its signature from it (a real TSA on
127.0.0.1), entries agree with their timestamps, and a signer is judged at the time the TSA saw
it. Checked on fresh clones, as an auditor would."""

from __future__ import annotations

import datetime as dt
import json
import re
import time
from pathlib import Path

import pygit2
import pytest

from engine.attest.signers import KeySigner, TimestampingSigner
from engine.cli.audit import audit_verify
from engine.clock import instant, utc
from engine.ledger.entry import Draft
from engine.ledger.store import Ledger
from engine.repo import open_repo
from engine.repo.scripted import Step
from tests.support.cli import Run, govops, invoke
from tests.support.repos import NOW, fixture, make_repo, unwaived
from tests.support.trust import Keys, later, trusted
from tests.support.tsa import Tsa, start_tsa, tsa

__all__ = ["tsa"]  # the fixture, used by name


@pytest.fixture
def stamped(tmp_path: Path, tsa: Tsa) -> tuple[Path, Keys, str]:
    """A repo whose trust requires timestamps from `tsa`, and an attested, recorded commit."""
    keys = Keys(tmp_path / "keys").make("ci")
    make_repo(tmp_path / "repo", Step("acme", unwaived(fixture("acme-ml"))))
    pin = trusted(tmp_path / "repo", tmp_path / "keys", keys.pub("ci"))
    run = govops("trust", "add-tsa", "--repo", str(tmp_path / "repo"), "--name", "test-tsa",
                 "--url", tsa.url, "--cert-chain", str(tsa.chain_file), "--sign-with",
                 str(keys.key("trust-root")))
    assert run.exit_code == 0, run.stderr
    run = govops("attest", "--repo", str(tmp_path / "repo"), "--key", str(keys.key("ci")),
                 "--output", str(tmp_path / "out"), "--now", NOW, "--record")
    assert run.exit_code == 0, run.stderr
    return tmp_path / "repo", keys, pin


def fresh(repo: Path, where: Path, monkeypatch: pytest.MonkeyPatch, pin: str) -> Path:
    pygit2.clone_repository(str(repo), str(where))
    pygit2.Repository(str(where)).remotes["origin"].fetch(["+refs/govops/*:refs/govops/*"])
    monkeypatch.setenv("GOVOPS_TRUST_ROOT", pin)
    return where


def audit(repo: Path) -> Run:
    return invoke(audit_verify, "--repo", str(repo))


def test_recorded_entries_carry_timestamps_that_verify(
        stamped: tuple[Path, Keys, str], tsa: Tsa, tmp_path: Path,
        monkeypatch: pytest.MonkeyPatch) -> None:
    repo, _, pin = stamped
    # decision and AIBOM receipts, and the two entries signing them: four timestamps.
    assert len(tsa.requests) == 4
    for item in Ledger(open_repo(repo)).entries():
        for name in ("entry.sigstore.json", "decision.sigstore.json", "aibom.sigstore.json"):
            if name in item.files:
                material = json.loads(item.files[name])["verificationMaterial"]
                assert len(material["timestampVerificationData"]["rfc3161Timestamps"]) == 1
    clone = fresh(repo, tmp_path / "clone", monkeypatch, pin)
    run = audit(clone)
    assert run.exit_code == 0, run.stderr
    assert "ledger verified: 2 entries, 4 signatures" in run.stdout
    shown = govops("trust", "show", "--repo", str(clone))
    assert "timestamps required from (tolerance 300 s):" in shown.stdout
    assert f"test-tsa {tsa.url}" in shown.stdout


def test_an_entry_without_a_timestamp_is_refused(stamped: tuple[Path, Keys, str],
                                                 tmp_path: Path,
                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    repo, keys, pin = stamped
    Ledger(open_repo(repo)).append(Draft(type="verify", revision=None),
                                   KeySigner(keys.key("ci")), "ci", later(0))
    run = audit(fresh(repo, tmp_path / "clone", monkeypatch, pin))
    assert run.exit_code == 3
    assert "ledger REFUSED at entry #3 " in run.stderr
    assert "the signature carries no timestamp, and the trust requires one from test-tsa" \
        in run.stderr


def test_a_timestamp_from_an_untrusted_tsa_is_refused(stamped: tuple[Path, Keys, str],
                                                      tmp_path: Path,
                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    """(g) Mallory runs a TSA of her own that says whatever time she likes."""
    repo, keys, pin = stamped
    rogue, server = start_tsa(tmp_path / "rogue", "mallory TSA")
    try:
        Ledger(open_repo(repo)).append(Draft(type="verify", revision=None), TimestampingSigner(
            KeySigner(keys.key("ci")), rogue.url), "ci", later(0))
    finally:
        server.shutdown()
        server.server_close()
    run = audit(fresh(repo, tmp_path / "clone", monkeypatch, pin))
    assert run.exit_code == 3 and "entry #3 " in run.stderr
    assert "the timestamp is not from a trusted timestamp authority" in run.stderr


def test_an_entry_dated_away_from_its_timestamp_is_refused(
        stamped: tuple[Path, Keys, str], tsa: Tsa, tmp_path: Path,
        monkeypatch: pytest.MonkeyPatch) -> None:
    repo, keys, pin = stamped
    Ledger(open_repo(repo)).append(Draft(type="verify", revision=None), TimestampingSigner(
        KeySigner(keys.key("ci")), tsa.url), "ci", later(hours=2))
    run = audit(fresh(repo, tmp_path / "clone", monkeypatch, pin))
    assert run.exit_code == 3 and "entry #3 " in run.stderr
    assert re.search(r"says it was made at \S+, but a trusted TSA saw its signature at \S+, "
                     r"\d+ s apart \(tolerance 300 s\): it was back- or forward-dated",
                     run.stderr), run.stderr


def test_a_revoked_key_cannot_sign_later_and_claim_an_earlier_time(
        stamped: tuple[Path, Keys, str], tsa: Tsa, tmp_path: Path,
        monkeypatch: pytest.MonkeyPatch) -> None:
    """(g) The CI key is revoked from now. Its holder appends an entry dated as the ledger's
    last one (before the revocation, within the tolerance): the TSA's time says it was signed
    after the revocation, and that is the time it is judged at."""
    repo, keys, pin = stamped
    ledger = Ledger(open_repo(repo))
    tip = ledger.entries()[-1]
    # After every timestamp already in the ledger: an entry's stated time is floored to the
    # second and its TSA time can be the next second, so "the tip's time + 1 s" could fall
    # before the tip's own timestamp and refuse the tip (a race seen once under load).
    revoked_at = max(instant(tip.entry.time),
                     dt.datetime.now(dt.UTC).replace(microsecond=0)) + dt.timedelta(seconds=2)
    run = govops("trust", "revoke", "--repo", str(repo), "--role", "signers", "--key",
                 str(keys.pub("ci")), "--at", utc(revoked_at),
                 "--sign-with", str(keys.key("trust-root")))
    assert run.exit_code == 0, run.stderr
    while dt.datetime.now(dt.UTC) < revoked_at + dt.timedelta(seconds=1):
        time.sleep(0.1)  # the TSA has one-second resolution: sign strictly after the revocation
    ledger.append(Draft(type="verify", revision=None), TimestampingSigner(
        KeySigner(keys.key("ci")), tsa.url), "ci", tip.entry.time)
    run = audit(fresh(repo, tmp_path / "clone", monkeypatch, pin))
    assert run.exit_code == 3 and "entry #3 " in run.stderr
    assert "the signers of trust #" in run.stderr and "hold no key" in run.stderr
    assert "2 entries before it verified" in run.stderr
