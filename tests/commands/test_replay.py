"""`verify --replay` and `audit verify --replay` (issue 13, acceptance 3): a recorded decision is
evaluated again from git with the policies it recorded and must come out the same; an edited
and re-signed verdict, a substituted policy, a decision that cannot be replayed are refused."""

from __future__ import annotations

import hashlib
import json
import shutil
from pathlib import Path

import pytest
import rfc8785

from engine.attest import statement as st
from engine.attest.signers import KeySigner, sign_file
from engine.cli.audit import audit_verify
from engine.commands.replay import replay_all
from engine.ledger.entry import ENTRY_FILE, ENTRY_RECEIPT, StoredEntry
from engine.ledger.store import LEDGER_REF, Ledger
from engine.repo import open_repo
from engine.repo.scripted import Step
from engine.shipped import library_dir
from tests.support.approvals import approve_all
from tests.support.cli import Run, govops, invoke, one_error_line
from tests.support.ledger_history import LedgerHistory, build_ledger_history
from tests.support.repos import NOW, fixture, make_repo
from tests.support.trust import trusted


@pytest.fixture(scope="module")
def history(tmp_path_factory: pytest.TempPathFactory) -> LedgerHistory:
    return build_ledger_history(tmp_path_factory.mktemp("replay"))


def replay(repo: Path, entry: str) -> Run:
    return govops("verify", "--repo", str(repo), "--replay", entry, "--engine", "opa")


def test_every_decision_of_the_test_history_replays(history: LedgerHistory) -> None:
    decisions = [e for e in history.entries if e.type == "decision"]
    assert len(decisions) == 5
    for recorded in decisions:
        run = replay(history.repo, str(recorded.seq))
        assert run.exit_code == 0, run.stderr
        item = history.ledger().entries()[recorded.seq - 1]
        assert f"gives {item.entry.details['decisionId']}" in run.stdout
        assert "as recorded" in run.stdout
    done = replay_all(history.repo, "opa")
    assert [r.seq for r in done] == [d.seq for d in decisions]
    assert all(r.matches for r in done)
    # The failing decision (#17) replays to its failing verdict.
    assert [r.verdict for r in done][-1] == "fail"
    run = replay(history.repo, "4")
    assert run.exit_code == 3
    assert one_error_line(run).endswith("entry #4 is a aibom entry: replay takes a decision "
                                        "entry")


def test_audit_verify_replays_every_decision_and_reports_the_cost(
        history: LedgerHistory) -> None:
    run = invoke(audit_verify, "--repo", str(history.repo), "--replay")
    assert run.exit_code == 0, run.stderr
    assert "replayed 5 decisions, every decision_id as recorded (" in run.stdout
    report = json.loads(invoke(audit_verify, "--repo", str(history.repo), "--replay",
                               "--format", "json").stdout)
    assert report["replayed"]["decisions"] == 5 and report["replayed"]["seconds"] > 0


def test_replay_uses_the_recorded_policies_not_todays(history: LedgerHistory, tmp_path: Path,
                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    """Today's library drops MDL-002: a fresh check changes, the replay does not."""
    library = tmp_path / "library"
    shutil.copytree(library_dir(), library)
    (library / "mdl_002.rego").unlink()
    monkeypatch.setenv("GOVOPS_POLICY_LIBRARY", str(library))
    today = govops("check", "--repo", str(history.repo), "--rev", history.commits["nowaiver"],
                   "--now", NOW, "--format", "json", "--engine", "opa")
    assert today.json()["verdict"] == "pass"  # without MDL-002 the change passes today
    run = replay(history.repo, "17")
    assert run.exit_code == 0, run.stderr
    assert "(fail), as recorded" in run.stdout


def _message(item: StoredEntry) -> str:
    return f"govops ledger #{item.entry.seq}: {item.entry.type}"


def _rewrite(repo: Path, key: Path, seq: int, files: dict[str, bytes],
             details: dict[str, object] | None = None) -> None:
    """Replace entry `seq`'s recorded files, update its digests and re-sign it, then re-chain
    and re-sign every later entry: what an insider holding the CI key could do (the entries
    before it, approvals among them, stay as they were)."""
    git = open_repo(repo)
    ledger = Ledger(git)
    entries = ledger.entries()
    signer = KeySigner(key)
    scratch = git.records("refs/govops/replay-scratch")
    parent, previous = None, None
    for item in entries:
        if item.entry.seq < seq:
            parent = scratch.append(item.files, parent, _message(item), 1_800_000_000)
            previous = item.hash
            continue
        raw = json.loads(item.files[ENTRY_FILE])
        recorded = dict(item.recorded)
        if item.entry.seq == seq:
            recorded.update(files)
            raw["digests"] = {n: "sha256:" + hashlib.sha256(d).hexdigest()
                              for n, d in sorted(recorded.items())}
            raw["details"] = {**raw["details"], **(details or {})}
        if previous is not None:
            raw["prev"] = previous
        data = bytes(rfc8785.dumps(raw))
        receipt = signer.sign(st.payload(st.statement(st.LEDGER_ENTRY, raw, git.name,
                                                      raw["revision"],
                                                      [st.Covered(ENTRY_FILE, data)])))
        parent = scratch.append({**recorded, ENTRY_FILE: data, ENTRY_RECEIPT: receipt.encode()},
                                parent, _message(item), 1_800_000_000)
        previous = "sha256:" + hashlib.sha256(data).hexdigest()
    assert parent is not None
    git.records(LEDGER_REF).reset(parent)
    (repo / ".git" / "govops" / "ledger-checkpoint.json").unlink(missing_ok=True)


def test_an_edited_and_resigned_verdict_verifies_but_does_not_replay(
        history: LedgerHistory, tmp_path: Path) -> None:
    """The failing decision (#17) rewritten to pass (its deny results dropped, its id
    recomputed, every signature made again with the trusted CI key): every signature verifies,
    so only replaying it shows the lie."""
    copy = tmp_path / "repo"
    shutil.copytree(history.repo, copy)
    item: StoredEntry = Ledger(open_repo(copy)).entries()[16]
    decision = json.loads(item.files["decision.json"])
    assert decision["verdict"] == "fail"
    from engine.policy.decision import Decision

    forged = Decision.from_json({**decision, "results": [
        r for r in decision["results"] if r["severity"] != "deny"]})
    assert forged.verdict == "pass"
    text = json.dumps(forged.as_json(), indent=2, sort_keys=True) + "\n"
    receipt = sign_file(KeySigner(history.key), st.DECISION, open_repo(copy).name,
                        item.entry.revision or "", "decision.json", text)
    _rewrite(copy, history.key, 17, {"decision.json": text.encode(),
                                     "decision.sigstore.json": receipt.encode()},
             {"verdict": "pass", "decisionId": forged.decision_id})
    verified = invoke(audit_verify, "--repo", str(copy))
    assert verified.exit_code == 0, verified.stderr
    run = replay(copy, "17")
    assert run.exit_code == 3
    line = one_error_line(run)
    assert "decision entry #17 does not replay" in line
    assert f"gives {decision['decision_id']} (fail), not the recorded {forged.decision_id}" \
        in line
    assert invoke(audit_verify, "--repo", str(copy), "--replay").exit_code == 3


def test_a_substituted_repo_policy_is_refused(history: LedgerHistory, tmp_path: Path) -> None:
    copy = tmp_path / "repo"
    shutil.copytree(history.repo, copy)
    item = Ledger(open_repo(copy)).entries()[2]
    bundle = json.loads(item.files["policy-bundle.json"])
    bundle["modules"].append(["policies/extra.rego", "package govops.policies.extra\n"])
    from engine.policy.library import PolicyBundle, PolicyModule, bundle_digest

    modules = tuple(PolicyModule(p, s) for p, s in bundle["modules"])
    bundle["digest"] = bundle_digest(modules, bundle["data"])
    raw = PolicyBundle(modules, bundle["data"], bundle["digest"]).encode()
    _rewrite(copy, history.key, 3, {"policy-bundle.json": raw})
    run = replay(copy, "3")
    assert run.exit_code == 3
    assert "the recorded bundle is" in one_error_line(run)


def test_decisions_that_cannot_be_replayed_say_why(tmp_path: Path) -> None:
    make_repo(tmp_path / "repo", Step("acme", fixture("acme-ml")),
              Step("readme", {"README.md": "x\n"}))
    assert govops("keygen", "--output", str(tmp_path / "ci")).exit_code == 0
    trusted(tmp_path / "repo", tmp_path / "trust", tmp_path / "ci.pub")
    approve_all(tmp_path / "repo", tmp_path / "trust")  # entry #1
    run = govops("check", "--repo", str(tmp_path / "repo"), "--base", "HEAD~1", "--now", NOW,
                 "--record", "--key", str(tmp_path / "ci.key"))
    assert run.exit_code == 0, run.stderr
    run = replay(tmp_path / "repo", "2")
    assert run.exit_code == 3
    assert "was decided against base" in one_error_line(run)
    run = govops("check", "--repo", str(tmp_path / "repo"), "--now", NOW, "--record", "--key",
                 str(tmp_path / "ci.key"))
    assert run.exit_code == 0
    run = replay(tmp_path / "repo", "3")  # the same revision without --base replays
    assert run.exit_code == 0 and "as recorded" in run.stdout
    run = govops("verify", "--repo", str(tmp_path / "repo"), "--replay", "3", "x.sigstore.json")
    assert run.exit_code == 2 and "give no BUNDLES" in run.stderr
