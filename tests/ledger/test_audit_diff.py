"""`govops audit diff`: between two deployments, exactly what was changed (issue 16).

Two commits of acme-ml, each attested and applied to prod-inference (the Pulumi CLI faked,
the manifests recorded as a real apply records them): the second bumps torch in one
environment, changes a model's weights digest and the replicas of one workload. The diff
lists exactly those three, in text, JSON and markdown, by entry and by time.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import pytest

import engine.commands.apply as apply_module
import engine.commands.attest as attest_module
from engine.cli.audit import audit_diff
from engine.cli.deploy import apply
from engine.deploy import pulumi_run
from engine.ledger.store import Ledger
from engine.repo import open_repo
from engine.repo.scripted import Step
from tests.support.cli import Run, govops, invoke, one_error_line
from tests.support.pulumi_fakes import STACK, FakePulumi, approved_cluster
from tests.support.repos import NOW, fixture, make_repo, unwaived
from tests.support.trust import trusted

OLD_DIGEST = "sha256:087bb8360bb45c8dabd3580c98b33f85655c1a72197c31506ab49843bc605009"
NEW_DIGEST = "sha256:" + "ab" * 32
TORCH_HASHES = ("295275564c52eaac0c8d0834d9112ca01b60633fb567569183da6879b75ca179",
                "c21b011df7fe4ced6776a12683329e29e195ead43f50c30cba1ccd61ba19d8b3")
APPLIED = ("2026-11-21T10:00:00Z", "2026-11-23T10:00:00Z")


@dataclass(frozen=True)
class Deployed:
    repo: Path
    applies: tuple[int, int]


@pytest.fixture(scope="module")
def deployed(tmp_path_factory: pytest.TempPathFactory) -> Deployed:
    tmp = tmp_path_factory.mktemp("diff")
    assert govops("keygen", "--output", str(tmp / "ci")).exit_code == 0
    files = {**unwaived(fixture("acme-ml")), "keys/ci.pub": (tmp / "ci.pub").read_bytes()}
    lock = files["environments/vllm-serve.txt"]
    bumped = lock.replace(b"torch==2.6.0 \\\n", b"torch==2.7.0 \\\n")
    for old_hash, new_hash in ((TORCH_HASHES[0], "cd" * 32), (TORCH_HASHES[1], "ef" * 32)):
        assert old_hash.encode() in bumped
        bumped = bumped.replace(old_hash.encode(), new_hash.encode())
    model = files["models/llama-3-8b-instruct.yaml"]
    stack = files["stacks/prod-inference.yaml"]
    replicas = stack.replace(b"      replicas: 2\n", b"      replicas: 4\n", 1)
    assert bumped != lock and replicas != stack and OLD_DIGEST.encode() in model
    git = make_repo(tmp / "repo", Step("acme", files, time="2026-11-20T09:00:00Z"),
                    Step("torch 2.7, new llama weights, 4 mistral replicas", {
                        "environments/vllm-serve.txt": bumped,
                        "models/llama-3-8b-instruct.yaml": model.replace(
                            OLD_DIGEST.encode(), NEW_DIGEST.encode()),
                        "stacks/prod-inference.yaml": replicas}, time="2026-11-22T09:00:00Z"))
    trusted(tmp / "repo", tmp / "trust", tmp / "ci.pub")
    head = git.head.peel()
    with pytest.MonkeyPatch.context() as mp:
        mp.delenv(pulumi_run.PASSPHRASE_ENV, raising=False)
        mp.delenv(pulumi_run.PASSPHRASE_FILE_ENV, raising=False)
        mp.setattr(pulumi_run, "pulumi_cli", FakePulumi)
        approved_cluster(mp)
        for rev, when in ((str(head.parents[0].id), APPLIED[0]), (str(head.id), APPLIED[1])):
            # The ledger's clock, scripted: attested an hour before each apply.
            mp.setattr(attest_module, "utc_now", lambda when=when: when.replace("T10", "T09"))
            run = govops("attest", "--repo", str(tmp / "repo"), "--rev", rev, "--key",
                         str(tmp / "ci.key"), "--output", str(tmp / f"out-{rev}"), "--now",
                         NOW, "--record")
            assert run.exit_code == 0, run.stderr
            mp.setattr(apply_module, "utc_now", lambda when=when: when)
            run = invoke(apply, "--repo", str(tmp / "repo"), "--stack", STACK, "--rev", rev,
                         "--key", str(tmp / "ci.key"))
            assert run.exit_code == 0, run.stderr
    seqs = [e.entry.seq for e in Ledger(open_repo(tmp / "repo")).entries()
            if e.entry.type == "apply"]
    assert len(seqs) == 2
    return Deployed(tmp / "repo", (seqs[0], seqs[1]))


def _diff(deployed: Deployed, *args: str, fmt: str = "json") -> Run:
    return invoke(audit_diff, "--repo", str(deployed.repo), "--format", fmt, *args)


def test_the_diff_lists_exactly_the_scripted_changes(deployed: Deployed) -> None:
    first, second = deployed.applies
    run = _diff(deployed, str(first), str(second))
    assert run.exit_code == 0, run.stderr
    out = json.loads(run.stdout)
    assert (out["before"]["seq"], out["after"]["seq"]) == (first, second)
    [torch] = out["packages"]
    assert {k: torch[k] for k in ("kind", "name", "environment", "change", "before", "after",
                                  "fields")} == {
        "kind": "package", "name": "torch", "environment": "vllm-serve", "change": "changed",
        "before": "2.6.0", "after": "2.7.0", "fields": ["version", "digest"]}
    [llama] = out["models"]
    assert {k: llama[k] for k in ("name", "environment", "change", "before", "after",
                                  "fields")} == {
        "name": "llama-3-8b-instruct", "environment": None, "change": "changed",
        "before": OLD_DIGEST, "after": NEW_DIGEST, "fields": ["digest"]}
    assert llama["old"]["version"] == llama["new"]["version"]  # same revision
    assert out["images"] == out["datasets"] == out["drivers"] == []
    assert out["waivers"] == {"added": [], "removed": []}
    assert out["manifests"]["recorded"] is True
    changes = out["manifests"]["changes"]
    # The replicas, and the new digest where the chat workload carries it (attributed): in the
    # container's environment, and its short form in the app.kubernetes.io/version label of
    # the Deployment, its pods, its Service and its PodDisruptionBudget.
    model = "model llama-3-8b-instruct digest"
    version = 'labels["app.kubernetes.io/version"]'
    old, new = OLD_DIGEST[7:19], NEW_DIGEST[7:19]
    assert [(c["manifest"], c["field"], c["before"], c["after"], c["follows"])
            for c in changes] == [
        ("Deployment inference/chat", f"metadata.{version}", old, new, model),
        ("Deployment inference/chat", f"spec.template.metadata.{version}", old, new, model),
        ("Deployment inference/chat", "spec.template.spec.containers[0].env[1].value",
         OLD_DIGEST, NEW_DIGEST, model),
        ("Deployment inference/chat-fallback", "spec.replicas", 2, 4, None),
        ("PodDisruptionBudget inference/chat", f"metadata.{version}", old, new, model),
        ("Service inference/chat", f"metadata.{version}", old, new, model)], changes


def test_text_markdown_and_times_say_the_same(deployed: Deployed) -> None:
    first, second = deployed.applies
    text = _diff(deployed, str(first), str(second), fmt="text")
    assert text.exit_code == 0, text.stderr
    lines = text.stdout.splitlines()
    assert lines[0].startswith(f"apply #{first} (prod-inference, ")
    assert "  ~ torch 2.6.0 -> 2.7.0 (vllm-serve) [version, digest]" in lines
    assert any(line.startswith("  ~ Deployment ") and line.endswith(
        " spec.replicas: 2 -> 4") for line in lines), lines
    markdown = _diff(deployed, str(first), str(second), fmt="markdown")
    assert "| package | torch | vllm-serve | changed | 2.6.0 | 2.7.0 |" in markdown.stdout
    by_time = _diff(deployed, "--stack", STACK, "2026-11-22T00:00:00Z", "2026-11-24T00:00:00Z")
    assert json.loads(by_time.stdout) == json.loads(_diff(deployed, str(first),
                                                          str(second)).stdout)


def test_the_same_deployment_twice_has_no_changes(deployed: Deployed) -> None:
    first, _ = deployed.applies
    run = _diff(deployed, str(first), str(first), fmt="text")
    assert run.stdout.splitlines()[1:] == ["no changes"]


@pytest.mark.parametrize(("args", "message"), [
    (["1", "2"], "entry #1 is a decision entry: audit diff compares two deployments"),
    (["--stack", STACK, "2026-11-01", "2026-11-24"],
     "nothing was deployed to stack prod-inference at 2026-11-01T00:00:00Z"),
    (["99", "1"], "no ledger entry #99 (the ledger has 6)"),
])
def test_bad_references_are_one_line(deployed: Deployed, args: list[str], message: str) -> None:
    run = _diff(deployed, *args)
    assert run.exit_code == 2
    assert message in one_error_line(run)
