"""The gate at deploy time: a decision is judged again when it is deployed (issue 16).

A multi-day history: on 11-20 a revision is attested while its licence waiver is valid (it
expires on 11-25); on 11-21 it is applied; on 11-27 the same revision is applied again. The
recorded decision still says `pass`, but its waiver has expired: the second apply is refused
(exit 1, naming the waiver) and nothing is recorded. Kosli evaluates at deployment time; so
does govops now, with the recorded policies and today's clock.
"""

from __future__ import annotations

import json
import shutil
from dataclasses import dataclass
from pathlib import Path

import pytest

import engine.commands.apply as apply_module
from engine.attest.signers import KeySigner
from engine.cli.deploy import apply
from engine.commands.rejudge import StaleDecision, rejudge
from engine.deploy import pulumi_run
from engine.ledger.entry import Draft
from engine.ledger.store import LEDGER_REF, Ledger
from engine.repo import open_repo
from engine.repo.scripted import Step
from tests.support.approvals import approve_all
from tests.support.cli import Run, govops, invoke, one_error_line
from tests.support.pulumi_fakes import STACK, FakePulumi, approved_cluster
from tests.support.repos import NOW, fixture, make_repo

WAIVER = "llama-license-ok"
EXPIRES = "2026-11-25"


@dataclass(frozen=True)
class History:
    path: Path
    key: Path
    commit: str


@pytest.fixture(scope="module")
def template(tmp_path_factory: pytest.TempPathFactory) -> History:
    tmp = tmp_path_factory.mktemp("gate-now")
    assert govops("keygen", "--output", str(tmp / "ci")).exit_code == 0
    files = {**fixture("acme-ml"), "keys/ci.pub": (tmp / "ci.pub").read_bytes()}
    waiver = f"waivers/{WAIVER}.yaml"
    files[waiver] = files[waiver].replace(b"expires: 2027-01-15", f"expires: {EXPIRES}".encode())
    git = make_repo(tmp / "repo", Step("acme, waiver until 11-25", files,
                                       time="2026-11-19T09:00:00Z"))
    assert approve_all(tmp / "repo", tmp / "trust", tmp / "ci.pub") == [WAIVER]
    commit = str(git.head.target)
    run = govops("attest", "--repo", str(tmp / "repo"), "--rev", commit, "--key",
                 str(tmp / "ci.key"), "--output", str(tmp / "out"), "--now", NOW, "--record")
    assert run.exit_code == 0, run.stderr
    return History(tmp / "repo", tmp / "ci.key", commit)


@pytest.fixture
def history(template: History, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> History:
    monkeypatch.delenv(pulumi_run.PASSPHRASE_ENV, raising=False)
    monkeypatch.delenv(pulumi_run.PASSPHRASE_FILE_ENV, raising=False)
    monkeypatch.setattr(pulumi_run, "pulumi_cli", FakePulumi)
    approved_cluster(monkeypatch)
    shutil.copytree(template.path, tmp_path / "repo")
    return History(tmp_path / "repo", template.key, template.commit)


def _apply_on(history: History, day: str, monkeypatch: pytest.MonkeyPatch) -> Run:
    monkeypatch.setattr(apply_module, "utc_now", lambda: day)
    return invoke(apply, "--repo", str(history.path), "--stack", STACK, "--rev",
                  history.commit, "--key", str(history.key))


def _entries(history: History) -> list[str]:
    return [e.entry.type for e in Ledger(open_repo(history.path)).entries()]


def test_a_decision_whose_waiver_expired_does_not_deploy_again(
        history: History, monkeypatch: pytest.MonkeyPatch) -> None:
    decision = next(e for e in Ledger(open_repo(history.path)).entries()
                    if e.entry.type == "decision")
    assert decision.entry.details["verdict"] == "pass"
    assert json.loads(decision.files["decision.json"])["waived"], "the waiver is in use"

    first = _apply_on(history, "2026-11-21T10:00:00Z", monkeypatch)
    assert first.exit_code == 0, first.stderr
    applied = Ledger(open_repo(history.path)).entries()[-1]
    receipt = json.loads(applied.files["deployment.json"])
    rejudged = receipt["rejudged"]
    # Its own id: WVR-001's "expires in 4 days" warning is not the recorded "in 5 days".
    assert rejudged["decisionId"].startswith("sha256:")
    assert rejudged["decisionId"] != decision.entry.details["decisionId"]
    assert rejudged == {
        "at": "2026-11-21T10:00:00Z", "decisionEntry": decision.entry.seq,
        "evaluatedAt": NOW, "recordedVerdict": "pass", "verdict": "pass",
        "decisionId": rejudged["decisionId"], "expiredWaivers": [],
        "waivers": [{"waiver": WAIVER, "expires": EXPIRES, "approvedBy": ["legal@acme.test"],
                     "validAtDeploy": True}]}
    before = _entries(history)

    again = _apply_on(history, "2026-11-27T10:00:00Z", monkeypatch)
    assert again.exit_code == 1, again.stdout + again.stderr
    line = one_error_line(again)
    assert line.startswith(f"govops: error: the decision of commit {history.commit[:12]} "
                           f"(entry #{decision.entry.seq}, evaluated {NOW}) relies on waiver "
                           f"{WAIVER} (expired {EXPIRES}): evaluated again at "
                           "2026-11-27T10:00:00Z it is 'fail'"), line
    assert _entries(history) == before  # nothing recorded, nothing deployed


def test_search_says_who_approved_the_waiver_and_that_it_held_at_deploy_time(
        history: History, monkeypatch: pytest.MonkeyPatch) -> None:
    """The auditor's question after the incident: which deployments rested on the waiver, who
    approved it, and was it still valid when each went out. Read back from the signed receipt."""
    assert _apply_on(history, "2026-11-21T10:00:00Z", monkeypatch).exit_code == 0
    applied = Ledger(open_repo(history.path)).entries()[-1].entry.seq
    run = govops("audit", "search", "--repo", str(history.path), "--format", "json",
                 "--waiver", WAIVER)
    assert run.exit_code == 0, run.stderr
    [deployment] = run.json()["deployments"]
    assert deployment["entry"]["seq"] == applied
    assert deployment["waivers"] == [{"waiver": WAIVER, "approvers": ["legal@acme.test"],
                                      "expires": EXPIRES, "valid_at_deploy": True}]
    text = govops("audit", "search", "--repo", str(history.path), "--waiver", WAIVER).stdout
    row = next(line.split() for line in text.splitlines() if line.split()[:1] == [f"#{applied}"])
    assert row[-4:] == ["legal@acme.test", "valid", "(expires", f"{EXPIRES})"]


def test_a_ledger_rewritten_since_it_was_verified_does_not_deploy(
        history: History, monkeypatch: pytest.MonkeyPatch) -> None:
    """The apply of 11-21 is erased from the ledger and replaced by an entry signed with the
    same key: the history no longer holds what was verified here, so nothing deploys from it
    (exit 3, naming the replaced entry) until an operator accepts the rewrite."""
    assert _apply_on(history, "2026-11-21T10:00:00Z", monkeypatch).exit_code == 0
    ledger = Ledger(open_repo(history.path))
    entries = ledger.entries()
    open_repo(history.path).records(LEDGER_REF).reset(entries[-2].commit)
    ledger.append(Draft(type="verify", revision=history.commit), KeySigner(history.key),
                  "mallory@acme.test", "2026-11-21T11:00:00Z")
    before = _entries(history)
    again = _apply_on(history, "2026-11-22T10:00:00Z", monkeypatch)
    assert again.exit_code == 3, again.stdout + again.stderr
    line = one_error_line(again)
    assert line.startswith(f"govops: error: the ledger was rewritten since it was last verified: "
                           f"entry #{entries[-1].entry.seq} differs from the one verified"), line
    assert _entries(history) == before


def test_the_last_day_of_a_waiver_still_deploys(history: History,
                                                monkeypatch: pytest.MonkeyPatch) -> None:
    """`expires` is valid through that day (as WVR-001 reads it)."""
    run = _apply_on(history, f"{EXPIRES}T23:59:59Z", monkeypatch)
    assert run.exit_code == 0, run.stderr


def test_rejudge_names_the_expired_waiver_for_rollback_too(history: History) -> None:
    """`rollback` calls the same judgement before it plans anything."""
    decision = next(e for e in Ledger(open_repo(history.path)).entries()
                    if e.entry.type == "decision")
    found = rejudge(history.path, decision, "2026-11-22T00:00:00Z")
    assert (found.verdict, found.expired) == ("pass", ())
    with pytest.raises(StaleDecision) as caught:
        rejudge(history.path, decision, "2026-12-01T00:00:00Z")
    assert f"relies on waiver {WAIVER} (expired {EXPIRES})" in str(caught.value)
    assert caught.value.exit_code == 1
