"""`audit verify` over a scripted history (acceptance 1), tampering of every kind named by the
issue detected with exit 3 naming the entry (acceptance 4), and evidence packs that verify
with no repository (acceptance 6)."""

from __future__ import annotations

import hashlib
import itertools
import json
import re
import shlex
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import click
import pytest
import rfc8785
from click.testing import CliRunner

from engine.attest import statement as st
from engine.attest.keys import key_hint, load_public
from engine.attest.signers import KeySigner
from engine.cli.audit import audit_export, audit_verify
from engine.ledger.entry import ENTRY_FILE, ENTRY_RECEIPT, Draft, StoredEntry
from engine.ledger.store import LEDGER_REF, Ledger
from engine.repo import open_repo
from engine.repo.scripted import Step
from engine.trust.document import key_grant
from engine.workdir import WorkDir
from tests.support.cli import Run, govops
from tests.support.repos import NOW, fixture, make_repo, unwaived
from tests.support.trust import later, trusted

GOVOPS = str(Path(sys.executable).with_name("govops"))


def audit(command: click.Command, *args: str) -> Run:
    result = CliRunner().invoke(command, list(args), catch_exceptions=False)
    return Run(result.exit_code, result.stdout, result.stderr)


@dataclass(frozen=True)
class History:
    repo: Path
    key: Path
    public: Path

    def ledger(self) -> Ledger:
        return Ledger(open_repo(self.repo))


def _history(tmp_path: Path) -> History:
    prefix = tmp_path / "ci"
    assert govops("keygen", "--output", str(prefix)).exit_code == 0
    key, public = Path(f"{prefix}.key"), Path(f"{prefix}.pub")
    files = {**unwaived(fixture("acme-ml")), "keys/ci.pub": public.read_bytes()}
    repo = tmp_path / "repo"
    make_repo(repo, Step("acme", files),
              Step("bigger quota", {"stacks/prod-inference.yaml": files[
                  "stacks/prod-inference.yaml"].replace(b"quota: 16", b"quota: 24")}))
    trusted(repo, tmp_path / "trust", public)
    for rev in ("HEAD~1", "HEAD"):
        run = govops("attest", "--repo", str(repo), "--rev", rev, "--key", str(key),
                     "--output", str(tmp_path / f"out-{rev}"), "--now", NOW, "--record")
        assert run.exit_code == 0, run.stderr
    run = govops("check", "--repo", str(repo), "--now", NOW, "--record", "--key", str(key))
    assert run.exit_code == 0, run.stderr
    ledger = Ledger(open_repo(repo))
    entries = ledger.entries()
    assert [e.entry.type for e in entries] == ["decision", "aibom", "decision", "aibom",
                                               "decision"]
    signer = KeySigner(key)
    for decision, aibom, when in ((entries[0], entries[1], later(hours=1)),
                                  (entries[2], entries[3], later(hours=2))):
        ledger.append(Draft(type="apply", revision=decision.entry.revision,
                            stack="prod-inference",
                            links={"decision": decision.hash, "aibom": aibom.hash}),
                      signer, "ci@acme.test", when)
    return History(repo, key, public)


@pytest.fixture
def history(tmp_path: Path) -> History:
    return _history(tmp_path)


def _verify(history: History, *args: str) -> Run:
    return audit(audit_verify, "--repo", str(history.repo), *args)


def test_a_scripted_history_verifies(history: History) -> None:
    run = _verify(history)
    assert run.exit_code == 0, run.stderr
    assert "ledger verified: 7 entries, 12 signatures" in run.stdout
    report = json.loads(_verify(history, "--format", "json").stdout)
    assert report["verified"] is True and report["entries"] == 7
    entries = history.ledger().entries()
    assert [e.entry.seq for e in entries] == list(range(1, 8))
    assert all(e.entry.prev == p.hash for p, e in itertools.pairwise(entries))
    assert entries[1].entry.details["serialNumber"].startswith("urn:uuid:")
    assert history.ledger().checkpoint() is not None


# -- tampering ------------------------------------------------------------------------------

def _fresh_chain(history: History, items: list[StoredEntry],
                 edit: dict[int, dict[str, bytes]] | None = None) -> None:
    """What an attacker with write access to the ref could do: re-create `items` as a new
    chain (new commits, parents re-linked, some files edited) and point the ledger at it."""
    store = open_repo(history.repo).records(LEDGER_REF)
    repo_records = open_repo(history.repo).records("refs/govops/scratch")
    parent = None
    for item in items:
        files = {**item.files, **(edit or {}).get(item.entry.seq, {})}
        parent = repo_records.append(files, parent, "rewritten", 1_800_000_000)
    assert parent is not None
    store.reset(parent)


def _refused(history: History, seq: int, reason: str) -> None:
    run = _verify(history)
    assert run.exit_code == 3, run.stdout + run.stderr
    assert f"entry #{seq} " in run.stderr and reason in run.stderr, run.stderr


def _edited_entry(item: StoredEntry, **changes: object) -> bytes:
    raw = json.loads(item.files[ENTRY_FILE])
    raw.update(changes)
    return bytes(rfc8785.dumps(raw))


def test_changed_content_with_a_consistently_reparented_chain(history: History) -> None:
    entries = history.ledger().entries()
    # Change entry 3's actor and re-link every later entry's prev to the new hashes.
    edits: dict[int, dict[str, bytes]] = {}
    previous_hash = entries[1].hash
    for item in entries[2:]:
        changes: dict[str, object] = {"prev": previous_hash}
        if item.entry.seq == 3:
            changes["actor"] = "mallory"
        data = _edited_entry(item, **changes)
        edits[item.entry.seq] = {ENTRY_FILE: data}
        previous_hash = "sha256:" + hashlib.sha256(data).hexdigest()
    _fresh_chain(history, entries, edits)
    _refused(history, 3, "signature refused")


def test_a_deleted_entry(history: History) -> None:
    entries = history.ledger().entries()
    _fresh_chain(history, entries[:3] + entries[4:])
    _refused(history, 5, "has seq 5 at position 4")


def test_two_swapped_entries(history: History) -> None:
    entries = history.ledger().entries()
    _fresh_chain(history, [*entries[:2], entries[3], entries[2], *entries[4:]])
    _refused(history, 4, "has seq 4 at position 3")


def test_an_entry_resigned_with_an_untrusted_key(history: History, tmp_path: Path) -> None:
    entries = history.ledger().entries()
    assert govops("keygen", "--output", str(tmp_path / "mallory")).exit_code == 0
    target = entries[3]
    receipt = KeySigner(tmp_path / "mallory.key").sign(st.payload(st.statement(
        st.LEDGER_ENTRY, json.loads(target.files[ENTRY_FILE]), "repo", target.entry.revision,
        [st.Covered(ENTRY_FILE, target.files[ENTRY_FILE])])))
    _fresh_chain(history, entries, {4: {ENTRY_RECEIPT: receipt.encode()}})
    _refused(history, 4, "does not verify under any key of the signers of trust #1")


def test_a_reset_ref_with_new_entries_appended_is_detected(history: History) -> None:
    assert _verify(history).exit_code == 0  # the checkpoint is now #7
    ledger = history.ledger()
    entries = ledger.entries()
    open_repo(history.repo).records(LEDGER_REF).reset(entries[4].commit)  # back to #5
    signer = KeySigner(history.key)
    for day in (3, 4):  # two validly signed entries: #6 and #7 again, but different
        ledger.append(Draft(type="apply", revision=entries[0].entry.revision,
                            stack="prod-inference",
                            links={"decision": entries[0].hash, "aibom": entries[1].hash}),
                      signer, "mallory@acme.test", later(days=day))
    # The first entry that is not the one verified, not the checkpoint's tip.
    _refused(history, 6, "differs from the one verified (it was "
                         f"{entries[5].hash[:19]}..., it is ")


def test_a_reset_to_a_shorter_ledger_is_detected(history: History) -> None:
    assert _verify(history).exit_code == 0
    entries = history.ledger().entries()
    open_repo(history.repo).records(LEDGER_REF).reset(entries[2].commit)
    _refused(history, 4, "is missing: the ledger was verified up to #7 but now ends at #3")


def test_a_middle_entry_deleted_and_the_rest_resigned_is_named(history: History) -> None:
    """An attacker holding the signing key drops #4 and signs what followed again: the chain
    is sound and as long as before, so the tip's seq matches. The message names #4, the entry
    that was removed, not #7."""
    assert _verify(history).exit_code == 0
    ledger = history.ledger()
    entries = ledger.entries()
    open_repo(history.repo).records(LEDGER_REF).reset(entries[2].commit)
    signer = KeySigner(history.key)
    for day in (3, 4, 5, 6):
        ledger.append(Draft(type="apply", revision=entries[0].entry.revision,
                            stack="prod-inference",
                            links={"decision": entries[0].hash, "aibom": entries[1].hash}),
                      signer, "release-bot@acme.test", later(days=day))
    assert len(ledger.entries()) == 7
    _refused(history, 4, f"differs from the one verified (it was {entries[3].hash[:19]}...")
    run = _verify(history)
    assert "entry #7" not in run.stderr


def test_an_accepted_rewrite_verifies_and_becomes_the_checkpoint(history: History) -> None:
    """`--accept-rewrite` is the operator's decision after investigating; the rewritten chain
    must still verify in full, and from then on it is what is checked against."""
    assert _verify(history).exit_code == 0
    ledger = history.ledger()
    entries = ledger.entries()
    open_repo(history.repo).records(LEDGER_REF).reset(entries[4].commit)
    _refused(history, 6, "is missing")
    accepted = _verify(history, "--accept-rewrite")
    assert accepted.exit_code == 0, accepted.stderr
    assert "ledger verified: 5 entries" in accepted.stdout
    checkpoint = ledger.checkpoint()
    assert checkpoint is not None and (checkpoint.seq, checkpoint.hash) == (5, entries[4].hash)
    assert _verify(history).exit_code == 0


def test_an_accepted_rewrite_must_still_verify(history: History) -> None:
    assert _verify(history).exit_code == 0
    entries = history.ledger().entries()
    _fresh_chain(history, entries[:3] + entries[4:])  # #4 deleted, nothing re-signed
    run = _verify(history, "--accept-rewrite")
    assert run.exit_code == 3 and "has seq 5 at position 4" in run.stderr
    checkpoint = history.ledger().checkpoint()
    assert checkpoint is not None and checkpoint.hash == entries[6].hash  # not moved


def test_an_apply_must_rest_on_a_passing_decision(tmp_path: Path) -> None:
    history = _history(tmp_path)
    ledger = history.ledger()
    entries = ledger.entries()
    ledger.append(Draft(type="apply", revision=entries[0].entry.revision, stack="x",
                        links={"decision": entries[1].hash, "aibom": entries[1].hash}),
                  KeySigner(history.key), "ci", later(days=5))
    _refused(history, 8, "must rest on a decision entry")


def test_verify_from_an_entry_and_bad_entry_references(history: History) -> None:
    run = _verify(history, "--from", "6")
    assert run.exit_code == 0 and "2 signatures" in run.stdout
    run = _verify(history, "--from", "99")
    assert run.exit_code == 2 and "no ledger entry #99" in run.stderr
    run = _verify(history, "--from", "zz")
    assert run.exit_code == 2 and "neither an entry number nor a hash prefix" in run.stderr


# -- acceptance 6: evidence packs ----------------------------------------------------------

@pytest.mark.parametrize("reference", ["6", "hash"])
def test_an_exported_pack_verifies_with_no_repository(history: History, tmp_path: Path,
                                                      reference: str) -> None:
    entries = history.ledger().entries()
    # With its sha256: prefix: ten bare hex digits can all be decimal digits, an entry number.
    ref = entries[5].hash[:17] if reference == "hash" else reference
    pack = tmp_path / "pack"
    run = audit(audit_export, "--repo", str(history.repo), "--output", str(pack), ref)
    assert run.exit_code == 0, run.stderr
    names = sorted(p.name for p in pack.iterdir())
    for expected in ("README.md", "entry.json", "entry.sigstore.json", "decision.json",
                     "decision.sigstore.json", "aibom.cdx.json", "aibom.sigstore.json",
                     "decision-entry.json", "aibom-entry.sigstore.json", "trusted-key-1.pub"):
        assert expected in names
    readme = (pack / "README.md").read_text()
    command = re.search(r"(?m)^govops verify (?!--pack).*$", readme)
    assert command is not None and "cosign verify-blob-attestation" in readme
    keyid = key_grant(load_public(history.public.read_bytes(), "ci.pub")).keyid[:16]
    assert f"- signed by: key {keyid}, under trust version #1" in readme
    pin = WorkDir(history.repo / ".git").trust_pin.read_text().strip()
    assert f"under trust root `{pin}`" in readme
    empty = tmp_path / "elsewhere"
    empty.mkdir()
    for name in names:
        (empty / name).write_bytes((pack / name).read_bytes())
    args = shlex.split(command.group(0))[1:]
    done = subprocess.run([GOVOPS, *args], cwd=empty, capture_output=True, text=True,
                          check=False)
    assert done.returncode == 0, done.stdout + done.stderr
    assert done.stdout.count("verified ") == len([n for n in names if n.endswith(".sigstore.json")])
    # The same pack with one covered file changed is refused.
    decision = empty / "decision.json"
    decision.write_text(decision.read_text().replace('"pass"', '"fail"', 1))
    done = subprocess.run([GOVOPS, *args], cwd=empty, capture_output=True, text=True,
                          check=False)
    assert done.returncode == 3 and "REFUSED" in done.stderr


def _pack(history: History, tmp_path: Path, reference: str = "5") -> Path:
    pack = tmp_path / "pack"
    run = audit(audit_export, "--repo", str(history.repo), "--output", str(pack), reference)
    assert run.exit_code == 0, run.stderr
    return pack


def _verify_pack(pack: Path, *args: str) -> Run:
    """`govops verify --pack` run from inside the pack, as its README says, no repository."""
    done = subprocess.run([GOVOPS, "verify", "--pack", ".", *args], cwd=pack,
                          capture_output=True, text=True, check=False)
    return Run(done.returncode, done.stdout, done.stderr)


def test_a_whole_pack_verifies_and_says_which_keys_it_trusted(history: History,
                                                              tmp_path: Path) -> None:
    pack = _pack(history, tmp_path, "6")  # an apply: links a decision and an AIBOM
    readme = (pack / "README.md").read_text()
    assert "govops verify --pack . --key trusted-key-1.pub" in readme
    fingerprint = "sha256:" + key_hint(load_public(history.public.read_bytes(), "ci.pub"))
    assert f"- key `trusted-key-1.pub`: fingerprint `{fingerprint}`" in readme
    done = _verify_pack(pack)
    assert done.exit_code == 0, done.stdout + done.stderr
    assert done.stdout.startswith("pack verified: entry #6 (apply) sha256:")
    assert "linked entries aibom #2, decision #1" in done.stdout
    assert f"trusted key trusted-key-1.pub: {fingerprint}" in done.stdout
    (pack / "README.md").write_text("edited instructions\n")  # not evidence: still verifies
    assert _verify_pack(pack).exit_code == 0


@pytest.mark.parametrize(("edit", "reason"), [
    ("decision.json", "decision entry #1 (decision): decision.json does not match its digest"),
    ("decision-entry.json", "decision-entry.json is not the entry #6 links as decision"),
    ("extra.txt", "extra.txt is in the pack but no signed entry's digests cover it"),
    ("aibom.cdx.json:delete", "aibom.cdx.json, which entry #2 records, is missing from the pack"),
    ("trusted-key-1.pub", "entry #6 (apply): "),  # another key: the signatures do not verify
])
def test_an_edited_pack_is_refused(history: History, tmp_path: Path, edit: str,
                                   reason: str) -> None:
    pack = _pack(history, tmp_path, "6")
    name = edit.split(":")[0]
    if edit.endswith(":delete"):
        (pack / name).unlink()
    elif name == "extra.txt":
        (pack / name).write_text("not covered\n")
    elif name == "trusted-key-1.pub":
        assert govops("keygen", "--output", str(tmp_path / "other")).exit_code == 0
        (pack / name).write_bytes((tmp_path / "other.pub").read_bytes())
    elif name == "decision-entry.json":
        raw = json.loads((pack / name).read_bytes())
        raw["details"]["verdict"] = "pass"
        raw["actor"] = "someone else"
        (pack / name).write_bytes(rfc8785.dumps(raw))
    else:
        (pack / name).write_text((pack / name).read_text().replace('"pass"', '"fail"', 1))
    done = _verify_pack(pack)
    assert done.exit_code == 3, done.stdout + done.stderr
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and reason in lines[0], done.stderr
    assert done.stdout == ""


def test_a_pack_verifies_with_the_key_given_instead_of_its_own(history: History,
                                                                tmp_path: Path) -> None:
    pack = _pack(history, tmp_path, "6")
    assert govops("keygen", "--output", str(tmp_path / "other")).exit_code == 0
    (pack / "trusted-key-1.pub").write_bytes((tmp_path / "other.pub").read_bytes())
    assert _verify_pack(pack).exit_code == 3
    done = _verify_pack(pack, "--key", str(history.public))
    assert done.exit_code == 0, done.stderr
    assert f"trusted key {history.public}: sha256:" in done.stdout


def test_export_refuses_a_non_empty_directory(history: History, tmp_path: Path) -> None:
    (tmp_path / "busy").mkdir()
    (tmp_path / "busy" / "x").write_text("x")
    run = audit(audit_export, "--repo", str(history.repo), "--output", str(tmp_path / "busy"), "1")
    assert run.exit_code == 2 and "not empty" in run.stderr


def test_entry_json_must_be_canonical_and_complete(history: History) -> None:
    from engine.ledger.entry import Entry

    data = history.ledger().entries()[0].files[ENTRY_FILE]
    assert Entry.decode(data).seq == 1
    spaced = json.dumps(json.loads(data), indent=1).encode()
    with pytest.raises(ValueError, match="canonical"):
        Entry.decode(spaced)
    raw = json.loads(data)
    raw["extra"] = 1
    with pytest.raises(ValueError, match="exactly the entry fields"):
        Entry.decode(rfc8785.dumps(raw))
    with pytest.raises(ValueError, match="not JSON"):
        Entry.decode(b"{")


def test_an_entry_with_extra_tree_entries_is_refused(history: History) -> None:
    import pygit2

    entries = history.ledger().entries()
    git = pygit2.Repository(str(history.repo))
    target = git[entries[1].commit]
    builder = git.TreeBuilder(target.tree)
    sub = git.TreeBuilder()
    sub.insert("payload.sh", git.create_blob(b"echo hi\n"), pygit2.GIT_FILEMODE_BLOB)
    builder.insert("hidden", sub.write(), pygit2.GIT_FILEMODE_TREE)
    sig = pygit2.Signature("x", "x@x", 1_800_000_000, 0)
    parent = git.create_commit(None, sig, sig, "with a directory", builder.write(),
                               list(target.parent_ids))
    tip = str(parent)
    for item in entries[2:]:  # the later entries, re-parented unchanged
        tip = str(git.create_commit(None, sig, sig, "copy", git[item.commit].tree_id, [tip]))
    open_repo(history.repo).records(LEDGER_REF).reset(tip)
    _refused(history, 2, "holds hidden, which no entry writes")


def test_entry_fields_of_the_wrong_type_are_refused(history: History) -> None:
    from engine.ledger.entry import Entry

    raw = json.loads(history.ledger().entries()[0].files[ENTRY_FILE])
    for field, value in (("actor", 7), ("revision", ["x"]), ("digests", {"a": 1}),
                         ("details", [])):
        bad = {**raw, field: value}
        with pytest.raises(ValueError, match=r"wrong type|must map|must be an object"):
            Entry.decode(rfc8785.dumps(bad))


def test_an_append_with_a_clock_behind_the_tip_keeps_the_chain_in_order(
        history: History) -> None:
    ledger = history.ledger()
    tip = ledger.entries()[-1]
    behind = ledger.append(Draft(type="verify", revision=None), KeySigner(history.key), "ci",
                           "2026-01-01T00:00:00Z")
    assert behind.entry.time == tip.entry.time
    assert _verify(history).exit_code == 0


def _resigned_chain(history: History, items: list[StoredEntry]) -> None:
    """What an insider holding a trusted signing key could do: re-create `items` in this
    order, renumbered, re-linked and re-signed with that key, every signature valid."""
    signer = KeySigner(history.key)
    edits: dict[int, dict[str, bytes]] = {}
    previous: str | None = None
    for position, item in enumerate(items, start=1):
        data = _edited_entry(item, seq=position, prev=previous)
        receipt = signer.sign(st.payload(st.statement(
            st.LEDGER_ENTRY, json.loads(data), "repo", item.entry.revision,
            [st.Covered(ENTRY_FILE, data)])))
        edits[item.entry.seq] = {ENTRY_FILE: data, ENTRY_RECEIPT: receipt.encode()}
        previous = "sha256:" + hashlib.sha256(data).hexdigest()
    _fresh_chain(history, items, edits)


def test_two_swapped_entries_resigned_with_a_trusted_key(history: History) -> None:
    """Attack (e) of issue 13: every seq, prev and signature is right; only the times give
    the swap away (apply #6 and #7 were made an hour apart)."""
    entries = history.ledger().entries()
    _resigned_chain(history, [*entries[:5], entries[6], entries[5]])
    WorkDir(history.repo / ".git").ledger_checkpoint.unlink()  # as on a fresh clone
    _refused(history, 7, "before entry #6")
    run = _verify(history)
    assert "entries were reordered or back-dated" in run.stderr


def test_verification_spread_over_processes_gives_the_same_answers(
        history: History, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Large ledgers check their signatures in forked workers (engine.parallel); forced on
    for this small one, the report is word for word the one-process report, for a good ledger
    and for one whose 4th entry is signed by an untrusted key (the first bad entry is named,
    though a worker met the later ones first)."""
    from engine import parallel

    monkeypatch.setattr(parallel, "MINIMUM", 1)

    def verify(jobs: str) -> Run:
        monkeypatch.setenv(parallel.JOBS_VARIABLE, jobs)
        WorkDir(history.repo / ".git").ledger_checkpoint.unlink(missing_ok=True)
        return _verify(history)

    alone, spread = verify("1"), verify("2")
    assert spread.exit_code == alone.exit_code == 0
    assert spread.stdout == alone.stdout and "7 entries, 12 signatures" in spread.stdout
    entries = history.ledger().entries()
    assert govops("keygen", "--output", str(tmp_path / "mallory")).exit_code == 0
    forged = KeySigner(tmp_path / "mallory.key").sign(st.payload(st.statement(
        st.LEDGER_ENTRY, json.loads(entries[3].files[ENTRY_FILE]), "repo",
        entries[3].entry.revision, [st.Covered(ENTRY_FILE, entries[3].files[ENTRY_FILE])])))
    _fresh_chain(history, entries, {4: {ENTRY_RECEIPT: forged.encode()},
                                    6: {ENTRY_FILE: _edited_entry(entries[5], actor="eve")}})
    alone, spread = verify("1"), verify("2")
    assert spread.exit_code == alone.exit_code == 3
    assert spread.stderr == alone.stderr
    assert "entry #4 " in spread.stderr and "does not verify under any key" in spread.stderr
    monkeypatch.setenv(parallel.JOBS_VARIABLE, "many")
    bad = _verify(history)
    assert bad.exit_code == 2 and "GOVOPS_JOBS='many'" in bad.stderr
