"""Issue 13, attack (f): a waiver approved only by its own author, by a key that is not an
approver, or by fewer approvers than the threshold. Each is refused on a fresh clone with no
`.git/govops` (the root fingerprint from the environment, as a CI secret gives it): by `audit
verify` (exit 3 naming the entry: the approval's signature, or with `--replay` the decision that
counted a bad approval) and by `apply` (exit 3, nothing deployed), even when an insider holding
the CI key records a `pass` decision that claims the waiver approved."""

from __future__ import annotations

import dataclasses
import json
from dataclasses import dataclass
from pathlib import Path

import pytest

from engine.attest import statement as st
from engine.attest.signers import KeySigner, sign_file
from engine.cli.attest import attest
from engine.cli.audit import audit_verify
from engine.cli.deploy import apply
from engine.commands.bom import BomOptions, run_bom
from engine.commands.check import CheckOptions, run_check
from engine.ledger.drafts import aibom_draft, decision_draft
from engine.ledger.entry import StoredEntry
from engine.ledger.store import Ledger
from engine.policy.decision import WaivedResult
from engine.repo import clone_with_records, open_repo
from engine.repo.scripted import Step
from tests.support.approvals import approve_at
from tests.support.cli import Run, check, invoke, one_error_line
from tests.support.repos import NOW, fixture, make_repo
from tests.support.trust import Keys, later, trust_init

WAIVER = "llama-license-ok"
LEGAL_AUTHOR = ("Lee Legal", "legal@acme.test")


@dataclass(frozen=True)
class Setup:
    repo: Path
    keys: Keys
    pin: str
    commit: str


def _setup(tmp_path: Path, author: tuple[str, str] = ("Ada Platform", "ada@acme.test"),
           approvers: tuple[str, ...] = ("legal",), threshold: int = 1) -> Setup:
    keys = Keys(tmp_path / "keys").make("ci", "mallory")
    files = {**fixture("acme-ml"), "keys/ci.pub": keys.pub("ci").read_bytes()}
    waiver = f"waivers/{WAIVER}.yaml"
    git = make_repo(tmp_path / "repo",
                    Step("acme", {k: v for k, v in files.items() if k != waiver}),
                    Step("waive the llama licence", {waiver: files[waiver]}, author=author))
    run = trust_init(tmp_path / "repo", keys, approvers=approvers,
                     approver_threshold=threshold)
    assert run.exit_code == 0, run.stderr
    pin = (tmp_path / "repo" / ".git" / "govops" / "trust-root").read_text().strip()
    return Setup(tmp_path / "repo", keys, pin, str(git.head.target))


def _forge_pass(setup: Setup, approval: StoredEntry, approvers: tuple[str, ...]) -> None:
    """What an insider holding the CI key records: the honest (failing) decision edited to pass,
    its waiver claimed approved by `approvers` on `approval`, signed; and the AIBOM."""
    checked = run_check(CheckOptions(repo=setup.repo, now=NOW))
    honest = checked.decision
    assert honest.verdict == "fail"
    claimed = tuple(dataclasses.replace(a, approvers=approvers, needed=1, refused=(),
                                        entries=(approval.hash,), approved_at=approval.entry.time)
                    for a in honest.approvals)
    forged = dataclasses.replace(
        honest, results=tuple(r for r in honest.results if r.id not in ("MDL-002", "WVR-001")),
        waived=tuple(WaivedResult(r, WAIVER) for r in honest.results if r.id == "MDL-002"),
        approvals=claimed)
    assert forged.verdict == "pass"
    signer = KeySigner(setup.keys.key("ci"))
    repo = open_repo(setup.repo)
    text = json.dumps(forged.as_json(), indent=2, sort_keys=True) + "\n"
    receipt = sign_file(signer, st.DECISION, repo.name, setup.commit, "decision.json", text)
    ledger = Ledger(repo)
    ledger.append(decision_draft(setup.commit, text, receipt, checked.bundle.encode(), NOW),
                  signer, "mallory", later(1))
    aibom = run_bom(BomOptions(repo=setup.repo), setup.commit).text
    ledger.append(aibom_draft(setup.commit, aibom, sign_file(
        signer, st.AIBOM, repo.name, setup.commit, "aibom.cdx.json", aibom)), signer, "mallory",
        later(1))


def _fresh_clone(setup: Setup, where: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    clone_with_records(setup.repo, where)
    assert not (where / ".git" / "govops").exists()
    monkeypatch.setenv("GOVOPS_TRUST_ROOT", setup.pin)
    return where


def _apply(repo: Path, setup: Setup) -> Run:
    return invoke(apply, "--repo", str(repo), "--stack", "prod-inference", "--key",
                  str(setup.keys.key("ci")))


def _deployed(repo: Path) -> list[str]:
    return [e.entry.type for e in Ledger(open_repo(repo)).entries()
            if e.entry.type in ("apply", "rollback")]


def test_an_approval_by_a_key_that_is_not_an_approver(tmp_path: Path,
                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    setup = _setup(tmp_path)
    approval = approve_at(setup.repo, WAIVER, setup.keys.key("mallory"), later())
    _forge_pass(setup, approval, ("mallory@acme.test",))
    clone = _fresh_clone(setup, tmp_path / "clone", monkeypatch)
    run = invoke(audit_verify, "--repo", str(clone))
    assert run.exit_code == 3
    assert "ledger REFUSED at entry #1 " in run.stderr
    assert "signature refused: the signature does not verify under any key of the approvers " \
           "of trust #1" in run.stderr
    applied = _apply(clone, setup)
    assert applied.exit_code == 3
    assert one_error_line(applied).endswith(
        "decision entry #2 waives results with waiver llama-license-ok, which is not approved "
        "when checked again (0 of 1 approvals count: approval #1: the signature does not "
        "verify under any key of the approvers of trust #1 at " + approval.entry.time + ")")
    assert _deployed(clone) == []
    # And an honest check on the clone does not count it either.
    [msg] = [r["msg"] for r in check(clone, "--format", "json").json()["results"]
             if r["id"] == "WVR-001"]
    assert "it has 0 of the 1 approvals" in msg


def test_an_approval_by_the_waivers_own_author(tmp_path: Path,
                                               monkeypatch: pytest.MonkeyPatch) -> None:
    """Legal wrote the waiver and approved it with Legal's own (trusted) approver key: the
    approval entry itself verifies, so only judging it against the waiver's authors refuses
    it: `audit verify --replay` (the decision does not come out the same) and `apply`."""
    setup = _setup(tmp_path, author=LEGAL_AUTHOR)
    approval = approve_at(setup.repo, WAIVER, setup.keys.key("legal"), later())
    _forge_pass(setup, approval, ("legal@acme.test",))
    clone = _fresh_clone(setup, tmp_path / "clone", monkeypatch)
    assert invoke(audit_verify, "--repo", str(clone)).exit_code == 0  # every signature is good
    run = invoke(audit_verify, "--repo", str(clone), "--replay")
    assert run.exit_code == 3
    assert "decision entry #2 does not replay" in one_error_line(run)
    applied = _apply(clone, setup)
    assert applied.exit_code == 3
    assert "(0 of 1 approvals count: approval #1 by legal@acme.test, who wrote the waiver " \
           "(no self-approval))" in one_error_line(applied)
    assert _deployed(clone) == []


def test_approvals_below_the_threshold(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    setup = _setup(tmp_path, approvers=("legal", "bob"), threshold=2)
    approval = approve_at(setup.repo, WAIVER, setup.keys.key("legal"), later())
    _forge_pass(setup, approval, ("legal@acme.test",))
    clone = _fresh_clone(setup, tmp_path / "clone", monkeypatch)
    run = invoke(audit_verify, "--repo", str(clone), "--replay")
    assert run.exit_code == 3
    assert "decision entry #2 does not replay" in one_error_line(run)
    applied = _apply(clone, setup)
    assert applied.exit_code == 3
    assert "which is not approved when checked again (1 of 2 approvals count: the decision " \
           "names no approval of it)" in one_error_line(applied)
    assert _deployed(clone) == []


def test_an_honestly_approved_waiver_deploys_past_the_recheck(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The passing case beside the attacks: Legal (not the author) approves, CI attests, and
    apply gets past the gate and the recheck to the Pulumi CLI, here absent (exit 2)."""
    setup = _setup(tmp_path)
    approve_at(setup.repo, WAIVER, setup.keys.key("legal"), later())
    run = invoke(attest, "--repo", str(setup.repo), "--key", str(setup.keys.key("ci")),
                 "--output", str(tmp_path / "out"), "--now", NOW, "--record")
    assert run.exit_code == 0, run.stderr
    clone = _fresh_clone(setup, tmp_path / "clone", monkeypatch)
    assert invoke(audit_verify, "--repo", str(clone), "--replay").exit_code == 0
    empty = tmp_path / "empty-path"
    empty.mkdir()
    monkeypatch.setenv("PATH", str(empty))
    applied = _apply(clone, setup)
    assert applied.exit_code == 2
    assert one_error_line(applied).startswith("govops: error: the pulumi CLI is not on PATH")
    assert _deployed(clone) == []
