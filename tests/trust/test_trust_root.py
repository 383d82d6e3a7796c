"""The trust root: created, changed, rotated and read only through threshold signatures of the
root keys, from a first root pinned out of band; every forgery of refs/govops/trust is refused
naming the first bad version."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pygit2
import pytest

from engine.repo import open_repo
from engine.repo.scripted import Step
from engine.trust.store import TRUST_REF, TrustStore
from engine.workdir import WorkDir
from tests.support.cli import Run, assert_input_error, govops
from tests.support.repos import fixture, make_repo, unwaived
from tests.support.trust import Keys, current_root, forge, trust_init


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    make_repo(tmp_path / "repo", Step("acme", unwaived(fixture("acme-ml"))))
    return tmp_path / "repo"


@pytest.fixture
def keys(tmp_path: Path) -> Keys:
    (tmp_path / "keys").mkdir()
    return Keys(tmp_path / "keys")


def show(repo: Path, *args: str) -> Run:
    return govops("trust", "show", "--repo", str(repo), "--format", "json", *args)


def refused(run: Run, *expected: str) -> None:
    """Exit 3, one line naming the version and why, nothing on stdout."""
    assert run.exit_code == 3, run.stdout + run.stderr
    assert run.stdout == ""
    lines = run.stderr.strip().splitlines()
    assert len(lines) == 1, run.stderr
    for text in expected:
        assert text in lines[0], lines[0]


def pin_of(repo: Path) -> str:
    return WorkDir(repo / ".git").trust_pin.read_text().strip()


# -- creating and reading ---------------------------------------------------------------------------


def test_init_publishes_pins_and_shows_the_roles(repo: Path, keys: Keys) -> None:
    run = trust_init(repo, keys, approvers=("legal", "bob"), approver_threshold=2)
    assert run.exit_code == 0, run.stderr
    assert "published trust version #1" in run.stdout
    fingerprint = pin_of(repo)
    assert f"root fingerprint {fingerprint}" in run.stdout
    current = show(repo).json()
    assert current["pin"] == fingerprint
    assert current["current"]["rootFingerprint"] == fingerprint
    roles = current["current"]["roles"]
    assert [g["keyid"] for g in roles["signers"]["grants"]] == [keys.grant("ci").keyid]
    assert roles["approvers"]["threshold"] == 2
    assert {g["keyid"] for g in roles["approvers"]["grants"]} == {
        keys.grant("legal").keyid, keys.grant("bob").keyid}
    assert current["current"]["root"]["signedBy"] == [keys.grant("root").keyid]
    # The documents on the ref are TUF metadata that python-tuf reads back.
    stored = TrustStore(open_repo(repo)).versions()
    assert json.loads(stored[0].root or b"")["signed"]["_type"] == "root"
    assert json.loads(stored[0].targets or b"")["signed"]["delegations"]["roles"][0]["name"] \
        in ("signers", "approvers")


def test_a_threshold_not_met_publishes_nothing_until_the_proposal_is_signed(
        repo: Path, keys: Keys, tmp_path: Path) -> None:
    run = trust_init(repo, keys, roots=("r1", "r2"), threshold=2, sign_with=("r1",))
    refused(run, "not published", "signed by 1 of the root keys of root version 1, which "
                                   "needs 2", "--proposal FILE")
    assert TrustStore(open_repo(repo)).tip() is None
    proposal = tmp_path / "proposal.json"
    run = trust_init(repo, keys, ("r1", "r2"), 2, ("ci",), ("legal",), 1, ("r1",),
                     "--proposal", str(proposal))
    assert run.exit_code == 0 and "not yet published" in run.stdout
    assert TrustStore(open_repo(repo)).tip() is None
    assert json.loads(proposal.read_text())["format"] == "govops-trust-proposal/v1"
    run = govops("trust", "sign", "--repo", str(repo), str(proposal), "--sign-with",
                 str(keys.key("r2")))
    assert run.exit_code == 0, run.stderr
    assert "published trust version #1" in run.stdout
    assert not proposal.exists()
    assert show(repo).json()["current"]["root"]["threshold"] == 2


def test_a_key_that_is_not_a_root_key_cannot_sign_a_change(repo: Path, keys: Keys) -> None:
    assert trust_init(repo, keys).exit_code == 0
    keys.make("mallory")
    run = govops("trust", "add-key", "--repo", str(repo), "--role", "signers", "--key",
                 str(keys.pub("mallory")), "--sign-with", str(keys.key("mallory")))
    assert_input_error(run, f"key {keys.grant('mallory').keyid[:16]} is not a root key")
    assert len(TrustStore(open_repo(repo)).versions()) == 1


def test_add_revoke_rotate_and_the_log(repo: Path, keys: Keys) -> None:
    assert trust_init(repo, keys).exit_code == 0
    keys.make("bob", "root2")
    base = ["--repo", str(repo), "--sign-with", str(keys.key("root"))]
    run = govops("trust", "add-key", *base, "--role", "approvers", "--key", str(keys.pub("bob")))
    assert_input_error(run, f"{keys.pub('bob')}: an approver's key must name its owner")
    run = govops("trust", "add-key", *base, "--role", "approvers", "--key", str(keys.pub("bob")),
                 "--owner", "bob")
    assert_input_error(run, "owner 'bob' is not an email")
    run = govops("trust", "add-key", *base, "--role", "approvers", "--key", str(keys.pub("bob")),
                 "--owner", "Bob@Acme.test")
    assert run.exit_code == 0, run.stderr
    run = govops("trust", "revoke", *base, "--role", "signers", "--key", str(keys.pub("ci")),
                 "--at", "2027-01-01T00:00:00Z")
    assert run.exit_code == 0, run.stderr
    run = govops("trust", "rotate", *base, "--root-key", str(keys.pub("root2")),
                 "--sign-with", str(keys.key("root2")))
    assert run.exit_code == 0, run.stderr
    log = govops("trust", "log", "--repo", str(repo), "--format", "json").json()
    changes = [v["changes"] for v in log["versions"]]
    assert changes[0] == ["first root"]
    # A key granted later counts from its grant on: its window opens when it was added.
    added = log["versions"][1]["issued"]
    assert changes[1] == [f"approvers +key {keys.grant('bob').keyid[:16]} of bob@acme.test "
                          f"valid {added} .. -"]
    assert changes[2] == [f"signers ~key {keys.grant('ci').keyid[:16]} valid - .. "
                          "2027-01-01T00:00:00Z"]
    assert changes[3] == ["root rotated to v2 (threshold 1 of 1)"]
    assert [v["rootVersion"] for v in log["versions"]] == [1, 1, 1, 2]
    text = govops("trust", "log", "--repo", str(repo))
    assert text.exit_code == 0 and "#4" in text.stdout and log["pin"] in text.stdout
    # After the rotation the old root key can no longer change anything.
    run = govops("trust", "add-key", *base, "--role", "signers", "--key", str(keys.pub("bob")))
    assert_input_error(run, f"key {keys.grant('root').keyid[:16]} is not a root key")


def test_a_rotation_the_old_root_did_not_sign_is_refused_by_the_command(
        repo: Path, keys: Keys) -> None:
    assert trust_init(repo, keys).exit_code == 0
    keys.make("root2")
    run = govops("trust", "rotate", "--repo", str(repo), "--root-key", str(keys.pub("root2")),
                 "--sign-with", str(keys.key("root2")))
    refused(run, "not published", "the new root is signed by 0 of the root keys of root "
                                  "version 1, which needs 1")
    assert len(TrustStore(open_repo(repo)).versions()) == 1


def test_a_proposal_made_on_an_older_version_is_refused(repo: Path, keys: Keys,
                                                       tmp_path: Path) -> None:
    assert trust_init(repo, keys, roots=("r1", "r2"), threshold=2).exit_code == 0
    keys.make("bob", "carol")
    proposal = tmp_path / "bob.json"
    run = govops("trust", "add-key", "--repo", str(repo), "--role", "approvers", "--key",
                 str(keys.pub("bob")), "--owner", "bob@acme.test", "--sign-with",
                 str(keys.key("r1")), "--proposal", str(proposal))
    assert run.exit_code == 0 and "not yet published" in run.stdout
    run = govops("trust", "add-key", "--repo", str(repo), "--role", "approvers", "--key",
                 str(keys.pub("carol")), "--owner", "carol@acme.test", "--sign-with",
                 str(keys.key("r1")), "--sign-with", str(keys.key("r2")))
    assert run.exit_code == 0, run.stderr
    run = govops("trust", "sign", "--repo", str(repo), str(proposal), "--sign-with",
                 str(keys.key("r2")))
    assert_input_error(run, "the proposal was made on trust commit")
    assert len(TrustStore(open_repo(repo)).versions()) == 2


# -- pins ---------------------------------------------------------------------------------------


def test_a_fresh_clone_has_no_pin_and_says_how_to_get_one(repo: Path, keys: Keys,
                                                          tmp_path: Path,
                                                          monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("GOVOPS_TRUST_ROOT", raising=False)
    assert trust_init(repo, keys).exit_code == 0
    fingerprint = pin_of(repo)
    clone = tmp_path / "clone"
    pygit2.clone_repository(str(repo), str(clone))
    git = pygit2.Repository(str(clone))
    git.remotes["origin"].fetch([f"+{TRUST_REF}:{TRUST_REF}"])
    assert not (clone / ".git" / "govops").exists()
    assert_input_error(show(clone), "no trust root is pinned: pass --trust-root")
    assert show(clone, "--trust-root", fingerprint).json()["pin"] == fingerprint
    monkeypatch.setenv("GOVOPS_TRUST_ROOT", fingerprint)
    assert show(clone).json()["pinSource"] == "GOVOPS_TRUST_ROOT"
    monkeypatch.delenv("GOVOPS_TRUST_ROOT")
    run = govops("trust", "pin", "--repo", str(clone), fingerprint)
    assert run.exit_code == 0 and fingerprint in run.stdout
    assert show(clone).json()["pin"] == fingerprint


def test_the_wrong_pin_refuses_the_whole_history(repo: Path, keys: Keys) -> None:
    assert trust_init(repo, keys).exit_code == 0
    refused(show(repo, "--trust-root", "sha256:" + "0" * 64),
            "trust version #1", "not the pinned sha256:" + "0" * 64)
    assert_input_error(show(repo, "--trust-root", "sha256:xyz"), "--trust-root: 'sha256:xyz' "
                       "is neither a root fingerprint")


# -- forgeries on refs/govops/trust ---------------------------------------------------------------


def test_a_version_granting_an_attacker_key_without_root_signatures_is_refused(
        repo: Path, keys: Keys) -> None:
    assert trust_init(repo, keys).exit_code == 0
    keys.make("mallory")
    forge(repo, keys, root_version=1, roots=("root",), targets_version=2,
          roles={"signers": ("ci", "mallory"), "approvers": ("legal",)},
          issued="2026-12-05T00:00:00Z", sign_with=("mallory",),
          previous_root=current_root(repo), keep_root=True)
    refused(show(repo), "trust version #2", "its govops roles are signed by 0 of the targets "
                                             "keys of root version 1, which needs 1")


def test_a_new_root_granting_itself_trust_is_refused(repo: Path, keys: Keys) -> None:
    assert trust_init(repo, keys).exit_code == 0
    keys.make("mallory")
    forge(repo, keys, root_version=2, roots=("mallory",), targets_version=2,
          roles={"signers": ("mallory",), "approvers": ("mallory",)},
          issued="2026-12-05T00:00:00Z", sign_with=("mallory",))
    refused(show(repo), "trust version #2", "the new root is signed by 0 of the root keys of "
                                             "root version 1, which needs 1")


def test_an_update_below_the_root_threshold_is_refused(repo: Path, keys: Keys) -> None:
    assert trust_init(repo, keys, roots=("r1", "r2"), threshold=2).exit_code == 0
    keys.make("mallory")
    forge(repo, keys, root_version=1, roots=("r1", "r2"), root_threshold=2,
          targets_version=2, roles={"signers": ("ci", "mallory"), "approvers": ("legal",)},
          issued="2026-12-05T00:00:00Z", sign_with=("r1",),
          previous_root=current_root(repo), keep_root=True)
    refused(show(repo), "trust version #2", "signed by 1 of the targets keys of root version "
                                             "1, which needs 2")


@pytest.mark.parametrize(("targets_version", "issued", "expected"), [
    (3, "2026-12-05T00:00:00Z", "targets version 3 where 2 was due"),
    (1, "2026-12-05T00:00:00Z", "targets version 1 where 2 was due"),
    (2, "2020-01-01T00:00:00Z", "was issued at 2020-01-01T00:00:00Z, before version 1"),
])
def test_versions_must_follow_each_other(repo: Path, keys: Keys, targets_version: int,
                                        issued: str, expected: str) -> None:
    assert trust_init(repo, keys).exit_code == 0
    forge(repo, keys, root_version=1, roots=("root",), targets_version=targets_version,
          roles={"signers": ("ci",), "approvers": ("legal",)}, issued=issued,
          sign_with=("root",), previous_root=current_root(repo), keep_root=True)
    refused(show(repo), "trust version #2", expected)


def test_extra_files_and_a_rewritten_first_root_are_refused(repo: Path, keys: Keys) -> None:
    assert trust_init(repo, keys).exit_code == 0
    pin = pin_of(repo)
    git = open_repo(repo)
    store = git.records(TRUST_REF)
    record = store.read(store.tip() or "")
    store.append({**record.files, "backdoor.pub": b"x"}, store.tip(), "extra", 0)
    refused(show(repo), "trust version #2", "not exactly root.json and targets.json")
    # A whole new history under a first root of the attacker's own does not match the pin.
    pygit2.Repository(str(repo)).references.delete(TRUST_REF)
    shutil.rmtree(repo / ".git" / "govops")
    keys.make("mallory")
    forge(repo, keys, root_version=1, roots=("mallory",), targets_version=1,
          roles={"signers": ("mallory",), "approvers": ("mallory",)},
          issued="2026-12-05T00:00:00Z", sign_with=("mallory",))
    refused(show(repo, "--trust-root", pin), "trust version #1", f"not the pinned {pin}")


def test_history_answers_who_was_trusted_when(repo: Path, keys: Keys,
                                             monkeypatch: pytest.MonkeyPatch) -> None:
    from engine.commands.trust import trust_history

    now = ["2026-12-01T00:00:00Z"]
    monkeypatch.setattr("engine.commands.trust.utc_now", lambda: now[0])
    assert trust_init(repo, keys).exit_code == 0  # issued 12-01, expires a year later
    keys.make("ci2")
    base = ["--repo", str(repo), "--sign-with", str(keys.key("root"))]
    now[0] = "2026-12-02T00:00:00Z"
    assert govops("trust", "add-key", *base, "--role", "signers", "--key",
                  str(keys.pub("ci2"))).exit_code == 0
    now[0] = "2026-12-03T00:00:00Z"
    assert govops("trust", "revoke", *base, "--role", "signers", "--key", str(keys.pub("ci")),
                  "--at", "2027-06-01T00:00:00Z").exit_code == 0
    history = trust_history(repo, None)

    def signers(moment: str) -> set[str]:
        return {k.source for k in history.signers_at(moment).keys}

    ci, ci2 = keys.grant("ci").keyid[:16], keys.grant("ci2").keyid[:16]
    assert signers("2026-11-30T23:59:59Z") == set()  # before the first root: nobody
    assert "none: the first trust root was issued at 2026-12-01T00:00:00Z" in \
        history.signers_at("2026-11-30T23:59:59Z").label
    assert signers("2026-12-01T12:00:00Z") == {ci}  # ci2 vouches for nothing before its grant
    assert signers("2027-05-31T23:59:59Z") == {ci, ci2}
    assert signers("2027-06-01T00:00:00Z") == {ci2}  # ci revoked from then on
    assert signers("2027-12-01T00:00:00Z") == set()  # the trust expired (default: a year)
    assert "which expired at 2027-12-01T00:00:00Z" in \
        history.signers_at("2027-12-01T00:00:00Z").label
    assert history.approvals_needed("2027-01-01T00:00:00Z") == 1
    assert len(history.approvers_at("2027-01-01T00:00:00Z").keys) == 1


def test_a_revocation_reaches_back_to_its_time(repo: Path, keys: Keys) -> None:
    """A key found compromised is revoked from when it was compromised: what it signed after
    that stops counting, even though the revocation was published later."""
    from engine.commands.trust import trust_history

    assert trust_init(repo, keys).exit_code == 0
    first = trust_history(repo, None).versions[0].issued
    assert govops("trust", "revoke", "--repo", str(repo), "--role", "signers", "--key",
                  str(keys.pub("ci")), "--at", first,
                  "--sign-with", str(keys.key("root"))).exit_code == 0
    history = trust_history(repo, None)
    assert history.signers_at(first).keys == ()
    assert "the signers of trust #2 at" in history.signers_at(first).label
