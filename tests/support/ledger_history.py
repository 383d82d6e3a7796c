"""A scripted governed repo and ledger history over several stacks and days, made with the real
engine (check, bom, signed receipts, the ledger), and the facts a test can assert exactly.

The governed repo (commits an hour apart from 2026-11-02T10:00:00Z, acme-ml as the base):

- `acme`      the fixture, with keys/ci.pub replaced by a key made for the test
- `llama`     new llama-3-8b-instruct weights (its digest changes)
- `torch`     torch 2.6.0 -> 2.7.0 in environments/vllm-serve.txt
- `batch`     a third stack, batch-eval (production, one replica: STK-004, waived by
              batch-eval-single-replica)
- `nowaiver`  waivers/llama-license-ok.yaml deleted: MDL-002 denies, the verdict fails

The ledger (decisions checked with now = 2026-11-20T12:00:00Z):

     #1 approval of llama-license-ok (as at acme) by legal@acme.test   2026-11-15T09:00:00Z
     #2 approval of batch-eval-single-replica (as at batch)            2026-11-15T09:05:00Z
     #3 decision acme  11-16 09:00       #4 aibom acme  11-16 09:00:05
     #5 apply prod-inference acme        2026-11-16T10:00:00Z
     #6 apply dev-sandbox acme           2026-11-16T11:00:00Z
     #7 decision llama 11-17 09:00       #8 aibom llama 11-17 09:00:05
     #9 apply prod-inference llama       2026-11-17T10:00:00Z
    #10 decision torch 11-18 09:00      #11 aibom torch 11-18 09:00:05
    #12 apply prod-inference torch       2026-11-18T10:00:00Z
    #13 apply dev-sandbox torch          2026-11-18T15:00:00Z
    #14 decision batch 11-19 09:00      #15 aibom batch 11-19 09:00:05
    #16 apply batch-eval batch           2026-11-19T10:00:00Z
    #17 decision nowaiver (fail)         2026-11-20T09:00:00Z
    #18 rollback prod-inference to acme  2026-11-20T12:00:00Z  (rests on #3 and #4)

The expected packages are read from the lock files with a parser of their own, not from the
AIBOM, so a test compares the index with an independent account of what was deployed.
"""

from __future__ import annotations

import re
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from engine.attest import statement as st
from engine.attest.keys import generate
from engine.attest.signers import KeySigner, sign_file
from engine.commands.bom import BomOptions, run_bom
from engine.commands.check import CheckOptions, run_check
from engine.ledger.drafts import aibom_draft, decision_draft
from engine.ledger.entry import Draft, StoredEntry
from engine.ledger.store import Ledger
from engine.repo import open_repo
from engine.repo.scripted import Step, build_history, fixture_files
from engine.report import renderer
from tests.support.approvals import approve_at, approver_key
from tests.support.trust import trusted

FIXTURE = Path(__file__).resolve().parents[2] / "fixtures" / "acme-ml"
CHECK_NOW = "2026-11-20T12:00:00Z"
LLAMA_OLD = "sha256:087bb8360bb45c8dabd3580c98b33f85655c1a72197c31506ab49843bc605009"
LLAMA_NEW = "sha256:" + "5e" * 32
MISTRAL = "sha256:2ad245e7c93659d22c6fa7b44ef93f1b0a7004d8d538383189e090d854f13e9c"
VLLM_IMAGE = "sha256:c0be114bf260e9f05643f4bd755a2cf35674646de21b424d86c2a5e489fe33c6"
TRAIN_IMAGE = "sha256:542f7f7af63778127fdffbaf0ed8a58e39a01918951dcd9f5ee073168f77c4f1"
DECIDER, DEPLOYER = "release-bot@acme.test", "deploy-bot@acme.test"

BATCH_STACK = """\
apiVersion: govops.dev/v1
kind: Stack
metadata:
  name: batch-eval
  labels:
    tier: production
    team: ml-platform
  description: Nightly scoring of support conversations with the fallback model
spec:
  cluster:
    name: gpu-east-1
    context: gpu-east-1
  namespace: batch-eval
  gpu:
    type: nvidia-h100-80gb
    quota: 2
  workloads:
    - name: scorer
      kind: inference
      model: mistral-7b-instruct-v0.3
      environment: vllm-serve
      replicas: 1
      gpusPerReplica: 1
  pulumi:
    program: gpu-workloads
"""

BATCH_WAIVER = """\
apiVersion: govops.dev/v1
kind: Waiver
metadata:
  name: batch-eval-single-replica
spec:
  policy: STK-004
  target:
    kind: Stack
    name: batch-eval
  reason: >-
    Nightly batch scoring is retried by the scheduler; one replica is enough (OPS-77)
  approvedBy:
    - bob@acme.test
  expires: 2027-01-15
"""

# Models by stack (what the stacks' workloads name) and environments by stack.
STACK_MODELS = {
    "prod-inference": ("bge-large-en-v1.5", "llama-3-8b-instruct", "mistral-7b-instruct-v0.3"),
    "dev-sandbox": ("acme-support-assistant", "phi-3-mini-4k-instruct-gguf"),
    "batch-eval": ("mistral-7b-instruct-v0.3",),
}
STACK_ENVIRONMENTS = {"prod-inference": ("vllm-serve",), "dev-sandbox": ("train", "vllm-serve"),
                      "batch-eval": ("vllm-serve",)}
IMAGES = {"vllm-serve": ("ghcr.io/acme/vllm", VLLM_IMAGE),
          "train": ("ghcr.io/acme/train", TRAIN_IMAGE)}


@dataclass(frozen=True)
class Recorded:
    seq: int
    type: str
    hash: str
    time: str
    revision: str  # label of the governed commit (acme, llama, ...)
    stack: str | None = None


@dataclass(frozen=True)
class Deployed:
    """What one apply/rollback put on its stack, and when it was live."""

    seq: int
    type: str
    stack: str
    revision: str  # label
    live_from: str
    live_until: str | None
    models: Mapping[str, str]  # name -> digest
    environments: tuple[str, ...]
    images: frozenset[tuple[str, str, str]]  # (environment, image, digest)
    packages: frozenset[tuple[str, str, str]]  # (environment, name, version)


@dataclass(frozen=True)
class LedgerHistory:
    repo: Path
    key: Path
    public: Path
    commits: Mapping[str, str]  # label -> sha
    entries: tuple[Recorded, ...]
    deployments: tuple[Deployed, ...]

    def ledger(self) -> Ledger:
        return Ledger(open_repo(self.repo))

    def entry(self, seq: int) -> Recorded:
        return self.entries[seq - 1]

    def deployment(self, seq: int) -> Deployed:
        return next(d for d in self.deployments if d.seq == seq)


def _lock_packages(files: Mapping[str, bytes], environment: str) -> set[tuple[str, str]]:
    """(name, version) of a lock file, read here without the engine's lock parsers."""
    if environment == "train":
        document = tomllib.loads(files["environments/pylock.train.toml"].decode())
        return {(p["name"], p["version"]) for p in document["packages"]}
    text = files["environments/vllm-serve.txt"].decode()
    return {(m.group(1).lower(), m.group(2)) for m in
            re.finditer(r"^([A-Za-z0-9._-]+)(?:\[[^\]]*\])?==([^\s;\\]+)", text, re.M)}


def _steps(public: bytes) -> tuple[list[Step], dict[str, dict[str, bytes]]]:
    """The commits, and the files of the tree at each one (for the expected facts)."""
    acme = {**fixture_files(FIXTURE), "keys/ci.pub": public}
    llama = {**acme, "models/llama-3-8b-instruct.yaml": acme[
        "models/llama-3-8b-instruct.yaml"].replace(LLAMA_OLD.encode(), LLAMA_NEW.encode())}
    torch = {**llama, "environments/vllm-serve.txt": llama[
        "environments/vllm-serve.txt"].replace(b"torch==2.6.0", b"torch==2.7.0")}
    batch = {**torch, "stacks/batch-eval.yaml": BATCH_STACK.encode(),
             "waivers/batch-eval-single-replica.yaml": BATCH_WAIVER.encode()}
    nowaiver = {k: v for k, v in batch.items() if k != "waivers/llama-license-ok.yaml"}
    steps = [
        Step("acme", acme),
        Step("llama: new weights", {"models/llama-3-8b-instruct.yaml":
                                    llama["models/llama-3-8b-instruct.yaml"]}),
        Step("vllm-serve: torch 2.7.0", {"environments/vllm-serve.txt":
                                         torch["environments/vllm-serve.txt"]}),
        Step("batch-eval stack", {"stacks/batch-eval.yaml": BATCH_STACK,
                                  "waivers/batch-eval-single-replica.yaml": BATCH_WAIVER}),
        Step("drop the llama license waiver", delete=["waivers/llama-license-ok.yaml"]),
    ]
    trees = {"acme": acme, "llama": llama, "torch": torch, "batch": batch,
             "nowaiver": nowaiver}
    return steps, trees


LABELS = ("acme", "llama", "torch", "batch", "nowaiver")

# (type, label, stack or the waiver approved, time); decisions and AIBOMs come in pairs 5 s
# apart.
SCRIPT = (
    ("approval", "acme", "llama-license-ok", "2026-11-15T09:00:00Z"),
    ("approval", "batch", "batch-eval-single-replica", "2026-11-15T09:05:00Z"),
    ("decision", "acme", None, "2026-11-16T09:00:00Z"),
    ("aibom", "acme", None, "2026-11-16T09:00:05Z"),
    ("apply", "acme", "prod-inference", "2026-11-16T10:00:00Z"),
    ("apply", "acme", "dev-sandbox", "2026-11-16T11:00:00Z"),
    ("decision", "llama", None, "2026-11-17T09:00:00Z"),
    ("aibom", "llama", None, "2026-11-17T09:00:05Z"),
    ("apply", "llama", "prod-inference", "2026-11-17T10:00:00Z"),
    ("decision", "torch", None, "2026-11-18T09:00:00Z"),
    ("aibom", "torch", None, "2026-11-18T09:00:05Z"),
    ("apply", "torch", "prod-inference", "2026-11-18T10:00:00Z"),
    ("apply", "torch", "dev-sandbox", "2026-11-18T15:00:00Z"),
    ("decision", "batch", None, "2026-11-19T09:00:00Z"),
    ("aibom", "batch", None, "2026-11-19T09:00:05Z"),
    ("apply", "batch", "batch-eval", "2026-11-19T10:00:00Z"),
    ("decision", "nowaiver", None, "2026-11-20T09:00:00Z"),
    ("rollback", "acme", "prod-inference", "2026-11-20T12:00:00Z"),
)


def _expected(entries: list[Recorded], trees: Mapping[str, Mapping[str, bytes]]
              ) -> tuple[Deployed, ...]:
    deploying = [e for e in entries if e.type in ("apply", "rollback")]
    out = []
    for n, e in enumerate(deploying):
        assert e.stack is not None
        later = [d for d in deploying[n + 1:] if d.stack == e.stack]
        tree = trees[e.revision]
        environments = STACK_ENVIRONMENTS[e.stack]
        models = {name: (LLAMA_NEW if e.revision != "acme" else LLAMA_OLD)
                  if name == "llama-3-8b-instruct" else _model_digest(tree, name)
                  for name in STACK_MODELS[e.stack]}
        out.append(Deployed(
            e.seq, e.type, e.stack, e.revision, e.time, later[0].time if later else None,
            models, environments,
            frozenset((env, *IMAGES[env]) for env in environments),
            frozenset((env, name, version) for env in environments
                      for name, version in _lock_packages(tree, env))))
    return tuple(out)


def _model_digest(tree: Mapping[str, bytes], name: str) -> str:
    text = tree[f"models/{name}.yaml"].decode()
    found = re.search(r"^\s*digest:\s*(sha256:[0-9a-f]{64})", text, re.M)
    assert found is not None
    return found.group(1)


def build_ledger_history(root: Path) -> LedgerHistory:
    """The repo at root/repo, the key at root/ci.key and root/ci.pub; the ledger as scripted."""
    root.mkdir(parents=True, exist_ok=True)
    key, public = generate(root / "ci")
    steps, trees = _steps(public.read_bytes())
    path = root / "repo"
    build_history(path, steps)
    trusted(path, root / "trust", public)  # issued 2026-11-01, before every entry
    repo = open_repo(path)
    commits = {label: str(repo.resolve(f"HEAD~{len(LABELS) - 1 - i}").id)
               for i, label in enumerate(LABELS)}
    signer = KeySigner(key)
    ledger = Ledger(repo)
    made: dict[tuple[str, str], StoredEntry] = {}
    entries: list[Recorded] = []
    for kind, label, stack, when in SCRIPT:
        commit = commits[label]
        if kind == "approval":
            assert stack is not None
            item = approve_at(path, stack, approver_key(root / "trust"), when, commit)
            stack = None
        elif kind == "decision":
            checked = run_check(CheckOptions(repo=path, rev=commit, now=CHECK_NOW))
            text = renderer("json")(checked.decision, checked.metadata, False)
            receipt = sign_file(signer, st.DECISION, repo.name, commit, "decision.json", text)
            item = ledger.append(decision_draft(commit, text, receipt, checked.bundle.encode(),
                                                checked.now), signer, DECIDER, when)
        elif kind == "aibom":
            text = run_bom(BomOptions(repo=path), commit).text
            receipt = sign_file(signer, st.AIBOM, repo.name, commit, "aibom.cdx.json", text)
            item = ledger.append(aibom_draft(commit, text, receipt), signer, DECIDER, when)
        else:
            links = {"decision": made["decision", label].hash, "aibom": made["aibom", label].hash}
            item = ledger.append(Draft(type=kind, revision=commit, stack=stack, links=links),
                                 signer, DEPLOYER, when)
        made.setdefault((kind, label), item)
        entries.append(Recorded(item.entry.seq, kind, item.hash, when, label, stack))
    assert [e.seq for e in entries] == list(range(1, len(SCRIPT) + 1))
    return LedgerHistory(path, key, public, commits, tuple(entries),
                         _expected(entries, trees))
