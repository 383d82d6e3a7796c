"""`govops apply`: the gate (exit 1 / exit 3), the Pulumi CLI check (exit 2, nothing recorded),
and the Automation API driven by a fake `pulumi` whose every command, argument and environment
is asserted, ending in a signed apply entry that `audit verify` and `audit at` accept."""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import re
import shutil
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import yaml
from pulumi import automation as auto

from engine.attest import statement as st
from engine.attest.signers import KeySigner
from engine.attest.trust_config import trust_root_loader
from engine.attest.verify import Expectation, verify_receipt
from engine.cli.audit import audit
from engine.cli.deploy import apply, plan
from engine.commands.audit import run_audit_verify
from engine.deploy import pulumi_run
from engine.deploy.manifests import digest_of
from engine.ledger.entry import ENTRY_FILE, Draft, StoredEntry
from engine.ledger.store import LEDGER_REF, Ledger
from engine.repo import open_repo
from engine.repo.scripted import Step
from tests.support.cli import Run, govops, invoke, one_error_line
from tests.support.pulumi_fakes import (
    EXPORT,
    PROJECT,
    STACK,
    FakePulumi,
    approved_cluster,
    normalised,
)
from tests.support.repos import NOW, fixture, make_repo, unwaived
from tests.support.sigstore_mock import SigstoreMock, sigstore_mock
from tests.support.trust import Keys, trusted, trusted_signers

__all__ = ["sigstore_mock"]  # the fixture, used by name

@dataclass(frozen=True)
class Repo:
    path: Path
    key: Path
    passing: str  # attested, decision pass
    failing: str  # attested, decision fail
    unattested: str  # HEAD, nothing recorded

    def ledger(self) -> Ledger:
        return Ledger(open_repo(self.path))

    def entries(self) -> list[StoredEntry]:
        return self.ledger().entries()


@pytest.fixture(scope="module")
def template(tmp_path_factory: pytest.TempPathFactory) -> Repo:
    tmp = tmp_path_factory.mktemp("apply")
    assert govops("keygen", "--output", str(tmp / "ci")).exit_code == 0
    files = {**unwaived(fixture("acme-ml")), "keys/ci.pub": (tmp / "ci.pub").read_bytes()}
    env = files["environments/vllm-serve.yaml"]
    unpinned = re.sub(rb"@sha256:[0-9a-f]{64}", b":latest", env)
    assert unpinned != env
    quota = files["stacks/prod-inference.yaml"].replace(b"quota: 16", b"quota: 24")
    git = make_repo(tmp / "repo", Step("acme", files),
                    Step("unpinned image", {"environments/vllm-serve.yaml": unpinned}),
                    Step("back to the pinned image, bigger quota",
                         {"environments/vllm-serve.yaml": env,
                          "stacks/prod-inference.yaml": quota}))
    trusted(tmp / "repo", tmp / "trust", tmp / "ci.pub")
    head = git.head.peel()
    commits = [str(head.parents[0].parents[0].id), str(head.parents[0].id), str(head.id)]
    for rev in commits[:2]:
        run = govops("attest", "--repo", str(tmp / "repo"), "--rev", rev, "--key",
                     str(tmp / "ci.key"), "--output", str(tmp / f"out-{rev}"), "--now", NOW,
                     "--record")
        assert run.exit_code == 0, run.stderr
    return Repo(tmp / "repo", tmp / "ci.key", *commits)


@pytest.fixture
def repo(template: Repo, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Repo:
    """A private copy of the attested history; no passphrase in the environment."""
    monkeypatch.delenv(pulumi_run.PASSPHRASE_ENV, raising=False)
    monkeypatch.delenv(pulumi_run.PASSPHRASE_FILE_ENV, raising=False)
    shutil.copytree(template.path, tmp_path / "repo")
    copy = Repo(tmp_path / "repo", template.key, template.passing, template.failing,
                template.unattested)
    assert [e.entry.type for e in copy.entries()] == ["decision", "aibom", "decision", "aibom"]
    assert [e.entry.details.get("verdict") for e in copy.entries()] == ["pass", None, "fail",
                                                                         None]
    return copy


@pytest.fixture
def fake(monkeypatch: pytest.MonkeyPatch) -> FakePulumi:
    command = FakePulumi()
    monkeypatch.setattr(pulumi_run, "pulumi_cli", lambda: command)
    approved_cluster(monkeypatch)
    return command


def run_apply(repo: Repo, rev: str, *args: str) -> Run:
    return invoke(apply, "--repo", str(repo.path), "--stack", STACK, "--rev", rev,
                  "--key", str(repo.key), *args)


# -- the gate ---------------------------------------------------------------------------------

def test_a_failing_decision_is_refused_with_exit_1(repo: Repo, fake: FakePulumi) -> None:
    run = run_apply(repo, repo.failing)
    assert run.exit_code == 1, run.stderr
    line = one_error_line(run)
    assert f"the decision of commit {repo.failing} (entry #3) is 'fail', not pass" in line
    assert "failing policies ENV-002" in line
    assert fake.calls == []
    assert [e.entry.type for e in repo.entries()] == ["decision", "aibom", "decision", "aibom"]


def test_a_revision_without_attest_entries_is_refused_with_exit_3(repo: Repo,
                                                                   fake: FakePulumi) -> None:
    run = run_apply(repo, repo.unattested)
    assert run.exit_code == 3, run.stderr
    line = one_error_line(run)
    assert (f"the ledger has no decision and no aibom entry for commit {repo.unattested}: run "
            f"`govops attest --rev {repo.unattested} --record` first") in line
    assert fake.calls == []
    assert len(repo.entries()) == 4


def test_a_tampered_decision_receipt_is_refused_with_exit_3(repo: Repo, fake: FakePulumi,
                                                            tmp_path: Path) -> None:
    """Entry #1's decision.sigstore.json re-signed by an untrusted key, chain rewritten."""
    assert govops("keygen", "--output", str(tmp_path / "mallory")).exit_code == 0
    entries = repo.entries()
    decision = entries[0]
    forged = KeySigner(tmp_path / "mallory.key").sign(st.payload(st.statement(
        st.DECISION, json.loads(decision.files["decision.json"]), "repo", repo.passing,
        [st.Covered("decision.json", decision.files["decision.json"])])))
    git = open_repo(repo.path)
    scratch = git.records("refs/govops/scratch")
    parent = None
    for item in entries:
        files = dict(item.files)
        if item.entry.seq == 1:
            files["decision.sigstore.json"] = forged.encode()
        parent = scratch.append(files, parent, "rewritten", 1_800_000_000)
    assert parent is not None
    git.records(LEDGER_REF).reset(parent)
    run = run_apply(repo, repo.passing)
    assert run.exit_code == 3, run.stderr
    line = one_error_line(run)
    assert f"decision entry #1 ({decision.hash[:19]}...) does not verify" in line
    assert ("decision.sigstore.json: the signature does not verify under any key of the "
            "signers of trust #1") in line
    assert fake.calls == []
    assert len(repo.entries()) == 4


def test_an_aibom_receipt_about_another_commit_is_refused(repo: Repo, fake: FakePulumi) -> None:
    """Entry #2 (aibom of the passing commit) swapped for the failing commit's AIBOM files."""
    entries = repo.entries()
    git = open_repo(repo.path)
    scratch = git.records("refs/govops/scratch")
    parent = None
    for item in entries:
        files = dict(item.files)
        if item.entry.seq == 2:
            files.update({k: entries[3].files[k]
                          for k in ("aibom.cdx.json", "aibom.sigstore.json")})
        parent = scratch.append(files, parent, "rewritten", 1_800_000_000)
    assert parent is not None
    git.records(LEDGER_REF).reset(parent)
    run = run_apply(repo, repo.passing)
    assert run.exit_code == 3
    line = one_error_line(run)
    assert "aibom entry #2" in line
    assert (f"aibom.sigstore.json: the receipt is about commit {repo.failing}, not "
            f"{repo.passing}") in line
    assert fake.calls == []


# -- the Pulumi CLI ---------------------------------------------------------------------------

def test_no_pulumi_cli_exits_2_with_the_install_hint_and_records_nothing(
        repo: Repo, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    empty = tmp_path / "empty-path"
    empty.mkdir()
    monkeypatch.setenv("PATH", str(empty))
    before = repo.ledger().tip_commit()
    run = run_apply(repo, repo.passing)
    assert run.exit_code == 2, run.stderr
    line = one_error_line(run)
    assert line.startswith("govops: error: the pulumi CLI is not on PATH: install the Pulumi "
                           f"CLI v{pulumi_run.PULUMI_VERSION} ")
    assert pulumi_run.PULUMI_VERSION == "3.260.0"
    assert pulumi_run.KUBERNETES_PLUGIN_VERSION == "4.25.0"
    assert "pulumi plugin install resource kubernetes v4.25.0" in line
    assert repo.ledger().tip_commit() == before
    assert len(repo.entries()) == 4
    assert not (repo.path / ".git" / "govops" / "pulumi-workspaces").exists()
    # The gate still comes first: a failing decision is exit 1 even without pulumi.
    assert run_apply(repo, repo.failing).exit_code == 1


# -- a passing, verified revision ---------------------------------------------------------------

def test_apply_runs_refresh_and_up_and_records_a_verified_entry(repo: Repo,
                                                                fake: FakePulumi) -> None:
    run = run_apply(repo, repo.passing)
    assert run.exit_code == 0, run.stderr
    entries = repo.entries()
    assert [e.entry.type for e in entries] == ["decision", "aibom", "decision", "aibom", "apply"]
    decision, aibom, applied = entries[0], entries[1], entries[4]

    # The exact Pulumi commands, in order.
    git_dir = repo.path / ".git"
    backend = f"file://{(git_dir / 'govops' / 'pulumi').resolve()}"
    work_dir = str(git_dir / "govops" / "pulumi-workspaces" / PROJECT)
    message = (f"govops apply {STACK} at {repo.passing} (decision entry #1 {decision.hash})")
    spec_config = next(a for a in fake.calls[2][0] if a.startswith("govops:spec="))
    spec = json.loads(spec_config.removeprefix("govops:spec="))
    history = ["stack", "history", "--json", "--show-secrets", "--page-size", "1", "--page",
               "1", "--stack", STACK]
    expected = [
        ["stack", "select", "--stack", STACK],
        ["stack", "init", STACK, "--secrets-provider", "passphrase"],
        ["config", "set-all", "--stack", STACK, "--plaintext", spec_config,
         "--plaintext", "kubernetes:context=gpu-east-1"],
        ["refresh", "--skip-preview", "--yes", "--message", message,
         "--client=127.0.0.1:<port>", "--exec-kind", "auto.inline", "--stack", STACK],
        history,
        ["up", "--yes", "--skip-preview", "--message", message,
         "--client=127.0.0.1:<port>", "--exec-kind", "auto.inline", "--stack", STACK],
        ["stack", "output", "--json", "--stack", STACK],
        ["stack", "output", "--json", "--show-secrets", "--stack", STACK],
        history,
        ["stack", "export", "--show-secrets", "--stack", STACK],
    ]
    assert [normalised(args) for args, _, _ in fake.calls] == expected
    assert {cwd for _, cwd, _ in fake.calls} == {work_dir}
    workspace_env = {"PULUMI_CONFIG_PASSPHRASE": pulumi_run.DEFAULT_PASSPHRASE,
                     "PULUMI_BACKEND_URL": backend, "PULUMI_SKIP_UPDATE_CHECK": "true",
                     "PULUMI_K8S_ENABLE_PATCH_FORCE": "true"}
    stack_env = {"PULUMI_DEBUG_COMMANDS": "true", **workspace_env}
    envs = [env for _, _, env in fake.calls]
    assert envs == [workspace_env, workspace_env, workspace_env, stack_env, stack_env,
                    stack_env, workspace_env, workspace_env, stack_env, workspace_env]
    assert all("PULUMI_HOME" not in env for env in envs)  # the user's ~/.pulumi (plugins)

    # The stack config is the StackSpec of the passing commit with the verified entries' ids.
    assert spec["revision"] == repo.passing and spec["name"] == STACK
    assert spec["decision_id"] == decision.entry.details["decisionId"]
    assert spec["aibom_serial"] == aibom.entry.details["serialNumber"]
    assert spec["gpu_quota"] == 16 and spec["cluster_context"] == "gpu-east-1"
    assert spec_config == "govops:spec=" + json.dumps(spec, sort_keys=True,
                                                      separators=(",", ":"))
    settings = yaml.safe_load((Path(work_dir) / "Pulumi.yaml").read_text())
    assert settings == {"name": PROJECT, "runtime": "python", "backend": {"url": backend}}

    # The entry and its deployment receipt.
    planned = invoke(plan, "--repo", str(repo.path), "--stack", STACK, "--rev", repo.passing,
                     "--now", NOW, "--format", "json")
    assert planned.exit_code == 0, planned.stderr
    manifests_digest = planned.json()["digest"]
    export = json.dumps(EXPORT, sort_keys=True, separators=(",", ":"))
    predicate = {
        "stack": STACK, "program": "stacks/gpu-workloads", "manifestsDigest": manifests_digest,
        "changes": {"against": None, "create": 13, "update": 0, "delete": 0},
        "updateSummary": {"kind": "update", "result": "succeeded", "version": 2,
                          "resourceChanges": {"create": 11}},
        "checkpointDigest": "sha256:" + hashlib.sha256(export.encode()).hexdigest(),
        "decision": decision.hash, "aibom": aibom.hash, "revision": repo.passing,
        "deployBranch": None,  # the trust names no deploy branches
        "live": {"digest": manifests_digest, "matchesApproved": True, "differences": {},
                 "added": [], "cluster": {"server": "https://fake-cluster.invalid", "caSha256": None,
                             "version": "v1.34.3"}},
    }
    receipt = json.loads(applied.files["deployment.json"])
    # The decision judged again at deploy time: same question, today's clock, same answer
    # (a decision id leaves the clock out).
    rejudged = receipt.pop("rejudged")
    assert rejudged == {"at": rejudged["at"], "decisionEntry": decision.entry.seq,
                        "evaluatedAt": decision.entry.details["evaluatedAt"],
                        "recordedVerdict": "pass", "verdict": "pass",
                        "decisionId": decision.entry.details["decisionId"], "expiredWaivers": [],
                        "waivers": []}
    assert rejudged["at"] >= decision.entry.details["evaluatedAt"]
    assert receipt == predicate
    entry = applied.entry
    assert (entry.revision, entry.stack) == (repo.passing, STACK)
    assert dict(entry.links) == {"decision": decision.hash, "aibom": aibom.hash}
    assert dict(entry.details) == {"manifestsDigest": manifests_digest}
    assert sorted(entry.digests) == ["deployment.json", "deployment.sigstore.json",
                                     "manifests.json"]
    recorded = {name: text.encode() for name, text in
                json.loads(applied.files["manifests.json"]).items()}
    assert digest_of(recorded) == manifests_digest
    assert sorted(recorded) == sorted(m["file"] for m in planned.json()["manifests"])
    verified = verify_receipt(applied.files["deployment.sigstore.json"],
                              trusted_signers(repo.path, applied.entry.time),
                              Expectation(st.DEPLOYMENT, applied.files["deployment.json"],
                                          repo.passing))
    assert verified.statement["predicate"] == {**predicate, "rejudged": rejudged}
    assert verified.signer == f"key {Keys(repo.key.parent).grant('ci').keyid[:16]}"
    assert f"recorded apply entry #5 {applied.hash}" in run.stdout
    assert "update succeeded: create 11" in run.stdout

    # audit verify accepts the ledger; audit at answers with the applied commit.
    report = run_audit_verify(repo.path, None, None).report
    assert report.problem is None and report.verified == 5
    assert report.tip is not None and report.tip.hash == applied.hash
    applied_at = dt.datetime.fromisoformat(entry.time.replace("Z", "+00:00"))
    after = (applied_at + dt.timedelta(seconds=1)).strftime("%Y-%m-%dT%H:%M:%SZ")
    at = invoke(audit, "at", "--repo", str(repo.path), "--stack", STACK, "--format", "json",
                after)
    assert at.exit_code == 0, at.stderr
    answer = at.json()
    assert answer["entry"]["revision"] == repo.passing
    assert answer["entry"]["type"] == "apply" and answer["entry"]["hash"] == applied.hash
    before = (applied_at - dt.timedelta(seconds=1)).strftime("%Y-%m-%dT%H:%M:%SZ")
    earlier = invoke(audit, "at", "--repo", str(repo.path), "--stack", STACK, "--format",
                     "json", before).json()
    assert earlier["entry"] is None


def test_a_second_apply_selects_the_stack_and_honours_backend_and_passphrase(
        repo: Repo, fake: FakePulumi, monkeypatch: pytest.MonkeyPatch) -> None:
    assert run_apply(repo, repo.passing).exit_code == 0
    fake.calls.clear()
    monkeypatch.setenv(pulumi_run.PASSPHRASE_ENV, "s3cret")
    run = run_apply(repo, repo.passing, "--backend-url", "file:///srv/pulumi-state",
                    "--format", "json")
    assert run.exit_code == 0, run.stderr
    assert [args[:2] for args, _, _ in fake.calls][:3] == [
        ["stack", "select"], ["config", "set-all"], ["refresh", "--skip-preview"]]
    assert {env["PULUMI_BACKEND_URL"] for _, _, env in fake.calls} == {
        "file:///srv/pulumi-state"}
    assert {env["PULUMI_CONFIG_PASSPHRASE"] for _, _, env in fake.calls} == {"s3cret"}
    out = run.json()
    assert out["entry"]["seq"] == 6
    assert out["deployment"]["revision"] == repo.passing
    entries = repo.entries()
    assert [e.entry.type for e in entries][-2:] == ["apply", "apply"]
    assert json.loads(entries[5].files[ENTRY_FILE])["links"]["decision"] == entries[0].hash
    assert run_audit_verify(repo.path, None, None).report.problem is None


def test_a_remote_backend_needs_a_passphrase(repo: Repo, fake: FakePulumi) -> None:
    run = run_apply(repo, repo.passing, "--backend-url", "s3://bucket/state")
    assert run.exit_code == 2
    assert "set PULUMI_CONFIG_PASSPHRASE (or PULUMI_CONFIG_PASSPHRASE_FILE)" in \
        one_error_line(run)
    assert fake.calls == []
    assert len(repo.entries()) == 4


def test_a_failing_pulumi_up_records_nothing(repo: Repo, fake: FakePulumi,
                                             monkeypatch: pytest.MonkeyPatch) -> None:
    original = fake.run

    def failing(args: list[str], cwd: str, additional_env: Mapping[str, str],
                on_output: Any = None, on_error: Any = None) -> auto.CommandResult:
        if args[0] == "up":
            fake.calls.append((list(args), cwd, dict(additional_env)))
            raise auto.errors.create_command_error(
                auto.CommandResult("", "error: cluster gpu-east-1 unreachable", 255))
        return original(args, cwd, additional_env, on_output, on_error)

    monkeypatch.setattr(fake, "run", failing)
    run = run_apply(repo, repo.passing)
    assert run.exit_code == 1
    assert "pulumi failed for stack prod-inference" in one_error_line(run)
    assert "cluster gpu-east-1 unreachable" in run.stderr
    assert [args[0] for args, _, _ in fake.calls][-1] == "up"
    assert len(repo.entries()) == 4


def test_without_an_exported_checkpoint_the_receipt_says_so(repo: Repo, fake: FakePulumi,
                                                            monkeypatch: pytest.MonkeyPatch
                                                            ) -> None:
    original = fake.run

    def no_export(args: list[str], cwd: str, additional_env: Mapping[str, str],
                  on_output: Any = None, on_error: Any = None) -> auto.CommandResult:
        if args[:2] == ["stack", "export"]:
            fake.calls.append((list(args), cwd, dict(additional_env)))
            raise auto.errors.create_command_error(
                auto.CommandResult("", "error: export is not supported", 255))
        return original(args, cwd, additional_env, on_output, on_error)

    monkeypatch.setattr(fake, "run", no_export)
    run = run_apply(repo, repo.passing)
    assert run.exit_code == 0, run.stderr
    assert ("checkpoint none (stack export failed: error: export is not supported)"
            in run.stdout)
    applied = repo.entries()[-1]
    assert applied.entry.type == "apply"
    assert json.loads(applied.files["deployment.json"])["checkpointDigest"] is None
    assert run_audit_verify(repo.path, None, None).report.problem is None


# -- what plan compares with after an apply -----------------------------------------------------

def test_plan_compares_with_the_manifests_the_last_apply_recorded(repo: Repo,
                                                                  fake: FakePulumi) -> None:
    assert run_apply(repo, repo.passing).exit_code == 0
    same = invoke(plan, "--repo", str(repo.path), "--stack", STACK, "--rev", repo.passing,
                  "--now", NOW, "--format", "json").json()
    applied = repo.entries()[-1]
    assert same["against"] == {"source": "ledger", "entry": 5, "hash": applied.hash,
                               "revision": repo.passing,
                               "description": f"apply entry #5 of commit {repo.passing[:12]}"}
    assert same["changes"] == []
    # HEAD raises the quota: one update, nothing else, against what entry #5 deployed.
    head = invoke(plan, "--repo", str(repo.path), "--stack", STACK, "--rev", repo.unattested,
                  "--now", NOW)
    assert head.exit_code == 0, head.stderr
    assert "changes against apply entry #5 of commit" in head.stdout
    quota = "inference.resourcequota.prod-inference-gpu-quota.yaml"
    changed = [line.split() for line in head.stdout.splitlines() if line.startswith("  ")]
    assert ["update", quota] in changed
    assert {action for action, _ in changed} == {"update"}
    # A second apply records its changes against the first.
    again = run_apply(repo, repo.passing, "--format", "json").json()
    assert again["deployment"]["changes"] == {"against": applied.hash, "create": 0,
                                              "update": 0, "delete": 0}


def test_recorded_manifests_that_do_not_add_up_are_refused(repo: Repo, fake: FakePulumi) -> None:
    """A signed apply entry whose manifests.json is not what its manifestsDigest says: plan
    refuses to compare with it (exit 3) and audit verify names the entry."""
    assert run_apply(repo, repo.passing).exit_code == 0
    applied = repo.entries()[-1]
    bogus = json.dumps({"inference.namespace.x.yaml": "kind: Namespace\n"}).encode()
    ledger = repo.ledger()
    ledger.append(Draft(type="apply", revision=repo.passing, stack=STACK,
                        files={"deployment.json": applied.files["deployment.json"],
                               "manifests.json": bogus},
                        links=dict(applied.entry.links),
                        details=dict(applied.entry.details)),
                  KeySigner(repo.key), "mallory", NOW)
    run = invoke(plan, "--repo", str(repo.path), "--stack", STACK, "--rev", repo.passing,
                 "--now", NOW)
    assert run.exit_code == 3
    assert "apply entry #6: manifests.json adds up to sha256:" in one_error_line(run)
    report = run_audit_verify(repo.path, None, None).report
    assert report.problem is not None and report.problem.seq == 6
    assert "manifests.json adds up to" in report.problem.reason


# -- keyless, against the Sigstore project's mock Fulcio/CT log/Rekor on 127.0.0.1 -------------

def test_a_keyless_apply_rests_on_keyless_receipts_and_is_signed_by_the_identity(
        tmp_path: Path, fake: FakePulumi, sigstore_mock: SigstoreMock,
        monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "repo"
    make_repo(path, Step("acme", unwaived(fixture("acme-ml"))))
    trusted(path, tmp_path / "trust", identities=[(sigstore_mock.issuer, sigstore_mock.identity)])
    monkeypatch.setenv("SIGSTORE_ID_TOKEN", sigstore_mock.token)
    trust = ("--keyless", "--trust-config", str(sigstore_mock.trust_config))
    recorded = govops("attest", "--repo", str(path), *trust, "--output", str(tmp_path / "out"),
                      "--now", NOW, "--record")
    assert recorded.exit_code == 0, recorded.stderr
    run = invoke(apply, "--repo", str(path), "--stack", STACK, *trust, "--format", "json")
    assert run.exit_code == 0, run.stderr
    [*_, applied] = Ledger(open_repo(path)).entries()
    assert applied.entry.type == "apply" and applied.hash == run.json()["entry"]["hash"]
    verified = verify_receipt(applied.files["deployment.sigstore.json"],
                              trusted_signers(path, applied.entry.time),
                              Expectation(st.DEPLOYMENT, applied.files["deployment.json"],
                                          applied.entry.revision),
                              trust_root_loader(sigstore_mock.trust_config))
    assert sigstore_mock.identity in verified.signer
    assert [args[0] for args, _, _ in fake.calls if args[0] in ("refresh", "up")] == [
        "refresh", "up"]
    report = run_audit_verify(path, None, sigstore_mock.trust_config).report
    assert report.problem is None and report.verified == 3
    # The public Sigstore root does not trust the mock's certificates: fail closed.
    refused = run_audit_verify(path, None, None).report
    assert refused.problem is not None and refused.problem.seq == 1


def test_a_keyless_apply_without_a_token_records_nothing(
        tmp_path: Path, fake: FakePulumi, sigstore_mock: SigstoreMock, repo: Repo,
        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("SIGSTORE_ID_TOKEN", raising=False)
    run = invoke(apply, "--repo", str(repo.path), "--stack", STACK, "--rev", repo.passing,
                 "--keyless", "--trust-config", str(sigstore_mock.trust_config))
    assert run.exit_code == 2
    assert "identity token" in one_error_line(run)
    assert fake.calls == [] and len(repo.entries()) == 4


def test_an_apply_pack_with_edited_manifests_is_refused(repo: Repo, fake: FakePulumi,
                                                       tmp_path: Path) -> None:
    """The evidence pack of an apply: its manifests.json is covered by the entry's signed
    digest, so `govops verify --pack` refuses the pack once someone edits what was deployed."""
    from engine.cli.audit import audit_export

    run = run_apply(repo, repo.passing)
    assert run.exit_code == 0, run.stderr
    pack = tmp_path / "pack"
    exported = invoke(audit_export, "--repo", str(repo.path), "--output", str(pack), "5")
    assert exported.exit_code == 0, exported.stderr
    assert govops("verify", "--pack", str(pack)).exit_code == 0
    manifests = json.loads((pack / "manifests.json").read_text())
    first = sorted(manifests)[0]
    manifests[first] = manifests[first].replace("replicas: ", "replicas: 1", 1) + "\n# edited\n"
    (pack / "manifests.json").write_text(json.dumps(manifests, indent=2, sort_keys=True))
    refused = govops("verify", "--pack", str(pack))
    assert refused.exit_code == 3
    assert one_error_line(refused) == ("govops: error: entry #5 (apply): manifests.json does "
                                       "not match its digest in the entry")
