"""`make demo`: a governed repo with a three-commit story, run through every command.

Builds the repo from fixtures/acme-ml in a temporary folder (dates relative to today, so the
waivers in it are always current) and bootstraps its trust root (a root key, the CI key as
signer, Legal's key as approver). Legal approves the fixture's waiver; then it checks a passing
commit, a failing one, the waiver that would fix it (refused until Legal, not its author,
approves it) and the same commit once approved; builds the AIBOM and its diff, signs and records
the approved revision, verifies the ledger, verifies it again on a fresh clone pinned only by
the root fingerprint, composes the pull-request comment and plans the new stack. Returns all of
it as one record; `engine.cli.demo` tells the story.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass
from pathlib import Path

from engine.atomic import write_atomically
from engine.attest.keys import generate
from engine.attest.signers import SignerOptions
from engine.bom.build import Aibom
from engine.bom.diff import BomDiff
from engine.commands.approve import Approved, ApproveOptions, approve
from engine.commands.attest import Attested, AttestOptions, run_attest
from engine.commands.audit import LedgerVerified, run_audit_verify
from engine.commands.bom import BomOptions, run_bom, run_bom_diff
from engine.commands.check import Checked, CheckOptions, run_check
from engine.commands.plan import PlanOptions, run_plan
from engine.commands.pr_comment import PrOptions, compose
from engine.commands.replay import Replayed, replay_all
from engine.commands.trust import KeyRef, Signing, TrustChange, trust_init
from engine.deploy.plan import Plan
from engine.errors import GovopsError
from engine.repo import clone_with_records
from engine.repo.scripted import Step, build_history, fixture_files
from engine.trust.document import APPROVERS, SIGNERS

FIXTURE = Path(__file__).resolve().parents[2] / "fixtures" / "acme-ml"

GEMMA = """apiVersion: govops.dev/v1
kind: Model
metadata:
  name: gemma-2-9b-it
  owners:
    - ml-platform@acme.test
spec:
  source: hf://google/gemma-2-9b-it
  revision: 11c9b309abf73637e4b6f9a3fa1e92e615547819
  digest: sha256:{digest}
  format: safetensors
  license: gemma
  parameters: 9.2e9
  precision: bf16
  task: text-generation
  risk: limited
"""

ASSISTANT = """apiVersion: govops.dev/v1
kind: Stack
metadata:
  name: prod-assistant
  labels:
    tier: production
spec:
  cluster:
    name: gpu-east-1
    context: gpu-east-1
  namespace: assistant
  gpu:
    type: nvidia-h100-80gb
    quota: 4
  workloads:
    - name: assistant
      kind: inference
      model: gemma-2-9b-it
      environment: {environment}
      replicas: 2
      gpusPerReplica: 1
"""

WAIVER = """apiVersion: govops.dev/v1
kind: Waiver
metadata:
  name: gemma-license-ok
spec:
  policy: MDL-002
  target:
    kind: Model
    name: gemma-2-9b-it
  reason: Legal reviewed the Gemma terms of use for internal serving (LEGAL-231)
  approvedBy:
    - alice@acme.test
  expires: {expires}
"""

def _today_relative(files: dict[str, bytes], today: dt.date) -> dict[str, bytes]:
    """Move every waiver expiry in the fixture to 60 days from today (fixtures use fixed dates)."""
    expires = (today + dt.timedelta(days=60)).isoformat()
    out = {}
    for path, data in files.items():
        if path.startswith("waivers/"):
            data = re.sub(rb"expires: *\d{4}-\d{2}-\d{2}", f"expires: {expires}".encode(), data)
        out[path] = data
    return out


def _environment_name(files: dict[str, bytes]) -> str:
    """The environment the fixture's production stack serves with (the new stack reuses it)."""
    for path, data in sorted(files.items()):
        if path.startswith("stacks/") and b"tier: production" in data:
            match = re.search(rb"environment: *([\w.-]+)", data)
            if match:
                return match.group(1).decode()
    raise GovopsError("fixtures/acme-ml has no production stack")


def build_demo_repo(root: Path, now: dt.datetime, public_key: bytes | None = None) -> None:
    """The three-commit story; `public_key` replaces the fixture's trusted CI key (whose
    private half nobody has) so the demo can sign receipts that verify."""
    files = _today_relative(fixture_files(FIXTURE), now.date())
    if public_key is not None:
        files["keys/ci.pub"] = public_key
    digest = "9" * 64

    def stamp(days_ago: int) -> str:
        return (now - dt.timedelta(days=days_ago)).strftime("%Y-%m-%dT%H:%M:%SZ")

    build_history(root, [
        Step("Platform repo: models, datasets, environments, stacks", files, time=stamp(3)),
        Step("Serve Gemma 2 in a new production stack", {
            "models/gemma-2-9b-it.yaml": GEMMA.format(digest=digest),
            "stacks/prod-assistant.yaml": ASSISTANT.format(environment=_environment_name(files)),
        }, time=stamp(2)),
        Step("Waive the Gemma licence (LEGAL-231)", {
            "waivers/gemma-license-ok.yaml": WAIVER.format(
                expires=(now.date() + dt.timedelta(days=30)).isoformat()),
        }, time=stamp(1)),
    ])


COMMITS = 3  # the story's commits, checked oldest first (the last before and after approval)
LEGAL = "legal@acme.test"  # who holds the approver key; the commits are Ada's


@dataclass(frozen=True)
class CommitChecked:
    rev: str  # HEAD~2, HEAD~1, HEAD
    checked: Checked

    @property
    def exit_code(self) -> int:
        return 1 if self.checked.decision.verdict == "fail" else 0


@dataclass(frozen=True)
class DemoRun:
    root: Path
    commits: tuple[CommitChecked, ...]
    aibom: Aibom
    aibom_path: Path
    aibom_diff: BomDiff  # HEAD~2 -> HEAD
    attested: Attested
    receipts: Path
    trust: TrustChange  # the trust root the demo bootstraps
    approvals: tuple[Approved, ...]  # Legal's: the fixture's waiver, then the new one
    ledger: LedgerVerified
    clone: ClonedCheck  # the same ledger and HEAD, verified on a fresh clone
    replayed: tuple[Replayed, ...]  # every recorded decision, made again
    pr_comment: str
    plan: Plan


@dataclass(frozen=True)
class ClonedCheck:
    """What a fresh clone (no `.git/govops`) concludes, pinned by the fingerprint alone."""

    path: Path
    ledger: LedgerVerified
    checked: Checked  # HEAD, its waiver approvals verified from the pinned root


def _check(root: Path, rev: str, base: str | None) -> CommitChecked:
    return CommitChecked(rev, run_check(CheckOptions(repo=root, rev=rev, base=base)))


def _on_a_clone(root: Path, target: Path, pin: str) -> ClonedCheck:
    clone_with_records(root, target)
    return ClonedCheck(target, run_audit_verify(target, None, None, pin),
                       run_check(CheckOptions(repo=target, trust_root=pin)))


def run_demo(folder: Path, now: dt.datetime) -> DemoRun:
    """The whole story in `folder` (which must be new and empty), as of `now`."""
    root = folder / "acme-ml"
    key, public = generate(folder / "demo-ci")
    root_key, root_public = generate(folder / "demo-root")
    legal_key, legal = generate(folder / "demo-legal")
    build_demo_repo(root, now, public.read_bytes())
    trust = trust_init(Signing(root, (root_key,)), [KeyRef(root_public)], 1,
                       {SIGNERS: ([KeyRef(public)], 1),
                        APPROVERS: ([KeyRef(legal, owner=LEGAL)], 1)}, None)
    as_legal = SignerOptions(key=legal_key)
    approvals = [approve(ApproveOptions(root, "llama-license-ok", as_legal, "HEAD~2"))]
    commits = [_check(root, f"HEAD~{COMMITS - 1 - i}", f"HEAD~{COMMITS - i}" if i else None)
               for i in range(COMMITS)]
    approvals.append(approve(ApproveOptions(root, "gemma-license-ok", as_legal, "HEAD")))
    commits.append(_check(root, "HEAD", "HEAD~1"))
    aibom = run_bom(BomOptions(repo=root), "HEAD")
    aibom_path = folder / "aibom.cdx.json"
    write_atomically(aibom_path, aibom.text)
    diff = run_bom_diff(BomOptions(repo=root), "HEAD~2", "HEAD")
    receipts = folder / "receipts"
    attested = run_attest(AttestOptions(repo=root, output=receipts,
                                        signer=SignerOptions(key=key), record=True))
    ledger = run_audit_verify(root, None, None)
    replayed = tuple(replay_all(root))
    clone = _on_a_clone(root, folder / "fresh-clone", trust.pin)
    comment = compose(PrOptions(repo=root, base="HEAD~2", head="HEAD"))
    planned = run_plan(PlanOptions(repo=root, stack="prod-assistant"))
    return DemoRun(root, tuple(commits), aibom, aibom_path, diff, attested, receipts, trust,
                   tuple(approvals), ledger, clone, replayed, comment, planned)
