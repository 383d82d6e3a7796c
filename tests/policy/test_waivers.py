"""Waivers are applied by the engine, and only once approved: by signatures of the trust
root's approvers (meeting their threshold, none of them an author of the waiver) recorded in the
ledger with `govops approve`. Unapproved, expired or too-long waivers waive nothing and WVR-001
reports them; the clock starts at the approval; a waiver can be scoped to packages or
advisories; one that waives nothing, or is about to expire, is reported as a warning."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pygit2
import pytest
import yaml

from engine.ledger.store import Ledger
from engine.repo import open_repo
from engine.repo.scripted import Step, stage
from tests.support.approvals import approve, approve_all, approve_at, approver_key
from tests.support.cli import check
from tests.support.realworld import realworld_inputs
from tests.support.repos import ENGINES, make_repo
from tests.support.samples import GOOD, LLAMA, environment
from tests.support.trust import Keys, trust_init, trusted

LEGAL_AUTHOR = ("Lee Legal", "legal@acme.test")


def waiver(expires: str, reason: str = "Legal approved LEGAL-123", target: str = "llama",
           scope: str = "", policy: str = "MDL-002", kind: str = "Model") -> str:
    return ("apiVersion: govops.dev/v1\nkind: Waiver\nmetadata:\n  name: llama-ok\nspec:\n"
            f"  policy: {policy}\n  target:\n    kind: {kind}\n    name: {target}\n{scope}"
            f"  reason: {reason}\n  approvedBy: [alice@acme.test]\n  expires: {expires}\n")


def _repo(tmp_path: Path, *steps: Step) -> Path:
    root = tmp_path / "r"
    make_repo(root, Step("base", {**GOOD, "models/llama.yaml": LLAMA}, time="2026-11-01T09:00:00Z"),
              *steps)
    return root


def _waived(tmp_path: Path, expires: str = "2027-01-15", **kwargs: Any) -> Path:
    return _repo(tmp_path, Step("waive", {"waivers/llama.yaml": waiver(expires, **kwargs)},
                                time="2026-11-02T10:00:00Z"))


def _ci(tmp_path: Path) -> Path:
    return Keys(tmp_path / "keys").make("ci").pub("ci")


def _ids(decision: dict[str, Any]) -> list[tuple[str, str]]:
    return sorted((r["id"], r["name"]) for r in decision["results"])


def _wvr(decision: dict[str, Any]) -> list[str]:
    return [r["msg"] for r in decision["results"] if r["id"] == "WVR-001"]


@pytest.mark.parametrize("engine", ENGINES)
def test_an_approved_waiver_moves_the_result_into_waived(tmp_path: Path, engine: str) -> None:
    root = _waived(tmp_path)
    approve_all(root, tmp_path / "keys")
    run = check(root, "--format", "json", engine=engine)
    assert run.exit_code == 0, run.stdout
    decision = run.json()
    assert _ids(decision) == []
    assert [(w["id"], w["name"], w["waiver"], w["file"], w["line"]) for w in decision["waived"]] \
        == [("MDL-002", "llama", "llama-ok", "models/llama.yaml", 10)]
    [approval] = decision["approvals"]
    pin = (root / ".git" / "govops" / "trust-root").read_text().strip()
    assert (approval["waiver"], approval["approved"], approval["approvedBy"],
            approval["trustRoot"]) == ("llama-ok", True, ["legal@acme.test"], pin)
    text = check(root, engine=engine)
    assert "waived by llama-ok, approved by legal@acme.test" in " ".join(text.stdout.split())


def test_approved_by_typed_into_the_waiver_approves_nothing(tmp_path: Path) -> None:
    root = _waived(tmp_path)
    trusted(root, tmp_path / "keys", _ci(tmp_path))
    run = check(root, "--format", "json")
    assert run.exit_code == 1
    decision = run.json()
    assert decision["waived"] == []
    assert _ids(decision) == [("MDL-002", "llama"), ("WVR-001", "llama-ok")]
    [msg] = _wvr(decision)
    assert msg.startswith("Waiver llama-ok is not approved: it has 0 of the 1 approvals it "
                          "needs from the approvers of trust root sha256:")
    assert msg.endswith("records one with govops approve llama-ok.")
    markdown = check(root, "--format", "markdown").stdout
    assert "### Waiver approvals pending" in markdown and "| llama-ok | 0 of 1 |" in markdown


def test_without_a_trust_root_no_waiver_is_approved(tmp_path: Path) -> None:
    run = check(_waived(tmp_path), "--format", "json")
    assert run.exit_code == 1
    [msg] = _wvr(run.json())
    assert msg == ("Waiver llama-ok cannot be approved: its approvals cannot be verified: "
                   "refs/govops/trust holds no trust root: create one with govops trust init.")


@pytest.mark.parametrize("engine", ENGINES)
def test_expired_waiver_waives_nothing_and_is_reported(tmp_path: Path, engine: str) -> None:
    root = _waived(tmp_path, "2026-11-19")
    approve_all(root, tmp_path / "keys")
    run = check(root, "--format", "json", engine=engine)
    assert run.exit_code == 1
    decision = run.json()
    assert decision["waived"] == []
    assert _ids(decision) == [("MDL-002", "llama"), ("WVR-001", "llama-ok")]
    wvr = next(r for r in decision["results"] if r["id"] == "WVR-001")
    assert (wvr["file"], wvr["line"], wvr["field"]) == ("waivers/llama.yaml", 12, "spec.expires")
    assert "2026-11-19" in wvr["msg"]
    # The day it expires it still counts; the day after it does not.
    still = check(root, "--format", "json", "--now", "2026-11-19T23:00:00Z", engine=engine)
    assert still.exit_code == 0, still.stdout


def test_the_clock_starts_at_the_approval(tmp_path: Path) -> None:
    # Approved 2026-11-02: 2027-01-31 is 90 days later (allowed), 2027-02-01 is 91 (refused).
    ok = _waived(tmp_path / "ok", "2027-01-31")
    trusted(ok, tmp_path / "keys", _ci(tmp_path))
    approve_at(ok, "llama-ok", approver_key(tmp_path / "keys"), "2026-11-02T10:00:00Z")
    assert check(ok, "--format", "json").exit_code == 0
    long = _waived(tmp_path / "long", "2027-02-01")
    trusted(long, tmp_path / "keys", _ci(tmp_path))
    approve_at(long, "llama-ok", approver_key(tmp_path / "keys"), "2026-11-02T10:00:00Z")
    run = check(long, "--format", "json")
    assert run.exit_code == 1
    assert _wvr(run.json()) == ["Waiver llama-ok expires 91 days after its approval on "
                                "2026-11-02T10:00:00Z, more than the 90 allowed."]
    assert run.json()["waived"] == []


def test_pushing_the_expiry_out_needs_a_new_approval(tmp_path: Path) -> None:
    root = _waived(tmp_path)
    approve_all(root, tmp_path / "keys")
    git = pygit2.Repository(str(root))
    make_more(git, Step("extend", {"waivers/llama.yaml": waiver("2027-02-10")}))
    run = check(root, "--format", "json")
    assert run.exit_code == 1
    assert _ids(run.json()) == [("MDL-002", "llama"), ("WVR-001", "llama-ok")]
    assert "is not approved: it has 0 of the 1" in _wvr(run.json())[0]
    assert approve(root, "llama-ok", approver_key(tmp_path / "keys")).exit_code == 0
    assert check(root, "--format", "json").exit_code == 0


def make_more(git: pygit2.Repository, *steps: Step) -> None:
    from engine.repo.scripted import commit

    for step in steps:
        moved = {new: (Path(git.workdir) / old).read_bytes() for old, new in step.renames.items()}
        stage(git, {**moved, **step.write}, [*step.delete, *step.renames])
        commit(git, step.message, step.time or "2026-11-10T10:00:00Z", step.author)


def test_moving_the_waiver_keeps_its_approval_and_its_clock(tmp_path: Path) -> None:
    """`git mv` used to restart a waiver's clock (it counted from the commit adding the path);
    the clock is now the approval's, which a move neither renews nor loses."""
    keys = tmp_path / "keys"
    for expires, verdict in (("2027-01-31", 0), ("2027-02-01", 1)):
        root = _waived(tmp_path / expires, expires)
        trusted(root, keys, _ci(tmp_path))
        approve_at(root, "llama-ok", approver_key(keys), "2026-11-02T10:00:00Z")
        make_more(pygit2.Repository(str(root)),
                  Step("move", renames={"waivers/llama.yaml": "exceptions/llama.yaml"},
                       author=("Carol", "carol@acme.test")))
        run = check(root, "--format", "json")
        assert run.exit_code == verdict, run.stdout
        [approval] = run.json()["approvals"]
        assert approval["approvedAt"] == "2026-11-02T10:00:00Z"
        if verdict:
            assert "91 days after its approval on 2026-11-02T10:00:00Z" in _wvr(run.json())[0]


def test_no_one_approves_a_waiver_they_wrote(tmp_path: Path) -> None:
    root = _repo(tmp_path, Step("waive", {"waivers/llama.yaml": waiver("2027-01-15")},
                                author=LEGAL_AUTHOR))
    trusted(root, tmp_path / "keys", _ci(tmp_path))
    ledger = Ledger(open_repo(root))
    run = approve(root, "llama-ok", approver_key(tmp_path / "keys"))
    assert run.exit_code == 3
    assert run.stderr.strip() == ("govops: error: not recorded: approval #1 by legal@acme.test, "
                                  "who wrote the waiver (no self-approval)")
    assert ledger.tip_commit() is None
    # Appended anyway by a program that does not check: it does not count.
    approve_at(root, "llama-ok", approver_key(tmp_path / "keys"), "2026-12-01T00:00:00Z")
    run = check(root, "--format", "json")
    assert run.exit_code == 1
    assert "(not counted: approval #1 by legal@acme.test, who wrote the waiver (no " \
           "self-approval))" in _wvr(run.json())[0]


def test_an_approval_by_someone_who_is_not_an_approver_does_not_count(tmp_path: Path) -> None:
    root = _waived(tmp_path)
    keys = Keys(tmp_path / "keys").make("mallory")
    trusted(root, tmp_path / "keys", _ci(tmp_path))
    run = approve(root, "llama-ok", keys.key("mallory"))
    assert run.exit_code == 3
    assert "does not verify under any key of the approvers of trust #1" in run.stderr
    assert Ledger(open_repo(root)).tip_commit() is None
    approve_at(root, "llama-ok", keys.key("mallory"), "2026-12-01T00:00:00Z")
    [msg] = _wvr(check(root, "--format", "json").json())
    assert "(not counted: approval #1: the signature does not verify under any key of the " \
           "approvers" in msg


def test_an_approval_below_the_threshold_does_not_take_effect(tmp_path: Path) -> None:
    root = _waived(tmp_path)
    keys = Keys(tmp_path / "keys")
    assert trust_init(root, keys, approvers=("legal", "bob"), approver_threshold=2).exit_code == 0
    first = approve(root, "llama-ok", keys.key("legal"))
    assert first.exit_code == 0, first.stderr
    assert "has 1 of 2 approvals: it waives nothing until 1 more approver(s)" in first.stdout
    run = check(root, "--format", "json")
    assert run.exit_code == 1
    assert "it has 1 of the 2 approvals" in _wvr(run.json())[0]
    again = approve(root, "llama-ok", keys.key("legal"))
    assert again.exit_code == 3 and "who already approved it" in again.stderr
    second = approve(root, "llama-ok", keys.key("bob"))
    assert second.exit_code == 0, second.stderr
    assert "is approved (2 of 2 approvals: legal@acme.test, bob@acme.test)" in second.stdout
    run = check(root, "--format", "json")
    assert run.exit_code == 0, run.stdout
    assert run.json()["approvals"][0]["approvedBy"] == ["legal@acme.test", "bob@acme.test"]


TORCH_ENV = {
    "environments/train.yaml": environment("train", "environments/train.txt"),
    "environments/train.txt": "torch==1.13.0 --hash=sha256:" + "3" * 64 + "\n",
}


def _advisories(folder: Path) -> Path:
    """A second, real advisory on torch 1.13.0 (PyPA's PYSEC-2022-43015), as OSV JSON."""
    source = (realworld_inputs() / "advisories" / "pypa-advisory-database" / "torch"
              / "PYSEC-2022-43015.yaml")
    folder.mkdir()
    record = yaml.safe_load(source.read_text())
    (folder / "PYSEC-2022-43015.json").write_text(json.dumps(record, default=str))
    return folder


@pytest.mark.parametrize("engine", ENGINES)
def test_an_advisory_scoped_waiver_waives_only_that_advisory(tmp_path: Path,
                                                             engine: str) -> None:
    """A waiver for the torch.load GHSA does not waive the next advisory on the same
    environment: only results about the advisory it names (by id or alias)."""
    scoped = "    advisories: [GHSA-53q9-r3pm-6pq6]\n"
    root = _repo(tmp_path, Step("torch", TORCH_ENV), Step("waive", {"waivers/torch.yaml": waiver(
        "2027-01-15", target="train", scope=scoped, policy="ENV-003", kind="Environment")}))
    approve_all(root, tmp_path / "keys")
    advisories = _advisories(tmp_path / "osv")
    run = check(root, "--format", "json", "--advisories", str(advisories), engine=engine)
    assert run.exit_code == 1
    decision = run.json()
    assert [(w["advisory"], w["waiver"]) for w in decision["waived"]] == [
        ("CVE-2025-32434", "llama-ok")]
    assert [(r["id"], r.get("advisory")) for r in decision["results"]
            if r["id"] != "MDL-002"] == [("ENV-003", "PYSEC-2022-43015")]


def test_a_package_scoped_waiver_waives_only_that_package(tmp_path: Path) -> None:
    scoped = "    packages: [numpy]\n"
    root = _repo(tmp_path, Step("torch", TORCH_ENV), Step("waive", {"waivers/torch.yaml": waiver(
        "2027-01-15", target="train", scope=scoped, policy="ENV-003", kind="Environment")}))
    approve_all(root, tmp_path / "keys")
    decision = check(root, "--format", "json").json()
    assert decision["waived"] == []
    assert ("ENV-003", "train") in _ids(decision)
    assert "Waiver llama-ok waives nothing: no ENV-003 on Environment train (packages numpy) " \
           "result is failing. Remove it, or correct its target." in \
           [r["msg"] for r in decision["results"] if r["severity"] == "warn"]


def test_an_approved_waiver_that_waives_nothing_is_reported(tmp_path: Path) -> None:
    root = _waived(tmp_path, target="tiny")  # tiny's license is allowed: nothing to waive
    approve_all(root, tmp_path / "keys")
    run = check(root, "--format", "json")
    warns = [r for r in run.json()["results"] if r["severity"] == "warn"]
    assert [(r["id"], r["name"], r["field"]) for r in warns] == [
        ("WVR-001", "llama-ok", "spec.target")]
    assert "waives nothing: no MDL-002 on Model tiny result is failing" in warns[0]["msg"]
    assert ("MDL-002", "llama") in _ids(run.json())


def test_a_waiver_about_to_expire_is_a_warning(tmp_path: Path) -> None:
    root = _waived(tmp_path, "2026-11-25")
    approve_all(root, tmp_path / "keys")
    run = check(root, "--format", "json")
    assert run.exit_code == 0, run.stdout
    warns = [r["msg"] for r in run.json()["results"] if r["severity"] == "warn"]
    assert warns == ["Waiver llama-ok expires in 5 days (2026-11-25): renew it with a new "
                     "approval, or fix what it waives."]
    assert run.json()["waived"] != []
    quiet = check(root, "--format", "json", "--now", "2026-11-01T00:00:00Z")
    assert [r for r in quiet.json()["results"] if r["severity"] == "warn"] == []


def test_a_waiver_needs_a_reason(tmp_path: Path) -> None:
    root = _waived(tmp_path, reason="''")
    approve_all(root, tmp_path / "keys")
    decision = check(root, "--format", "json").json()
    assert decision["waived"] == []
    assert [r["field"] for r in decision["results"] if r["id"] == "WVR-001"] == ["spec.reason"]


def test_a_staged_waiver_needs_an_approval_and_its_stager_is_an_author(tmp_path: Path) -> None:
    root = _waived(tmp_path)
    approve_all(root, tmp_path / "keys")
    git = pygit2.Repository(str(root))
    make_more(git, Step("drop it", delete=["waivers/llama.yaml"]))
    # The same content staged again: the approval of that content counts...
    stage(git, write={"waivers/again.yaml": waiver("2027-01-15")})
    run = check(root, "--staged", "--format", "json")
    assert run.exit_code == 0, run.stdout
    assert [w["waiver"] for w in run.json()["waived"]] == ["llama-ok"]
    # ...unless the one about to commit it is the approver; a new expiry is unapproved.
    git.config["user.email"] = "legal@acme.test"
    run = check(root, "--staged", "--format", "json")
    assert "who wrote the waiver (no self-approval)" in _wvr(run.json())[0]
    git.config["user.email"] = "ada@acme.test"
    stage(git, write={"waivers/again.yaml": waiver("2027-01-20")})
    assert "is not approved" in _wvr(check(root, "--staged", "--format", "json").json())[0]
