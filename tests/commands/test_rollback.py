"""`govops rollback`: after applies at c1, c2, c3, `--to c1` by COMMIT, TIME and ENTRY plans c1's
digest from c1's objects (whatever the work tree holds), drives the fake `pulumi` through refresh,
up and a preview without changes, and records a signed c3 -> c1 rollback entry that `audit
verify` and `audit at` accept. Refusals: unknown target (2), receipts that no longer verify (3),
a preview with changes (1, nothing recorded)."""

from __future__ import annotations

import dataclasses
import json
import shutil
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import grpc
import pygit2
import pytest
from pulumi import automation as auto
from pulumi.runtime.proto import events_pb2, events_pb2_grpc

from engine.attest import statement as st
from engine.attest.verify import Expectation, verify_receipt
from engine.cli.audit import audit
from engine.cli.deploy import apply, plan, rollback
from engine.commands import apply as apply_module
from engine.commands import attest as attest_module
from engine.commands import rollback as rollback_module
from engine.commands.audit import run_audit_verify
from engine.deploy import pulumi_run
from engine.ledger.entry import StoredEntry
from engine.ledger.store import Ledger
from engine.repo import open_repo
from engine.repo.scripted import Step, commit, stage
from tests.support.cli import Run, govops, invoke, one_error_line
from tests.support.pulumi_fakes import PROJECT, STACK, FakePulumi, approved_cluster, normalised
from tests.support.repos import NOW, fixture, make_repo, unwaived
from tests.support.trust import Keys, trusted, trusted_signers

APPLIED_AT = ("2026-11-24T10:00:00Z", "2026-11-24T11:00:00Z", "2026-11-24T12:00:00Z")
# Each commit is attested just before it is applied: the ledger is in time order.
ATTESTED_AT = ("2026-11-24T09:30:00Z", "2026-11-24T10:30:00Z", "2026-11-24T11:30:00Z")
ROLLBACK_AT = "2026-11-24T13:00:00Z"


def _send(target: str, events: list[dict[str, Any]]) -> None:
    """What the engine does with `--event-log tcp://...`: stream engine events over gRPC."""
    with grpc.insecure_channel(target.removeprefix("tcp://")) as channel:
        stub = events_pb2_grpc.EventsStub(channel)
        stub.StreamEvents(iter([events_pb2.EventRequest(event=json.dumps(e)) for e in events]))


class PreviewingPulumi(FakePulumi):
    """FakePulumi that also answers `preview`, reporting `changes` (none by default)."""

    def __init__(self, changes: Mapping[str, int] | None = None) -> None:
        super().__init__()
        self.changes = dict(changes or {})

    def run(self, args: list[str], cwd: str, additional_env: Mapping[str, str],
            on_output: Any = None, on_error: Any = None) -> auto.CommandResult:
        if args[0] != "preview":
            return super().run(args, cwd, additional_env, on_output, on_error)
        self.calls.append((list(args), cwd, dict(additional_env)))
        events: list[dict[str, Any]] = [
            {"sequence": n, "timestamp": 0, "resourcePreEvent": {"metadata": {
                "op": op, "urn": f"urn:pulumi:{STACK}::{PROJECT}::kubernetes:apps/v1:"
                                 f"Deployment::chat-{n}", "type": "kubernetes:apps/v1:Deployment",
                "provider": ""}}}
            for n, op in enumerate(op for op, count in self.changes.items()
                                   for _ in range(count))]
        summary = {"same": 11, **self.changes}
        events.append({"sequence": len(events), "timestamp": 0, "summaryEvent": {
            "maybeCorrupt": False, "durationSeconds": 1, "resourceChanges": summary}})
        _send(args[args.index("--event-log") + 1], events)
        return auto.CommandResult("", "", 0)


@dataclass(frozen=True)
class History:
    path: Path
    key: Path
    commits: tuple[str, str, str]  # c1, c2, c3: each attested (pass) and applied

    def ledger(self) -> Ledger:
        return Ledger(open_repo(self.path))

    def entries(self) -> list[StoredEntry]:
        return self.ledger().entries()

    def applies(self) -> list[StoredEntry]:
        return [e for e in self.entries() if e.entry.type == "apply"]


def _clock(monkeypatch: pytest.MonkeyPatch, module: Any, *times: str) -> None:
    moments: Iterator[str] = iter(times)
    monkeypatch.setattr(module, "utc_now", lambda: next(moments))


@pytest.fixture(scope="module")
def template(tmp_path_factory: pytest.TempPathFactory) -> History:
    tmp = tmp_path_factory.mktemp("rollback")
    assert govops("keygen", "--output", str(tmp / "ci")).exit_code == 0
    files = {**unwaived(fixture("acme-ml")), "keys/ci.pub": (tmp / "ci.pub").read_bytes()}
    stack_file = files["stacks/prod-inference.yaml"]
    git = make_repo(tmp / "repo", Step("acme", files),
                    Step("quota 20", {"stacks/prod-inference.yaml":
                                      stack_file.replace(b"quota: 16", b"quota: 20")}),
                    Step("quota 24", {"stacks/prod-inference.yaml":
                                      stack_file.replace(b"quota: 16", b"quota: 24")}))
    head = git.head.peel()
    commits = (str(head.parents[0].parents[0].id), str(head.parents[0].id), str(head.id))
    trusted(tmp / "repo", tmp / "trust", tmp / "ci.pub")
    command = PreviewingPulumi()
    with pytest.MonkeyPatch.context() as mp:
        mp.delenv(pulumi_run.PASSPHRASE_ENV, raising=False)
        mp.delenv(pulumi_run.PASSPHRASE_FILE_ENV, raising=False)
        mp.setattr(pulumi_run, "pulumi_cli", lambda: command)
        approved_cluster(mp)
        # An apply reads the clock twice: judging its decision again, then recording.
        _clock(mp, apply_module, *[moment for moment in APPLIED_AT for _ in range(2)])
        _clock(mp, attest_module, *ATTESTED_AT)
        for rev in commits:
            run = govops("attest", "--repo", str(tmp / "repo"), "--rev", rev, "--key",
                         str(tmp / "ci.key"), "--output", str(tmp / f"out-{rev}"), "--now", NOW,
                         "--record")
            assert run.exit_code == 0, run.stderr
            run = invoke(apply, "--repo", str(tmp / "repo"), "--stack", STACK, "--rev", rev,
                         "--key", str(tmp / "ci.key"))
            assert run.exit_code == 0, run.stderr
    return History(tmp / "repo", tmp / "ci.key", commits)


@pytest.fixture
def history(template: History, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> History:
    """A private copy with junk in the work tree's stack YAML and a fixed rollback clock."""
    monkeypatch.delenv(pulumi_run.PASSPHRASE_ENV, raising=False)
    monkeypatch.delenv(pulumi_run.PASSPHRASE_FILE_ENV, raising=False)
    shutil.copytree(template.path, tmp_path / "repo")
    copy = History(tmp_path / "repo", template.key, template.commits)
    (copy.path / "stacks" / "prod-inference.yaml").write_text(
        "junk: [this is not the stack\n  quota: 99\n")
    monkeypatch.setattr(rollback_module, "utc_now", lambda: ROLLBACK_AT)
    assert [e.entry.type for e in copy.entries()] == ["decision", "aibom", "apply"] * 3
    assert [e.entry.time for e in copy.applies()] == list(APPLIED_AT)
    return copy


@pytest.fixture
def fake(monkeypatch: pytest.MonkeyPatch) -> PreviewingPulumi:
    command = PreviewingPulumi()
    command.stacks.add(STACK)  # the applies created it in the backend
    monkeypatch.setattr(pulumi_run, "pulumi_cli", lambda: command)
    approved_cluster(monkeypatch)
    return command


def run_rollback(history: History, to: str, *args: str) -> Run:
    return invoke(rollback, "--repo", str(history.path), "--stack", STACK, "--to", to,
                  "--key", str(history.key), *args)


def digest_of(history: History, rev: str) -> str:
    planned = invoke(plan, "--repo", str(history.path), "--stack", STACK, "--rev", rev,
                     "--now", NOW, "--format", "json")
    assert planned.exit_code == 0, planned.stderr
    digest: str = planned.json()["digest"]
    return digest


def test_the_three_applies_have_distinct_digests(history: History) -> None:
    digests = [a.entry.details["manifestsDigest"] for a in history.applies()]
    assert len(set(digests)) == 3
    assert digests[0] == digest_of(history, history.commits[0])


@pytest.mark.parametrize("how", ["commit", "time", "entry"])
def test_rollback_to_c1_restores_c1_and_records_c3_to_c1(history: History,
                                                         fake: PreviewingPulumi,
                                                         how: str) -> None:
    c1, _, c3 = history.commits
    applies = history.applies()
    first, last = applies[0], applies[2]
    to = {"commit": c1[:10], "time": "2026-11-24T10:30:00Z",
          "entry": str(first.entry.seq)}[how]
    run = run_rollback(history, to)
    assert run.exit_code == 0, run.stderr
    entries = history.entries()
    assert [e.entry.type for e in entries] == ["decision", "aibom", "apply"] * 3 + ["rollback"]
    decision, aibom, rolled = entries[0], entries[1], entries[-1]

    # The exact Pulumi commands: refresh and up with c1's spec, then the preview.
    git_dir = history.path / ".git"
    backend = f"file://{(git_dir / 'govops' / 'pulumi').resolve()}"
    work_dir = str(git_dir / "govops" / "pulumi-workspaces" / PROJECT)
    message = (f"govops rollback {STACK} to {c1} (entry #{first.entry.seq} {first.hash}, "
               f"from entry #{last.entry.seq} {last.hash})")
    spec_config = next(a for a in fake.calls[1][0] if a.startswith("govops:spec="))
    config = ["config", "set-all", "--stack", STACK, "--plaintext", spec_config,
              "--plaintext", "kubernetes:context=gpu-east-1"]
    history_cmd = ["stack", "history", "--json", "--show-secrets", "--page-size", "1",
                   "--page", "1", "--stack", STACK]
    calls = [normalised(args) for args, _, _ in fake.calls]
    preview = calls[-1]
    event_log = preview[preview.index("--event-log") + 1]
    assert event_log.startswith("tcp://127.0.0.1:")
    assert calls == [
        ["stack", "select", "--stack", STACK],
        config,
        ["refresh", "--skip-preview", "--yes", "--message", message,
         "--client=127.0.0.1:<port>", "--exec-kind", "auto.inline", "--stack", STACK],
        history_cmd,
        ["up", "--yes", "--skip-preview", "--message", message,
         "--client=127.0.0.1:<port>", "--exec-kind", "auto.inline", "--stack", STACK],
        ["stack", "output", "--json", "--stack", STACK],
        ["stack", "output", "--json", "--show-secrets", "--stack", STACK],
        history_cmd,
        ["stack", "export", "--show-secrets", "--stack", STACK],
        ["stack", "select", "--stack", STACK],
        config,
        ["preview", "--message", message, "--client=127.0.0.1:<port>", "--exec-kind",
         "auto.inline", "--event-log", event_log, "--stack", STACK],
    ]
    assert {cwd for _, cwd, _ in fake.calls} == {work_dir}
    assert {env["PULUMI_BACKEND_URL"] for _, _, env in fake.calls} == {backend}

    # c1's spec from c1's objects (the junk in the work tree does not matter).
    spec = json.loads(spec_config.removeprefix("govops:spec="))
    assert spec["revision"] == c1 and spec["gpu_quota"] == 16
    assert spec["decision_id"] == decision.entry.details["decisionId"]
    assert spec["aibom_serial"] == aibom.entry.details["serialNumber"]

    # The rollback entry: c3's apply -> c1's apply, resting on c1's decision and AIBOM.
    c1_digest = first.entry.details["manifestsDigest"]
    assert c1_digest == digest_of(history, c1)
    entry = rolled.entry
    assert (entry.revision, entry.stack, entry.time) == (c1, STACK, ROLLBACK_AT)
    assert dict(entry.links) == {"decision": decision.hash, "aibom": aibom.hash,
                                 "from": last.hash, "to": first.hash}
    assert dict(entry.details) == {"manifestsDigest": c1_digest}
    predicate = json.loads(rolled.files["deployment.json"])
    assert predicate["from"] == last.hash and predicate["to"] == first.hash
    assert predicate["manifestsDigest"] == c1_digest and predicate["revision"] == c1
    assert predicate["preview"] == {"same": 11}
    assert (predicate["decision"], predicate["aibom"]) == (decision.hash, aibom.hash)
    verified = verify_receipt(rolled.files["deployment.sigstore.json"],
                              trusted_signers(history.path, rolled.entry.time),
                              Expectation(st.DEPLOYMENT, rolled.files["deployment.json"], c1))
    assert verified.statement["predicate"] == predicate
    assert f"recorded rollback entry #{entry.seq} {rolled.hash}" in run.stdout
    assert f"(by {how})" in run.stdout
    assert "cannot restore data deleted with volumes" in run.stdout
    assert "re-evaluation at 2026-11-24T13:00:00Z against today's policies" in run.stdout

    # audit verify accepts it; audit at after the rollback answers c1.
    report = run_audit_verify(history.path, None, None).report
    assert report.problem is None and report.verified == 10
    at = invoke(audit, "at", "--repo", str(history.path), "--stack", STACK, "--format",
                "json", "2026-11-24T13:00:01Z")
    assert at.exit_code == 0, at.stderr
    answer = at.json()["entry"]
    assert answer["revision"] == c1
    assert answer["type"] == "rollback" and answer["hash"] == rolled.hash
    before = invoke(audit, "at", "--repo", str(history.path), "--stack", STACK, "--format",
                    "json", "2026-11-24T12:59:59Z").json()["entry"]
    assert before["revision"] == c3


def test_json_output_reports_the_reevaluation(history: History, fake: PreviewingPulumi) -> None:
    run = run_rollback(history, history.commits[0], "--format", "json")
    assert run.exit_code == 0, run.stderr
    out = run.json()
    assert out["entry"]["seq"] == 10
    assert out["deployment"]["to"] == history.applies()[0].hash
    assert out["reevaluation"]["blocking"] is False
    assert out["reevaluation"]["now"] == ROLLBACK_AT
    assert out["reevaluation"]["verdict"] in ("pass", "fail")
    assert "volumes" in out["cannotRestore"]


def test_a_failing_reevaluation_is_reported_but_does_not_block(
        history: History, fake: PreviewingPulumi, monkeypatch: pytest.MonkeyPatch) -> None:
    failing = rollback_module.Reevaluation(ROLLBACK_AT, "fail", ({
        "id": "ENV-002", "severity": "deny", "msg": "image is not pinned", "kind": "Environment",
        "name": "vllm-serve", "file": "environments/vllm-serve.yaml", "line": 9},))
    monkeypatch.setattr(rollback_module, "reevaluate", lambda *a, **k: failing)
    run = run_rollback(history, history.commits[0])
    assert run.exit_code == 0, run.stderr
    assert "against today's policies: fail, 1 failing now" in run.stdout
    assert "ENV-002 Environment/vllm-serve (environments/vllm-serve.yaml:9)" in run.stdout
    assert "do not block the rollback" in run.stdout
    assert history.entries()[-1].entry.type == "rollback"


def test_dry_run_prints_the_plan_of_c1_and_records_nothing(history: History,
                                                           fake: PreviewingPulumi) -> None:
    before = history.ledger().tip_commit()
    run = invoke(rollback, "--repo", str(history.path), "--stack", STACK, "--to",
                 history.commits[0], "--dry-run", "--format", "json")
    assert run.exit_code == 0, run.stderr
    out = run.json()
    assert sorted(out) == ["against", "changes", "digest", "manifests", "revision", "stack"]
    assert out["digest"] == history.applies()[0].entry.details["manifestsDigest"]
    live = history.applies()[-1]
    assert out["against"]["source"] == "ledger" and out["against"]["hash"] == live.hash
    assert out["revision"] == history.commits[0] and out["stack"] == STACK
    # Against c3 as live now: updates only (the quota, the decision id and AIBOM labels).
    assert {c["action"] for c in out["changes"]} == {"update"}
    assert "resourcequota" in {c["kind"] for c in out["changes"]}
    assert fake.calls == []
    assert history.ledger().tip_commit() == before


def test_unknown_targets_exit_2(history: History, fake: PreviewingPulumi) -> None:
    before = history.ledger().tip_commit()
    cases = {
        "no-such-branch": "is neither a ledger entry, a commit of the repository nor a time",
        "99": "no ledger entry #99",
        "1": "entry #1 is a decision entry of no stack, not an apply or rollback of stack",
        "2020-01-01T00:00:00Z": "nothing of stack prod-inference was live at "
                                "2020-01-01T00:00:00Z",
    }
    for to, expected in cases.items():
        run = run_rollback(history, to)
        assert run.exit_code == 2, (to, run.stderr)
        assert expected in one_error_line(run), to
    assert fake.calls == []
    assert history.ledger().tip_commit() == before


def _commit(history: History, files: Mapping[str, bytes], message: str) -> str:
    git = pygit2.Repository(str(history.path))
    stage(git, files)
    return commit(git, message, "2026-11-24T09:00:00Z")


def test_a_commit_never_applied_exits_2(history: History, fake: PreviewingPulumi) -> None:
    new = _commit(history, {"NOTES.md": b"notes\n"}, "notes")
    run = run_rollback(history, "HEAD")
    assert run.exit_code == 2
    assert (f"commit {new} was never applied to stack {STACK} (no apply entry in the ledger)"
            in one_error_line(run))
    assert fake.calls == []


def test_receipts_that_no_longer_verify_exit_3(history: History, fake: PreviewingPulumi,
                                                tmp_path: Path) -> None:
    """Today's trust root revokes the CI key from before it signed anything (found
    compromised), so nothing it signed verifies any more."""
    keys = Keys(history.key.parent / "trust")  # made with the template history
    run = govops("trust", "revoke", "--repo", str(history.path), "--role", "signers", "--key",
                 str(history.key.with_suffix(".pub")), "--at", "2026-11-24T00:00:00Z",
                 "--sign-with", str(keys.key("trust-root")))
    assert run.exit_code == 0, run.stderr
    before = history.ledger().tip_commit()
    run = run_rollback(history, history.commits[0])
    assert run.exit_code == 3, run.stderr
    line = one_error_line(run)
    assert "decision entry #1" in line and "does not verify" in line
    assert fake.calls == []
    assert history.ledger().tip_commit() == before


def test_a_preview_with_changes_exits_1_and_records_nothing(
        history: History, monkeypatch: pytest.MonkeyPatch) -> None:
    command = PreviewingPulumi({"update": 1})
    command.stacks.add(STACK)
    monkeypatch.setattr(pulumi_run, "pulumi_cli", lambda: command)
    before = history.ledger().tip_commit()
    run = run_rollback(history, history.commits[0])
    assert run.exit_code == 1, run.stderr
    line = one_error_line(run)
    assert "still reports changes (update 1" in line
    assert f"update urn:pulumi:{STACK}::{PROJECT}::kubernetes:apps/v1:Deployment::chat-0" in line
    assert "nothing recorded" in line
    assert [args[0] for args, _, _ in command.calls][-1] == "preview"
    assert history.ledger().tip_commit() == before


def test_a_program_that_plans_another_digest_exits_3(history: History, fake: PreviewingPulumi,
                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    original = rollback_module.build_plan

    def changed(spec: Any, previous: Any = None, programs: Any = None) -> Any:
        return original(dataclasses.replace(spec, gpu_quota=99), previous, programs)

    monkeypatch.setattr(rollback_module, "build_plan", changed)
    run = run_rollback(history, history.commits[0])
    assert run.exit_code == 3, run.stderr
    assert "the program (stacks/) or its data changed since" in one_error_line(run)
    assert fake.calls == []


def test_without_pulumi_exits_2_and_records_nothing(history: History, tmp_path: Path,
                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    empty = tmp_path / "empty-path"
    empty.mkdir()
    monkeypatch.setenv("PATH", str(empty))
    before = history.ledger().tip_commit()
    run = run_rollback(history, history.commits[0])
    assert run.exit_code == 2, run.stderr
    assert "the pulumi CLI is not on PATH: install the Pulumi CLI" in one_error_line(run)
    assert history.ledger().tip_commit() == before
