"""`audit log|show|at|search|reindex` over a scripted history of three stacks and five days
(tests/support/ledger_history.py): exact entries, stacks and live ranges, in text and JSON; the same
answers after the index is deleted; an index that catches up without a rebuild; bad ENTRY and
TIME inputs rejected with one line and exit 2."""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pygit2
import pytest
from click.testing import CliRunner
from packaging.requirements import Requirement
from packaging.specifiers import SpecifierSet
from packaging.utils import canonicalize_name
from packaging.version import Version

from engine.attest.keys import load_public
from engine.attest.signers import KeySigner
from engine.cli.audit import audit
from engine.clock import TimeError, parse_time, utc
from engine.ledger import queries
from engine.ledger.entry import Draft
from engine.ledger.index import LedgerIndex
from engine.ledger.rewrite import LedgerRewritten
from engine.ledger.store import LEDGER_REF, Ledger
from engine.repo import open_repo
from engine.trust.document import key_grant
from engine.workdir import WorkDir
from tests.support.cli import Run, assert_input_error
from tests.support.ledger_history import (
    LLAMA_NEW,
    LLAMA_OLD,
    MISTRAL,
    Deployed,
    LedgerHistory,
    build_ledger_history,
)
from tests.support.repos import ROOT

ALL_DEPLOYMENTS = [5, 6, 9, 12, 13, 16, 18]


@pytest.fixture(scope="module")
def history(tmp_path_factory: pytest.TempPathFactory) -> LedgerHistory:
    return build_ledger_history(tmp_path_factory.mktemp("ledger-history"))


@pytest.fixture
def own_history(history: LedgerHistory, tmp_path: Path) -> LedgerHistory:
    """A copy this test may append to, reset or strip of its index."""
    shutil.copytree(history.repo, tmp_path / "repo", symlinks=True)
    return LedgerHistory(tmp_path / "repo", history.key, history.public, history.commits,
                         history.entries, history.deployments)


def run(history: LedgerHistory | Path, *args: str, fmt: str = "json") -> Run:
    repo = history if isinstance(history, Path) else history.repo
    command, *rest = args
    result = CliRunner().invoke(audit, [command, "--repo", str(repo), "--format", fmt, *rest],
                                catch_exceptions=False)
    return Run(result.exit_code, result.stdout, result.stderr)


def answer(history: LedgerHistory, *args: str) -> Any:
    done = run(history, *args)
    assert done.exit_code == 0, done.stderr
    assert done.stderr == ""
    return done.json()


def index_path(history: LedgerHistory) -> Path:
    return WorkDir(history.repo / ".git").ledger_index


def live_at(history: LedgerHistory, stack: str, when: str) -> Deployed | None:
    """The oracle: the scripted deployment of `stack` live at `when` (from <= t < until)."""
    found = [d for d in history.deployments if d.stack == stack and d.live_from <= when
             and (d.live_until is None or when < d.live_until)]
    assert len(found) <= 1
    return found[0] if found else None


# -- log ----------------------------------------------------------------------------------------


def test_log_lists_every_entry_in_order_with_its_links(history: LedgerHistory) -> None:
    out = answer(history, "log")
    assert out["filters"] == {"stack": None, "type": None, "since": None, "until": None}
    assert [(e["seq"], e["type"], e["stack"], e["time"], e["hash"]) for e in out["entries"]] == [
        (r.seq, r.type, r.stack, r.time, r.hash) for r in history.entries]
    assert [e["revision"] for e in out["entries"]] == [
        history.commits[r.revision] for r in history.entries]
    rollback = out["entries"][17]
    assert rollback["links"] == {"decision": {"hash": history.entry(3).hash, "seq": 3},
                                 "aibom": {"hash": history.entry(4).hash, "seq": 4}}
    assert rollback["actor"] == "deploy-bot@acme.test"
    assert [e["verdict"] for e in out["entries"] if e["type"] == "decision"] == [
        "pass", "pass", "pass", "pass", "fail"]
    assert out["entries"][3]["serial_number"].startswith("urn:uuid:")
    assert [(e["type"], e["waiver"]) for e in out["entries"][:2]] == [
        ("approval", "llama-license-ok"), ("approval", "batch-eval-single-replica")]


@pytest.mark.parametrize(("args", "seqs"), [
    (["--stack", "prod-inference"], [5, 9, 12, 18]),
    (["--type", "decision"], [3, 7, 10, 14, 17]),
    (["--type", "approval"], [1, 2]),
    (["--type", "apply", "--stack", "dev-sandbox"], [6, 13]),
    (["--type", "rollback"], [18]),
    (["--since", "2026-11-18", "--until", "2026-11-19 09:00"], [10, 11, 12, 13, 14]),
    (["--since", "2026-11-19T10:00:00+01:00"], [14, 15, 16, 17, 18]),
    (["--until", "2026-11-16T09:00:04Z"], [1, 2, 3]),
    (["--stack", "staging"], []),
])
def test_log_filters(history: LedgerHistory, args: list[str], seqs: list[int]) -> None:
    assert [e["seq"] for e in answer(history, "log", *args)["entries"]] == seqs


def test_log_filters_are_shown_normalised_and_relative_times_count_from_now(
        history: LedgerHistory) -> None:
    out = answer(history, "log", "--since", "2026-11-18", "--until", "2026-11-19 09:00")
    assert out["filters"] == {"stack": None, "type": None, "since": "2026-11-18T00:00:00Z",
                              "until": "2026-11-19T09:00:00Z"}
    now = dt.datetime(2026, 11, 21, 12, 0, tzinfo=dt.UTC)
    with LedgerIndex.open(open_repo(history.repo)) as index:
        found = queries.log(index, since="3 days ago", until="yesterday", now=now)
    assert (found.since, found.until) == ("2026-11-18T12:00:00Z", "2026-11-20T12:00:00Z")
    assert [e.seq for e in found.entries] == [13, 14, 15, 16, 17, 18]


def ci_keyid(history: LedgerHistory) -> str:
    return key_grant(load_public(history.public.read_bytes(), "ci.pub")).keyid[:16]


def test_every_entry_names_its_signer_and_trust_version(history: LedgerHistory,
                                                        tmp_path: Path) -> None:
    out = answer(history, "show", "6")
    assert out["entry"]["signer"] == f"key {ci_keyid(history)}"
    assert out["entry"]["trust_version"] == 1
    text = run(history, "show", "6", fmt="text").stdout
    assert ["signer", "key", f"{ci_keyid(history)},", "trust", "#1"] in [
        line.split() for line in text.splitlines()]
    # Without a pin (a fresh clone), a listing still says who the bundle declares, unverified.
    clone = tmp_path / "clone"
    shutil.copytree(history.repo, clone)
    WorkDir(clone / ".git").trust_pin.unlink()
    bare = answer_path(clone, "log")["entries"][5]
    hint = json.loads(history.ledger().entries()[5].files["entry.sigstore.json"])[
        "verificationMaterial"]["publicKey"]["hint"]
    assert bare["signer"] == f"key {hint}" and bare["trust_version"] is None


def test_log_text(history: LedgerHistory) -> None:
    done = run(history, "log", "--stack", "dev-sandbox", fmt="text")
    assert done.exit_code == 0, done.stderr
    lines = done.stdout.splitlines()
    assert lines[0].split() == ["#", "hash", "time", "type", "stack", "revision", "actor",
                                "signer", "what"]
    assert lines[1].split() == [
        "#6", history.entry(6).hash[7:19], "2026-11-16T11:00:00Z", "apply", "dev-sandbox",
        history.commits["acme"][:12], "deploy-bot@acme.test", "key", f"{ci_keyid(history)},",
        "trust", "#1", "rests", "on", "decision", "#3,", "aibom", "#4"]
    assert lines[2].split()[:4] == ["#13", history.entry(13).hash[7:19],
                                    "2026-11-18T15:00:00Z", "apply"]
    assert lines[3] == "2 entries (stack dev-sandbox)"
    none = run(history, "log", "--type", "waiver", fmt="text")
    assert none.stdout == "no ledger entries (type waiver)\n"


# -- show ---------------------------------------------------------------------------------------


def test_show_by_seq_and_by_hash_prefix(history: LedgerHistory) -> None:
    item = history.ledger().entries()[4]
    by_seq = answer(history, "show", "5")
    digits = item.hash.removeprefix("sha256:")
    # all digits would be read as a seq number; the bare form needs a letter in it
    prefix = next(digits[:n] for n in range(10, 65) if not digits[:n].isdigit())
    assert answer(history, "show", prefix) == by_seq
    assert answer(history, "show", f"sha256:{prefix.upper()}") == by_seq
    assert by_seq["entry"]["seq"] == 5 and by_seq["entry"]["hash"] == item.hash
    assert by_seq["entry"]["commit"] == item.commit
    assert by_seq["document"] == item.entry.as_json()
    assert by_seq["files"] == [
        {"name": name, "size": len(data), "digest": "sha256:" + hashlib.sha256(data).hexdigest(),
         "role": {"entry.json": "entry", "entry.sigstore.json": "signature"}[name]}
        for name, data in sorted(item.files.items())]
    assert [(e["seq"], e["type"]) for e in by_seq["linked"]] == [(3, "decision"), (4, "aibom")]


def test_show_a_decision_lists_its_recorded_files(history: LedgerHistory) -> None:
    item = history.ledger().entries()[2]
    out = answer(history, "show", "3")
    assert [(f["name"], f["size"], f["role"]) for f in out["files"]] == [
        ("decision.json", len(item.files["decision.json"]), "recorded"),
        ("decision.sigstore.json", len(item.files["decision.sigstore.json"]), "recorded"),
        ("entry.json", len(item.files["entry.json"]), "entry"),
        ("entry.sigstore.json", len(item.files["entry.sigstore.json"]), "signature"),
        ("policy-bundle.json", len(item.files["policy-bundle.json"]), "recorded")]
    assert out["document"]["digests"]["decision.json"] == next(
        f["digest"] for f in out["files"] if f["name"] == "decision.json")
    assert out["linked"] == []
    text = run(history, "show", "3", fmt="text").stdout.splitlines()
    assert text[0] == "ledger entry #3 (decision)"
    assert text[2].split() == ["hash", item.hash]
    assert ["details.verdict", "pass"] in [line.split() for line in text]
    assert ["decision.json", str(len(item.files["decision.json"])),
            out["files"][0]["digest"], "recorded"] in [line.split() for line in text]


# -- at -----------------------------------------------------------------------------------------

AT_CASES = [
    ("prod-inference", "2026-11-15T23:59:59Z", None),
    ("prod-inference", "2026-11-16T10:00:00Z", 5),
    ("prod-inference", "2026-11-17T09:59:59Z", 5),
    ("prod-inference", "2026-11-17T10:00:00Z", 9),
    ("prod-inference", "2026-11-17T11:00:00+01:00", 9),
    ("prod-inference", "2026-11-19 08:00", 12),
    ("prod-inference", "2026-11-20T12:00:00Z", 18),
    ("prod-inference", "2027-03-01", 18),
    ("dev-sandbox", "2026-11-16T10:30:00Z", None),
    ("dev-sandbox", "2026-11-18T14:59:59Z", 6),
    ("dev-sandbox", "2026-11-18T15:00:00Z", 13),
    ("batch-eval", "2026-11-19T09:59:59Z", None),
    ("batch-eval", "2026-11-25", 16),
]


@pytest.mark.parametrize(("stack", "when", "seq"), AT_CASES)
def test_at_names_the_live_entry_and_exactly_what_it_deployed(
        history: LedgerHistory, stack: str, when: str, seq: int | None) -> None:
    out = answer(history, "at", "--stack", stack, when)
    moment = utc(parse_time(when))
    assert out["stack"] == stack and out["time"] == moment
    expected = live_at(history, stack, moment)
    assert (expected.seq if expected else None) == seq
    if expected is None:
        assert out["deployed"] is False and out["entry"] is None
        assert out["models"] == out["packages"] == out["images"] == out["environments"] == []
        first = min(d.seq for d in history.deployments if d.stack == stack)
        assert out["first"]["seq"] == first
        return
    assert out["deployed"] is True and out["first"] is None and out["aibom"] == "ok"
    entry = out["entry"]
    assert (entry["seq"], entry["type"], entry["stack"]) == (seq, expected.type, stack)
    assert entry["revision"] == history.commits[expected.revision]
    assert entry["hash"] == history.entry(expected.seq).hash
    assert (out["live_from"], out["live_until"]) == (expected.live_from, expected.live_until)
    assert {m["name"]: m["digest"] for m in out["models"]} == dict(expected.models)
    assert [e["name"] for e in out["environments"]] == list(expected.environments)
    assert {(i["environment"], i["name"], i["digest"]) for i in out["images"]} == expected.images
    assert {(p["environment"], p["name"], p["version"]) for p in out["packages"]} == \
        expected.packages
    assert len(out["packages"]) == len(expected.packages)
    assert all(p["purl"].startswith("pkg:pypi/" + p["name"] + "@") for p in out["packages"])
    assert [(d["name"], d["version"]) for d in out["drivers"]] == [("cuda", "12.4")] * len(
        expected.environments)


def test_at_answers_in_text(history: LedgerHistory) -> None:
    done = run(history, "at", "--stack", "prod-inference", "2026-11-18T12:00:00Z", fmt="text")
    assert done.exit_code == 0, done.stderr
    lines = done.stdout.splitlines()
    assert lines[0] == ("prod-inference at 2026-11-18T12:00:00Z: apply #12 of revision "
                        f"{history.commits['torch']}")
    assert lines[1].startswith("live from 2026-11-18T10:00:00Z until 2026-11-20T12:00:00Z; "
                               f"ledger entry {history.entry(12).hash}")
    rows = [line.split() for line in lines]
    assert ["llama-3-8b-instruct", "5f0b02c75b57c5855da9ae460ce51323ea669d8a", LLAMA_NEW] in rows
    assert ["vllm-serve", "torch", "2.7.0", "pkg:pypi/torch@2.7.0"] in rows
    assert not any(row[1:3] == ["torch", "2.6.0"] for row in rows if len(row) > 2)
    nothing = run(history, "at", "--stack", "prod-inference", "2026-11-15", fmt="text")
    assert nothing.stdout == ("nothing was deployed to prod-inference at 2026-11-15T00:00:00Z "
                              "(its first apply, #5, is at 2026-11-16T10:00:00Z)\n")
    unknown = run(history, "at", "--stack", "staging", "2026-11-18", fmt="text")
    assert unknown.exit_code == 0
    assert unknown.stdout == ("nothing was deployed to staging at 2026-11-18T00:00:00Z "
                              "(no apply or rollback of staging is recorded)\n")


def test_at_json_keys_are_stable(history: LedgerHistory) -> None:
    out = answer(history, "at", "--stack", "dev-sandbox", "2026-11-19")
    assert set(out) == {"stack", "time", "deployed", "entry", "live_from", "live_until",
                        "aibom", "first", "models", "datasets", "environments", "images",
                        "packages", "drivers"}
    assert set(out["entry"]) == {"seq", "hash", "commit", "type", "time", "actor", "revision",
                                 "stack", "verdict", "decision_id", "serial_number", "waiver",
                                 "signer", "trust_version", "links"}
    assert set(out["packages"][0]) == {"kind", "name", "version", "digest", "purl",
                                       "environment"}
    assert {d["name"] for d in out["datasets"]} == {
        "acme-product-docs", "support-tickets-2026q3", "ultrachat-200k"}


# -- search -------------------------------------------------------------------------------------


def deployments(out: dict[str, Any]) -> list[tuple[int, str, str, str | None]]:
    return [(d["entry"]["seq"], d["stack"], d["live_from"], d["live_until"])
            for d in out["deployments"]]


def ranges(out: dict[str, Any]) -> list[tuple[str, str, str | None, list[int]]]:
    return [(r["stack"], r["live_from"], r["live_until"], r["entries"]) for r in out["ranges"]]


def oracle(history: LedgerHistory, seqs: list[int]) -> list[tuple[int, str, str, str | None]]:
    return [(d.seq, d.stack, d.live_from, d.live_until) for d in history.deployments
            if d.seq in seqs]


def _pep440(query: str) -> tuple[str, SpecifierSet]:
    """What a query means, read by packaging alone: NAME@V is NAME==V."""
    if "@" in query:
        name, _, version = query.partition("@")
        return canonicalize_name(name), SpecifierSet(f"=={version}")
    requirement = Requirement(query)
    return canonicalize_name(requirement.name), requirement.specifier


@pytest.mark.parametrize("package", [
    "torch", "torch@2.6.0", "torch@2.7.0", "torch@2.6.0+cu124", "Typing_Extensions",
    "torch<2.7", "torch==2.7.0", "torch>=2.6,<2.7", "torch~=2.6", "torch!=2.6.0",
])
def test_search_package_matches_the_lock_files_deployed(history: LedgerHistory,
                                                        package: str) -> None:
    """Every deployment whose lock files hold a version packaging says is in the query, and
    nothing else; `torch@2.6.0` includes the local build 2.6.0+cu124 (PEP 440)."""
    name, specifier = _pep440(package)

    def wanted(n: str, v: str) -> bool:
        return n == name and specifier.contains(Version(v), prereleases=True)

    expected = [d.seq for d in history.deployments if any(wanted(n, v)
                                                           for _, n, v in d.packages)]
    out = answer(history, "search", "--package", package)
    assert (out["field"], out["value"], out["decisions"]) == ("package", package, [])
    assert deployments(out) == oracle(history, expected)
    for found in out["deployments"]:
        deployed = history.deployment(found["entry"]["seq"])
        assert {(m["environment"], m["name"], m["version"]) for m in found["matched"]} == {
            p for p in deployed.packages if wanted(p[1], p[2])}


def test_search_package_live_ranges(history: LedgerHistory) -> None:
    old = answer(history, "search", "--package", "torch==2.6.0+cpu.0")
    assert deployments(old) == []
    old = answer(history, "search", "--package", "torch<2.7")  # 2.6.0 and 2.6.0+cu124
    assert [d[0] for d in deployments(old)] == [5, 6, 9, 13, 18]
    assert ranges(old) == [
        ("dev-sandbox", "2026-11-16T11:00:00Z", None, [6, 13]),
        ("prod-inference", "2026-11-16T10:00:00Z", "2026-11-18T10:00:00Z", [5, 9]),
        ("prod-inference", "2026-11-20T12:00:00Z", None, [18])]
    assert answer(history, "search", "--package", "torch@2.6.0")["ranges"] == old["ranges"]
    new = answer(history, "search", "--package", "torch@2.7.0")
    assert ranges(new) == [
        ("batch-eval", "2026-11-19T10:00:00Z", None, [16]),
        ("dev-sandbox", "2026-11-18T15:00:00Z", None, [13]),
        ("prod-inference", "2026-11-18T10:00:00Z", "2026-11-20T12:00:00Z", [12])]
    cuda = answer(history, "search", "--package", "torch@2.6.0+cu124")
    assert ranges(cuda) == [("dev-sandbox", "2026-11-16T11:00:00Z", None, [6, 13])]
    assert answer(history, "search", "--package", "leftpad")["deployments"] == []
    assert answer(history, "search", "--package", "torch@9.9")["ranges"] == []


def test_search_model_by_name_and_by_digest(history: LedgerHistory) -> None:
    by_name = answer(history, "search", "--model", "llama-3-8b-instruct")
    assert [d[0] for d in deployments(by_name)] == [5, 9, 12, 18]
    assert ranges(by_name) == [("prod-inference", "2026-11-16T10:00:00Z", None, [5, 9, 12, 18])]
    assert [m["digest"] for d in by_name["deployments"] for m in d["matched"]] == [
        LLAMA_OLD, LLAMA_NEW, LLAMA_NEW, LLAMA_OLD]
    old = answer(history, "search", "--model", LLAMA_OLD)
    assert deployments(old) == oracle(history, [5, 18])
    assert ranges(old) == [
        ("prod-inference", "2026-11-16T10:00:00Z", "2026-11-17T10:00:00Z", [5]),
        ("prod-inference", "2026-11-20T12:00:00Z", None, [18])]
    new = answer(history, "search", "--model", "sha256:5e5e5e5e")
    assert ranges(new) == [
        ("prod-inference", "2026-11-17T10:00:00Z", "2026-11-20T12:00:00Z", [9, 12])]
    bare = answer(history, "search", "--model", LLAMA_NEW.removeprefix("sha256:"))
    assert deployments(bare) == deployments(new)
    mistral = answer(history, "search", "--model", MISTRAL)
    assert ranges(mistral) == [
        ("batch-eval", "2026-11-19T10:00:00Z", None, [16]),
        ("prod-inference", "2026-11-16T10:00:00Z", None, [5, 9, 12, 18])]
    assert answer(history, "search", "--model", "gpt-5")["deployments"] == []


def test_search_policy_finds_decisions_and_the_deployments_resting_on_them(
        history: LedgerHistory) -> None:
    out = answer(history, "search", "--policy", "mdl-002")
    assert [(d["entry"]["seq"], d["entry"]["verdict"],
             [(r["policy"], r["name"], r["severity"], r["waived"], r["waiver"])
              for r in d["results"]]) for d in out["decisions"]] == [
        (seq, "pass", [("MDL-002", "llama-3-8b-instruct", "deny", True, "llama-license-ok")])
        for seq in (3, 7, 10, 14)] + [
        (17, "fail", [("MDL-002", "llama-3-8b-instruct", "deny", False, None)])]
    assert out["decisions"][0]["results"][0]["file"] == "models/llama-3-8b-instruct.yaml"
    assert out["decisions"][0]["results"][0]["line"] == 13
    assert deployments(out) == oracle(history, ALL_DEPLOYMENTS)
    assert [d["matched"] for d in out["deployments"]] == [[]] * 7
    assert [d["entry"]["links"]["decision"]["seq"] for d in out["deployments"]] == [
        3, 3, 7, 10, 10, 14, 3]
    assert ranges(out) == [
        ("batch-eval", "2026-11-19T10:00:00Z", None, [16]),
        ("dev-sandbox", "2026-11-16T11:00:00Z", None, [6, 13]),
        ("prod-inference", "2026-11-16T10:00:00Z", None, [5, 9, 12, 18])]
    stk = answer(history, "search", "--policy", "STK-004")
    assert [d["entry"]["seq"] for d in stk["decisions"]] == [14, 17]
    assert deployments(stk) == oracle(history, [16])
    none = answer(history, "search", "--policy", "ENV-002")
    assert none["decisions"] == none["deployments"] == none["ranges"] == []


def test_search_waiver(history: LedgerHistory) -> None:
    llama = answer(history, "search", "--waiver", "llama-license-ok")
    assert [d["entry"]["seq"] for d in llama["decisions"]] == [3, 7, 10, 14]
    # Every deployment rests on a decision that used the waiver; only those that ran the
    # waived model count (dev-sandbox never deployed llama).
    ran_llama = [d.seq for d in history.deployments if "llama-3-8b-instruct" in d.models]
    assert set(ran_llama) < set(ALL_DEPLOYMENTS)
    assert deployments(llama) == oracle(history, ran_llama)
    batch = answer(history, "search", "--waiver", "batch-eval-single-replica")
    assert [(d["entry"]["seq"], [(r["policy"], r["name"], r["waiver"]) for r in d["results"]])
            for d in batch["decisions"]] == [
        (14, [("STK-004", "batch-eval", "batch-eval-single-replica")]),
        (17, [("STK-004", "batch-eval", "batch-eval-single-replica")])]
    assert ranges(batch) == [("batch-eval", "2026-11-19T10:00:00Z", None, [16])]
    assert [r["approved_by"] for d in llama["decisions"] for r in d["results"]] == [
        ["legal@acme.test"]] * 4
    assert [d["waivers"] for d in llama["deployments"]] == [[{
        "waiver": "llama-license-ok", "approvers": ["legal@acme.test"], "expires": None,
        "valid_at_deploy": None}]] * len(ran_llama)
    assert answer(history, "search", "--waiver", "nobody")["decisions"] == []


def test_search_answers_in_text(history: LedgerHistory) -> None:
    done = run(history, "search", "--package", "torch@2.6.0", fmt="text")
    assert done.exit_code == 0, done.stderr
    lines = done.stdout.splitlines()
    # 2.6.0 in vllm-serve, and the local build 2.6.0+cu124 in train (dev-sandbox's #6, #13)
    assert lines[0] == ("package torch@2.6.0: 5 deployments on 2 stacks "
                        "(dev-sandbox, prod-inference)")
    rows = [line.split() for line in lines]
    assert ["prod-inference", "2026-11-16T10:00:00Z", "2026-11-18T10:00:00Z", "#5,", "#9"] in rows
    assert ["prod-inference", "2026-11-20T12:00:00Z", "(still", "live)", "#18"] in rows
    assert ["#18", "rollback", "prod-inference", history.commits["acme"][:12],
            "2026-11-20T12:00:00Z", "(still", "live)", "torch", "2.6.0", "(vllm-serve)"] in rows
    waiver = run(history, "search", "--waiver", "batch-eval-single-replica", fmt="text")
    lines = waiver.stdout.splitlines()
    assert lines[0] == ("waiver batch-eval-single-replica: used by 2 decision entries, "
                        "1 deployment on 1 stack (batch-eval)")
    assert ["#17", "2026-11-20T09:00:00Z", history.commits["nowaiver"][:12], "fail", "STK-004",
            "Stack", "batch-eval", "stacks/batch-eval.yaml:22", "waived", "by",
            "batch-eval-single-replica", "legal@acme.test"] in [line.split() for line in lines]
    # Who approved it, as the decision verified; this history's receipts predate judging at
    # deploy time, so whether the waiver held then is "not recorded", never guessed.
    assert ["#16", "apply", "batch-eval", history.commits["batch"][:12], "2026-11-19T10:00:00Z",
            "(still", "live)", "#14", "legal@acme.test", "not", "recorded"] in [
        line.split() for line in lines]


# -- the index: rebuilt, incremental, rewritten -------------------------------------------------

QUESTIONS = [
    ("log",), ("log", "--stack", "prod-inference", "--since", "2026-11-17"), ("show", "13"),
    ("show", "1"), ("log", "--type", "approval"),
    ("at", "--stack", "prod-inference", "2026-11-17T12:00:00Z"),
    ("at", "--stack", "dev-sandbox", "2026-11-30"),
    ("search", "--package", "torch@2.6.0"), ("search", "--model", LLAMA_OLD),
    ("search", "--policy", "MDL-002"), ("search", "--waiver", "llama-license-ok"),
]


def test_deleting_the_index_changes_no_answer(own_history: LedgerHistory) -> None:
    before = [answer(own_history, *q) for q in QUESTIONS]
    texts = [run(own_history, *q, fmt="text").stdout for q in QUESTIONS]
    path = index_path(own_history)
    assert path.is_file()
    path.unlink()
    assert [answer(own_history, *q) for q in QUESTIONS] == before
    assert [run(own_history, *q, fmt="text").stdout for q in QUESTIONS] == texts
    with LedgerIndex.open(open_repo(own_history.repo)) as index:
        assert index.last_refresh is not None and index.last_refresh.kind == "current"
        assert index.state().rebuilds == 1 and index.state().last_seq == 18
    reindexed = answer(own_history, "reindex")
    assert (reindexed["kind"], reindexed["entries"], reindexed["deployments"]) == (
        "rebuild", 18, 7)
    assert reindexed["rebuilds"] == 2 and reindexed["path"] == str(path)
    datasets = {"dev-sandbox": 3}  # acme-support-assistant's; no other deployed model has any
    assert reindexed["deployed_items"] == sum(
        len(d.models) + datasets.get(d.stack, 0) + 2 * len(d.environments)  # + CUDA each
        + len(d.images) + len(d.packages) for d in own_history.deployments)
    assert reindexed["policy_results"] == 1 + 1 + 1 + 2 + 2
    assert [answer(own_history, *q) for q in QUESTIONS] == before
    text = run(own_history, "reindex", fmt="text").stdout
    assert text.startswith("rebuild: indexed 18 entries (7 deployments, ")
    assert text.rstrip().endswith(f"into {path}")


def test_a_corrupt_index_file_is_rebuilt(own_history: LedgerHistory) -> None:
    before = answer(own_history, "search", "--package", "torch")
    index_path(own_history).write_bytes(b"this is not a database" * 100)
    assert answer(own_history, "search", "--package", "torch") == before


def _append_more(history: LedgerHistory) -> list[int]:
    """A verify entry, then prod-inference moves to the batch revision on 2026-11-21."""
    ledger = Ledger(open_repo(history.repo))
    signer = KeySigner(history.key)
    verify = ledger.append(Draft(type="verify", revision=None), signer, "auditor@acme.test",
                           "2026-11-21T08:00:00Z")
    apply = ledger.append(Draft(type="apply", revision=history.commits["batch"],
                                stack="prod-inference",
                                links={"decision": history.entry(14).hash,
                                       "aibom": history.entry(15).hash}),
                          signer, "deploy-bot@acme.test", "2026-11-21T10:00:00Z")
    return [verify.entry.seq, apply.entry.seq]


def test_the_index_catches_up_without_a_rebuild(own_history: LedgerHistory) -> None:
    repo = open_repo(own_history.repo)
    with LedgerIndex.open(repo) as index:
        first = index.state()
    assert first.last_seq == 18 and first.last_hash == own_history.entry(18).hash
    assert _append_more(own_history) == [19, 20]
    with LedgerIndex.open(repo) as index:
        done = index.last_refresh
        assert done is not None
        assert (done.kind, done.added) == ("incremental", 2)
        state = index.state()
        assert (state.last_seq, state.rebuilds, state.updates) == (
            20, first.rebuilds, first.updates + 1)
        assert state.last_hash == Ledger(repo).entries()[-1].hash
        assert index.refresh().kind == "current"
    at = answer(own_history, "at", "--stack", "prod-inference", "2026-11-21T12:00:00Z")
    assert at["entry"]["seq"] == 20 and at["live_until"] is None
    assert {m["name"]: m["digest"] for m in at["models"]}["llama-3-8b-instruct"] == LLAMA_NEW
    rollback = answer(own_history, "at", "--stack", "prod-inference", "2026-11-21T09:59:59Z")
    assert (rollback["entry"]["seq"], rollback["live_until"]) == (18, "2026-11-21T10:00:00Z")
    old = answer(own_history, "search", "--model", LLAMA_OLD)
    assert ranges(old)[-1] == ("prod-inference", "2026-11-20T12:00:00Z",
                               "2026-11-21T10:00:00Z", [18])
    assert [e["seq"] for e in answer(own_history, "log", "--type", "verify")["entries"]] == [19]
    with LedgerIndex.open(repo) as index:
        assert index.state().rebuilds == first.rebuilds


def test_a_rewritten_ledger_is_refused_until_accepted(own_history: LedgerHistory) -> None:
    """Mallory resets the ledger to #17 and appends her own #18, validly signed. The questions
    refuse to answer from it (exit 3, one line naming #18) rather than quietly re-index and
    serve her history; after `audit verify --accept-rewrite` they answer from it."""
    repo = open_repo(own_history.repo)
    with LedgerIndex.open(repo) as index:
        before = index.state()
    entries = Ledger(repo).entries()
    raw = pygit2.Repository(str(own_history.repo))
    raw.references.create(LEDGER_REF, entries[16].commit, force=True)  # back to #17
    Ledger(repo).append(Draft(type="apply", revision=own_history.commits["torch"],
                              stack="prod-inference",
                              links={"decision": entries[9].hash, "aibom": entries[10].hash}),
                        KeySigner(own_history.key), "mallory", "2026-11-20T12:00:00Z")
    for question in (("at", "--stack", "prod-inference", "2026-11-22"), ("show", "18"),
                     ("log",), ("search", "--model", LLAMA_OLD)):
        refused = run(own_history, *question)
        assert refused.exit_code == 3, refused.stdout + refused.stderr
        [line] = refused.stderr.splitlines()
        assert line.startswith("govops: error: the ledger was rewritten since it was last "
                               "verified: entry #18 differs from the one verified (it was "
                               f"{entries[17].hash[:19]}..."), line
        assert line.endswith("until `govops audit verify --accept-rewrite` verifies it as it "
                             "is now"), line
    with LedgerIndex.open(repo, refresh=False) as index:
        assert index.state() == before  # nothing re-indexed
    accepted = CliRunner().invoke(audit, ["verify", "--repo", str(own_history.repo),
                                          "--accept-rewrite"])
    assert accepted.exit_code == 0, accepted.output
    at = answer(own_history, "at", "--stack", "prod-inference", "2026-11-22")
    assert (at["entry"]["seq"], at["entry"]["type"], at["entry"]["actor"]) == (
        18, "apply", "mallory")
    with LedgerIndex.open(repo) as index:
        assert index.state().rebuilds == before.rebuilds + 1


def test_the_index_alone_detects_a_reset(own_history: LedgerHistory) -> None:
    """With no checkpoint (a clone that never verified nor appended), the index's own record
    of what it indexed still catches a reset, and names the first entry gone."""
    repo = open_repo(own_history.repo)
    with LedgerIndex.open(repo):
        pass
    WorkDir(own_history.repo / ".git").ledger_checkpoint.unlink()
    entries = Ledger(repo).entries()
    pygit2.Repository(str(own_history.repo)).references.create(
        LEDGER_REF, entries[11].commit, force=True)  # reset to #12
    refused = run(own_history, "at", "--stack", "prod-inference", "2026-11-22")
    assert refused.exit_code == 3
    assert refused.stderr.startswith(
        "govops: error: the ledger was rewritten since it was last indexed: entry #13 is "
        "missing: the ledger was indexed up to #18 but now ends at #12 (the ref was reset)")
    with pytest.raises(LedgerRewritten):
        LedgerIndex.open(repo)
    accepted = CliRunner().invoke(audit, ["verify", "--repo", str(own_history.repo),
                                          "--accept-rewrite"])
    assert accepted.exit_code == 0, accepted.output
    assert answer(own_history, "at", "--stack", "prod-inference", "2026-11-22")["entry"][
        "seq"] == 12


# -- bad input ----------------------------------------------------------------------------------


@pytest.mark.parametrize(("args", "message"), [
    (["show", "99"], "no ledger entry #99 (the ledger has 18)"),
    (["show", "0"], "no ledger entry #0 (the ledger has 18)"),
    (["show", "abc"], "ENTRY 'abc' is neither an entry number nor a hash prefix of at least "
                      "4 hex digits"),
    (["show", "sha256:zzzz"], "ENTRY 'sha256:zzzz' is neither"),
    (["show", "sha256:0000000000"], "no ledger entry has a hash starting with '0000000000'"),
    (["at", "--stack", "prod-inference", "next tuesday"],
     "TIME 'next tuesday' is not an RFC 3339 time"),
    (["at", "--stack", "prod-inference", "2026-13-01"], "TIME '2026-13-01' is not"),
    (["at", "--stack", "prod-inference", "2026-11-20T12:00:00+25:00"],
     "TIME '2026-11-20T12:00:00+25:00' is not"),
    (["log", "--since", "3 fortnights ago"], "TIME '3 fortnights ago' is not"),
    (["log", "--type", "deploy"], "unknown entry type 'deploy' (one of decision, aibom, apply, "
                                  "rollback, verify, waiver, approval, drift)"),
    (["search"], "search for exactly one of --package, --model, --policy, --waiver"),
    (["search", "--package", "torch", "--model", "x"], "search for exactly one of"),
    (["search", "--package", "torch@"], "--package 'torch@' is not NAME, NAME@VERSION or "
     "NAME with PEP 440 specifiers (torch<2.6, torch==2.7.0)"),
    (["search", "--package", "torch<<2.6"], "--package 'torch<<2.6' is not NAME, NAME@VERSION"),
    (["search", "--package", "torch==2.6.*.1"], "--package 'torch==2.6.*.1' is not NAME, "),
    (["search", "--package", "torch@https://x.test/t.whl"], "--package 'torch@https://"),
    (["search", "--package", "torch[cuda]>=2"], "--package 'torch[cuda]>=2': extras, markers "
     "and URLs say nothing about what was deployed"),
    (["search", "--model", "sha256:xyz"], "--model 'sha256:xyz' is not a sha256 digest"),
    (["search", "--policy", " "], "--policy needs a value"),
])
def test_bad_input_is_one_line_and_exit_2(history: LedgerHistory, args: list[str],
                                          message: str) -> None:
    assert_input_error(run(history, *args), message)
    assert_input_error(run(history, *args, fmt="text"), message)


def test_an_ambiguous_hash_prefix_is_refused(own_history: LedgerHistory) -> None:
    with LedgerIndex.open(open_repo(own_history.repo)) as index:
        taken = {h.hash[7:11] for h in own_history.entries}
        prefix = next(f"{n:04x}" for n in range(65536)
                      if f"{n:04x}" not in taken and not f"{n:04x}".isdigit())
        for n in (1, 2):  # two more rows sharing a prefix, as a larger ledger would have
            index.db.execute("INSERT INTO entries VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)",
                             (18 + n, f"sha256:{prefix}{n}" + "0" * 59, "c" * 40, "verify",
                              "2026-11-21T00:00:00Z", 0, "x", None, None, None, None, None,
                              None, None, "{}", None, None))
        with pytest.raises(queries.QueryError) as refused:
            queries.show(index, prefix)
        assert str(refused.value) == f"hash prefix '{prefix}' matches 2 entries: give more digits"
        with pytest.raises(queries.QueryError) as refused:
            queries.show(index, f"sha256:{prefix}")
        assert "matches 2 entries" in str(refused.value)
        assert queries.resolve_entry(index, f"{prefix}1") == 19
        assert queries.resolve_entry(index, f"sha256:{prefix}2") == 20


def test_not_a_repository(tmp_path: Path) -> None:
    done = run(tmp_path, "log")
    assert_input_error(done, f"{tmp_path}: not a git repository")


def test_a_repository_without_a_ledger_has_empty_answers(tmp_path: Path) -> None:
    pygit2.init_repository(str(tmp_path / "empty"))
    assert answer_path(tmp_path / "empty", "log")["entries"] == []
    at = answer_path(tmp_path / "empty", "at", "--stack", "prod-inference", "2026-11-20")
    assert at["deployed"] is False and at["first"] is None
    assert_input_error(run(tmp_path / "empty", "show", "1"),
                       "no ledger entry #1 (the ledger has 0)")


def answer_path(repo: Path, *args: str) -> Any:
    done = run(repo, *args)
    assert done.exit_code == 0, done.stderr
    return done.json()


@pytest.mark.parametrize(("text", "expected"), [
    ("2026-11-20T12:00:00Z", "2026-11-20T12:00:00Z"),
    ("2026-11-20t12:00:00z", "2026-11-20T12:00:00Z"),
    ("2026-11-20T13:30:00+01:30", "2026-11-20T12:00:00Z"),
    ("2026-11-20T12:00:00.75Z", "2026-11-20T12:00:00Z"),
    ("2026-11-20", "2026-11-20T00:00:00Z"),
    ("2026-11-20 14:05", "2026-11-20T14:05:00Z"),
    ("2026-11-20 14:05:09", "2026-11-20T14:05:09Z"),
    ("2026-11-20T14:05", "2026-11-20T14:05:00Z"),
    ("now", "2026-11-21T12:00:00Z"),
    (" NOW ", "2026-11-21T12:00:00Z"),
    ("yesterday", "2026-11-20T12:00:00Z"),
    ("3 days ago", "2026-11-18T12:00:00Z"),
    ("1 day ago", "2026-11-20T12:00:00Z"),
    ("2 weeks ago", "2026-11-07T12:00:00Z"),
    ("90 minutes ago", "2026-11-21T10:30:00Z"),
    ("tomorrow", "2026-11-22T12:00:00Z"),  # `--now tomorrow`: what expires by then (issue 17)
    ("in 3 days", "2026-11-24T12:00:00Z"),
    ("in 90 minutes", "2026-11-21T13:30:00Z"),
])
def test_time_forms(text: str, expected: str) -> None:
    now = dt.datetime(2026, 11, 21, 12, 0, tzinfo=dt.UTC)
    assert utc(parse_time(text, now)) == expected


@pytest.mark.parametrize("text", ["", "3 days", "-3 days ago", "in -3 days", "in 3 fortnights",
                                  "in days", "2026-11-20T25:00:00Z",
                                  "2026/11/20", "20 Nov 2026", "2026-11-20T12:00Z+01:00"])
def test_bad_time_forms(text: str) -> None:
    with pytest.raises(TimeError) as refused:
        parse_time(text)
    assert str(refused.value).startswith(f"TIME {text!r} is not an RFC 3339 time")
    assert "\n" not in str(refused.value)


# -- the command line ---------------------------------------------------------------------------


def test_the_group_works_under_govops(history: LedgerHistory) -> None:
    from engine.cli.main import main

    assert main.commands["audit"] is audit
    result = CliRunner().invoke(main, ["audit", "at", "--repo", str(history.repo), "--stack",
                                       "batch-eval", "2026-11-19T10:00:00Z", "--format", "json"])
    assert result.exit_code == 0, result.stderr
    assert json.loads(result.stdout)["entry"]["seq"] == 16
    listed = CliRunner().invoke(main, ["audit", "--help"]).stdout
    assert "Query and verify the ledger." in listed
    assert all(f"  {name} " in listed
               for name in ("log", "show", "at", "search", "reindex", "verify", "export"))


def test_importing_the_group_loads_no_engine() -> None:
    code = ("import sys, engine.cli.audit; print(sorted(m for m in ('sqlite3', 'pygit2', 'rich', "
            "'engine.ledger', 'engine.errors', 'engine.repo') if m in sys.modules))")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          check=True, cwd=ROOT)
    assert done.stdout.strip() == "[]"


@pytest.mark.parametrize("query", [("--package", "torch"), ("--model", "llama-3-8b-instruct"),
                                   ("--policy", "MDL-002"), ("--waiver", "llama-license-ok")])
def test_a_broad_search_lists_a_page_and_summarises_the_rest(history: LedgerHistory,
                                                            query: tuple[str, str]) -> None:
    """`--limit N` lists the first N deployments; the count and the live ranges still cover
    every match (what keeps a search that matches thousands within its latency target)."""
    whole = answer(history, "search", *query, "--limit", "0")
    assert whole["total"] == len(whole["deployments"]) >= 3 and whole["limit"] is None
    page = answer(history, "search", *query, "--limit", "2")
    assert (page["total"], page["limit"]) == (whole["total"], 2)
    assert page["deployments"] == whole["deployments"][:2]
    assert page["ranges"] == whole["ranges"] and page["decisions"] == whole["decisions"]
    text = run(history, "search", *query, "--limit", "2", fmt="text").stdout
    assert f"{whole['total']} deployments on " in text.splitlines()[0]
    assert f"deployments (the first 2 of {whole['total']}; --limit 0 lists all)" in text
