"""The attacks of issue 13, scripted on real repositories and checked where an auditor checks:
on a fresh clone that has no `.git/govops` (no checkpoint, no local pin: the root fingerprint
comes from the environment, as a CI secret would give it), by `audit verify` (exit 3 naming the
first bad entry) and by `apply` (exit 3, nothing deployed)."""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import dataclass
from pathlib import Path

import pygit2
import pytest
import rfc8785

from engine.attest import statement as st
from engine.attest.signers import KeySigner, sign_file
from engine.cli.audit import audit_verify
from engine.cli.deploy import apply
from engine.ledger.drafts import aibom_draft, decision_draft
from engine.ledger.entry import Draft
from engine.ledger.store import Ledger
from engine.repo import open_repo
from engine.repo.scripted import Step, commit, stage
from tests.support.cli import Run, govops, invoke, one_error_line
from tests.support.repos import NOW, fixture, make_repo, unwaived
from tests.support.trust import Keys, current_root, forge, later, trusted

STACK = "prod-inference"


@dataclass(frozen=True)
class Setup:
    repo: Path
    keys: Keys
    pin: str
    passing: str  # a commit whose decision passes
    failing: str  # a commit whose decision fails (an unpinned image: ENV-002)


@pytest.fixture
def setup(tmp_path: Path) -> Setup:
    keys = Keys(tmp_path / "keys").make("ci", "mallory")
    files = {**unwaived(fixture("acme-ml")), "keys/ci.pub": keys.pub("ci").read_bytes()}
    env = files["environments/vllm-serve.yaml"]
    git = make_repo(tmp_path / "repo", Step("acme", files),
                    Step("unpinned image", {"environments/vllm-serve.yaml": re.sub(
                        rb"@sha256:[0-9a-f]{64}", b":latest", env)}))
    head = git.head.peel()
    passing, failing = str(head.parents[0].id), str(head.id)
    pin = trusted(tmp_path / "repo", tmp_path / "keys", keys.pub("ci"))
    run = govops("attest", "--repo", str(tmp_path / "repo"), "--rev", passing, "--key",
                 str(keys.key("ci")), "--output", str(tmp_path / "out"), "--now", NOW,
                 "--record")
    assert run.exit_code == 0, run.stderr
    return Setup(tmp_path / "repo", keys, pin, passing, failing)


def fresh_clone(setup: Setup, where: Path) -> Path:
    """A clone with the govops refs and nothing else: no checkpoint, no pin, no cache."""
    pygit2.clone_repository(str(setup.repo), str(where))
    git = pygit2.Repository(str(where))
    git.remotes["origin"].fetch(["+refs/govops/*:refs/govops/*"])
    assert not (where / ".git" / "govops").exists()
    return where


def audit(repo: Path) -> Run:
    return invoke(audit_verify, "--repo", str(repo))


def refused(run: Run, seq: int, *reasons: str) -> None:
    assert run.exit_code == 3, run.stdout + run.stderr
    line = run.stderr.strip()
    assert f"ledger REFUSED at entry #{seq} " in line, line
    for reason in reasons:
        assert reason in line, line


def refused_on_a_fresh_clone(setup: Setup, where: Path, monkeypatch: pytest.MonkeyPatch,
                             seq: int, reason: str, rev: str) -> None:
    """`audit verify` names entry `seq` and `reason`; `apply` of `rev` refuses for the same
    reason; both on a clone with nothing but the refs and the pin from the environment."""
    clone = fresh_clone(setup, where)
    monkeypatch.setenv("GOVOPS_TRUST_ROOT", setup.pin)
    refused(audit(clone), seq, reason)
    run = apply_on(clone, setup, rev)
    assert run.exit_code == 3
    assert reason in one_error_line(run)


def forged_history(setup: Setup, signer: KeySigner) -> None:
    """A pass decision, an AIBOM and an apply for the failing commit, all signed by `signer`."""
    repo = open_repo(setup.repo)
    ledger = Ledger(repo)
    decision = json.loads(ledger.entries()[0].files["decision.json"])
    decision["revision"]["commit"] = setup.failing  # claims the failing commit passed
    text = json.dumps(decision, indent=2, sort_keys=True) + "\n"
    receipt = sign_file(signer, st.DECISION, repo.name, setup.failing, "decision.json", text)
    d = ledger.append(decision_draft(setup.failing, text, receipt), signer, "mallory", later(1))
    aibom = ledger.entries()[1].files["aibom.cdx.json"].decode()
    a = ledger.append(aibom_draft(setup.failing, aibom, sign_file(
        signer, st.AIBOM, repo.name, setup.failing, "aibom.cdx.json", aibom)), signer,
        "mallory", later(1))
    ledger.append(Draft(type="apply", revision=setup.failing, stack=STACK,
                        links={"decision": d.hash, "aibom": a.hash}), signer, "mallory",
                  later(2))


def apply_on(repo: Path, setup: Setup, rev: str) -> Run:
    return invoke(apply, "--repo", str(repo), "--stack", STACK, "--rev", rev, "--key",
                  str(setup.keys.key("ci")))


def test_a_key_granted_by_a_merged_commit_signs_nothing(
        setup: Setup, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """(a) A merged commit lists the attacker's key in govops.yaml; forged decision, AIBOM and
    apply entries are signed with it."""
    git = pygit2.Repository(str(setup.repo))
    config = git.revparse_single("HEAD:govops.yaml").data
    stage(git, {"keys/mallory.pub": setup.keys.pub("mallory").read_bytes(),
                "govops.yaml": config.replace(b"keys/ci.pub", b"keys/mallory.pub")})
    commit(git, "rotate the CI key (not really)", "2026-11-25T09:00:00Z")
    forged_history(setup, KeySigner(setup.keys.key("mallory")))
    refused_on_a_fresh_clone(setup, tmp_path / "clone", monkeypatch, 3,
                             "does not verify under any key of the signers of trust #1",
                             setup.failing)


def test_a_key_granted_by_an_unsigned_trust_version_signs_nothing(
        setup: Setup, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """(a, the trust files) The attacker appends a trust version granting her key, signed by
    herself; then forges entries with that key."""
    forge(setup.repo, setup.keys, root_version=1, roots=("trust-root",), targets_version=2,
          roles={"signers": ("ci", "mallory"), "approvers": ("trust-legal",)},
          issued="2026-11-02T00:00:00Z", sign_with=("mallory",),
          previous_root=current_root(setup.repo), keep_root=True)
    forged_history(setup, KeySigner(setup.keys.key("mallory")))
    clone = fresh_clone(setup, tmp_path / "clone")
    monkeypatch.setenv("GOVOPS_TRUST_ROOT", setup.pin)
    run = audit(clone)
    assert run.exit_code == 3 and run.stdout == ""
    assert "trust version #2" in run.stderr and "signed by 0 of the targets keys" in run.stderr
    run = apply_on(clone, setup, setup.failing)
    assert run.exit_code == 3 and "trust version #2" in one_error_line(run)


def test_a_trust_update_below_the_root_threshold_is_refused(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """(b) Two root keys, threshold 2: one root key holder alone grants a signer."""
    keys = Keys(tmp_path / "keys").make("r1", "r2", "ci", "legal", "mallory")
    make_repo(tmp_path / "repo", Step("acme", unwaived(fixture("acme-ml"))))
    run = govops("trust", "init", "--repo", str(tmp_path / "repo"), "--root-key",
                 str(keys.pub("r1")), "--root-key", str(keys.pub("r2")), "--root-threshold",
                 "2", "--signer-key", str(keys.pub("ci")), "--approver-key",
                 str(keys.pub("legal")), "--approver-owner", "legal@acme.test", "--sign-with",
                 str(keys.key("r1")), "--sign-with", str(keys.key("r2")))
    assert run.exit_code == 0, run.stderr
    pin = re.search(r"root fingerprint (sha256:[0-9a-f]{64})", run.stdout)
    assert pin is not None
    forge(tmp_path / "repo", keys, root_version=1, roots=("r1", "r2"), root_threshold=2,
          targets_version=2, roles={"signers": ("ci", "mallory"), "approvers": ("legal",)},
          issued=later(), sign_with=("r1",), previous_root=current_root(tmp_path / "repo"),
          keep_root=True)
    clone = tmp_path / "clone"
    pygit2.clone_repository(str(tmp_path / "repo"), str(clone))
    pygit2.Repository(str(clone)).remotes["origin"].fetch(["+refs/govops/*:refs/govops/*"])
    monkeypatch.setenv("GOVOPS_TRUST_ROOT", pin.group(1))
    run = audit(clone)
    assert run.exit_code == 3
    assert "trust version #2" in run.stderr
    assert "signed by 1 of the targets keys of root version 1, which needs 2" in run.stderr


def test_an_entry_signed_after_its_key_was_revoked_is_refused(
        setup: Setup, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """(g) The CI key is revoked (from half an hour on); an entry it signs afterwards does not
    verify, while what it signed before still does."""
    run = govops("trust", "revoke", "--repo", str(setup.repo), "--role", "signers", "--key",
                 str(setup.keys.pub("ci")), "--at", later(0.5),
                 "--sign-with", str(setup.keys.key("trust-root")))
    assert run.exit_code == 0, run.stderr
    ledger = Ledger(open_repo(setup.repo))
    ledger.append(Draft(type="verify", revision=None), KeySigner(setup.keys.key("ci")), "ci",
                  later(1))
    clone = fresh_clone(setup, tmp_path / "clone")
    monkeypatch.setenv("GOVOPS_TRUST_ROOT", setup.pin)
    refused(audit(clone), 3, "the signers of trust #2 at", "hold no key")
    assert "2 entries before it verified" in audit(clone).stderr


def test_key_rotation_keeps_the_history_and_ends_the_old_key(
        setup: Setup, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Acceptance 2: history signed by key A; the root rotated to key B (signed by A's root);
    A's signer key revoked and a new signer added; entries signed by the new key verify with
    the old ones, and A's signatures after its end do not."""
    keys = setup.keys.make("root-b", "ci-b")
    base = ["--repo", str(setup.repo)]
    run = govops("trust", "rotate", *base, "--root-key", str(keys.pub("root-b")),
                 "--sign-with", str(keys.key("trust-root")), "--sign-with",
                 str(keys.key("root-b")))
    assert run.exit_code == 0, run.stderr
    for args in (["add-key", "--key", str(keys.pub("ci-b"))],
                 ["revoke", "--key", str(keys.pub("ci")), "--at", later(0.5)]):
        run = govops("trust", *args, *base, "--role", "signers", "--sign-with",
                     str(keys.key("root-b")))
        assert run.exit_code == 0, run.stderr
    ledger = Ledger(open_repo(setup.repo))
    ledger.append(Draft(type="verify", revision=None), KeySigner(keys.key("ci-b")), "ci-b",
                  later(1))
    clone = fresh_clone(setup, tmp_path / "clone")
    monkeypatch.setenv("GOVOPS_TRUST_ROOT", setup.pin)
    run = audit(clone)
    assert run.exit_code == 0, run.stderr
    assert "ledger verified: 3 entries" in run.stdout and setup.pin in run.stdout
    ledger.append(Draft(type="verify", revision=None), KeySigner(keys.key("ci")), "ci",
                  later(2))
    clone2 = fresh_clone(setup, tmp_path / "clone2")
    refused(audit(clone2), 4, "does not verify under any key of the signers of trust #4")


def _anchor(setup: Setup) -> None:
    run = govops("trust", "anchor", "--repo", str(setup.repo), "--sign-with",
                 str(setup.keys.key("trust-root")))
    assert run.exit_code == 0, run.stderr
    assert "anchor the ledger at entry #" in run.stdout


def test_a_reset_ledger_with_new_entries_is_refused_on_a_fresh_clone(
        setup: Setup, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """(d) The ref is reset to entry #1 and new, validly signed entries appended after it; the
    trust root had vouched for #2, so a clone with no checkpoint of its own still sees it."""
    _anchor(setup)
    ledger = Ledger(open_repo(setup.repo))
    first = ledger.entries()[0]
    open_repo(setup.repo).records("refs/govops/ledger").reset(first.commit)
    signer = KeySigner(setup.keys.key("ci"))
    for hours in (1, 2):
        ledger.append(Draft(type="verify", revision=None), signer, "mallory", later(hours))
    refused_on_a_fresh_clone(setup, tmp_path / "clone", monkeypatch, 2,
                             "differs from the entry the trust root vouched for at #2",
                             setup.passing)
    # Reset below the anchor with nothing appended: the vouched-for entry is missing.
    open_repo(setup.repo).records("refs/govops/ledger").reset(first.commit)
    clone2 = fresh_clone(setup, tmp_path / "clone2")
    run = audit(clone2)
    assert run.exit_code == 3 and "entry #2 " in run.stderr
    assert "the trust root vouched for it in trust version #2, but the ledger ends at #1" \
        in run.stderr


def test_a_consistent_rewrite_resigned_with_a_trusted_key_is_refused_on_a_fresh_clone(
        setup: Setup, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """(c) Entries 2..N rewritten (an actor changed), renumbered, re-chained and re-signed with
    the trusted CI key at new times: every signature verifies, the chain is whole and in time
    order, and no checkpoint is at hand; the root's anchor is not the entry found."""
    _anchor(setup)
    git = open_repo(setup.repo)
    entries = Ledger(git).entries()
    signer = KeySigner(setup.keys.key("ci"))
    scratch = git.records("refs/govops/rewrite")
    parent, previous = None, None
    for item in entries:
        raw = json.loads(item.files["entry.json"])
        if item.entry.seq >= 2:
            raw.update(actor="mallory", time=later(1), prev=previous)
        data = bytes(rfc8785.dumps(raw))
        receipt = signer.sign(st.payload(st.statement(st.LEDGER_ENTRY, raw, git.name,
                                                      raw["revision"],
                                                      [st.Covered("entry.json", data)])))
        parent = scratch.append({**item.recorded, "entry.json": data,
                                 "entry.sigstore.json": receipt.encode()}, parent, "rewritten",
                                1_800_000_000)
        previous = "sha256:" + hashlib.sha256(data).hexdigest()
    assert parent is not None
    git.records("refs/govops/ledger").reset(parent)
    refused_on_a_fresh_clone(setup, tmp_path / "clone", monkeypatch, 2,
                             "differs from the entry the trust root vouched for at #2",
                             setup.passing)


def test_a_trust_version_dropping_the_anchor_is_refused(setup: Setup) -> None:
    """An anchor only moves forward: a later version (even one the root keys sign) that drops
    it would let the ledger below it be rewritten again."""
    _anchor(setup)
    forge(setup.repo, setup.keys, root_version=1, roots=("trust-root",), targets_version=3,
          roles={"signers": ("ci",), "approvers": ("trust-legal",)}, issued=later(1),
          sign_with=("trust-root",), previous_root=current_root(setup.repo), keep_root=True)
    run = govops("trust", "show", "--repo", str(setup.repo))
    assert run.exit_code == 3
    assert "trust version #3" in run.stderr
    assert "drops or moves back the ledger anchor #2" in run.stderr
