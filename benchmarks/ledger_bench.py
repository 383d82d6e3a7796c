"""Benchmark the ledger at 10,000 entries: append rate, `audit verify` rate (chain, every
signature, every recorded receipt, under the time-scoped trust root; on a fresh clone),
replay cost per decision, `audit at` / `audit search` / `audit diff` latency with a warm
index (target: `audit diff` <= 50 ms), and the time to rebuild the index from the ledger.
With --tsa every signature carries an RFC 3161 timestamp the trust requires and `audit
verify` checks.

The ledger opens with an approval of the fixture's waiver by its approver (signed with the
approver's key), then cycles through 10 revisions of the acme fixture; per revision one
decision entry (with its decision receipt), one AIBOM entry (with its AIBOM receipt) and
applies to three stacks resting on them, each recording the 11 manifests it deployed
(replicas and digests varying with the revision, as `audit diff` compares them); receipts of
a revision are signed once and recorded as many times as entries need them (git stores
identical files once). Every entry is signed on its own.

    python benchmarks/ledger_bench.py [--entries 10000] [--runs 5]
"""

from __future__ import annotations

import argparse
import hashlib
import json
import statistics
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from waiver_approvals import approve_waivers, trusted

from engine.attest import statement as st
from engine.attest.keys import generate
from engine.attest.signers import KeySigner, Signer, TimestampingSigner, sign_file
from engine.attest.timestamp import TimestampAuthority
from engine.clock import utc_now
from engine.commands.audit import run_audit_verify
from engine.commands.bom import BomOptions, run_bom
from engine.commands.check import CheckOptions, run_check
from engine.commands.replay import replay_entry
from engine.commands.trust import Signing, set_timestamping, trust_change
from engine.deploy.manifests import digest_of
from engine.ledger.drafts import aibom_draft, decision_draft
from engine.ledger.entry import Draft
from engine.ledger.store import Ledger
from engine.parallel import jobs
from engine.repo import clone_with_records, open_repo
from engine.repo.scripted import Step, build_history, fixture_files
from engine.report import renderer
from engine.workdir import WorkDir

FIXTURE = Path(__file__).resolve().parents[1] / "fixtures" / "acme-ml"
REVISIONS, STACKS = 10, ("prod-inference", "dev-sandbox", "prod-assistant")
START = datetime(2026, 10, 20, tzinfo=UTC)
REPLAYED = 5  # decisions replayed for the per-decision cost


def _repo(root: Path, public: bytes) -> list[str]:
    files = {**fixture_files(FIXTURE), "keys/ci.pub": public}
    steps = [Step("acme", files)]
    stack = files["stacks/prod-inference.yaml"]
    for i in range(1, REVISIONS):
        steps.append(Step(f"quota {16 + i}", {"stacks/prod-inference.yaml": stack.replace(
            b"quota: 16", f"quota: {16 + i}".encode())}))
    build_history(root, steps)
    repo = open_repo(root)
    return [str(repo.resolve(f"HEAD~{REVISIONS - 1 - i}").id) for i in range(REVISIONS)]


def _time_of(n: int) -> str:
    """One entry every 7 minutes from 2026-10-20: 10,000 entries span ~49 days, all within the
    90 days the fixture's waiver may run from its approval (the day before)."""
    moment = START + timedelta(minutes=n * 7)
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


def build(root: Path, entries: int, tsa: TimestampAuthority | None = None
          ) -> tuple[Path, float]:
    """The ledger; with `tsa`, the trust requires its timestamps, every signature is
    timestamped by it, and entries carry the real time (they must agree with their
    timestamps)."""
    private, public = generate(root.parent / "ci")
    revisions = _repo(root, public.read_bytes())
    root_key, _ = trusted(root, public, issued="2026-08-01T00:00:00Z")
    signer: Signer = KeySigner(private)
    approver: Signer = KeySigner(root_key)
    clock = _time_of
    approved_at, today = "2026-10-19T00:00:00Z", "2026-10-20"
    if tsa is not None:
        trust_change(Signing(root, (root_key,)), set_timestamping(tsa, None, None))
        signer = TimestampingSigner(KeySigner(private), tsa.url)
        approver = TimestampingSigner(approver, tsa.url)
        approved_at, today = utc_now(), utc_now()[:10]

        def clock(n: int) -> str:
            return utc_now()
    approve_waivers(root, revisions[0], approver, approved_at)
    revisions_drafts = []
    for commit in revisions:
        checked = run_check(CheckOptions(repo=root, rev=commit, now=today))
        assert checked.decision.verdict == "pass", checked.decision.verdict
        decision = renderer("json")(checked.decision, checked.metadata, False)
        aibom = run_bom(BomOptions(repo=root), commit).text
        revisions_drafts.append((commit, decision, aibom, checked))

    def drafts_of(index: int) -> tuple[Draft, Draft]:
        """The decision and AIBOM drafts of a revision, their receipts signed now (with a TSA,
        a receipt must be timestamped close to the entry that records it)."""
        commit, decision, aibom, checked = revisions_drafts[index]
        name = open_repo(root).name  # what the statements must name (audit verify checks)
        return (decision_draft(commit, decision, sign_file(signer, st.DECISION, name, commit,
                                                           "decision.json", decision),
                               checked.bundle.encode(), checked.now),
                aibom_draft(commit, aibom, sign_file(signer, st.AIBOM, name, commit,
                                                     "aibom.cdx.json", aibom)))

    signed = [drafts_of(i) for i in range(REVISIONS)]
    ledger = Ledger(open_repo(root))
    started = time.perf_counter()
    n = 0
    while n < entries:
        index = (n // 20) % REVISIONS
        decision_draft_, aibom_draft_ = drafts_of(index) if tsa else signed[index]
        d = ledger.append(decision_draft_, signer, "bench", clock(n))
        a = ledger.append(aibom_draft_, signer, "bench", clock(n + 1))
        n += 2
        for k in range(18):
            if n >= entries:
                break
            stack = STACKS[k % len(STACKS)]
            manifests = _manifests(stack, index)
            ledger.append(Draft(type="apply", revision=d.entry.revision, stack=stack,
                                files={"manifests.json": manifests[0]},
                                links={"decision": d.hash, "aibom": a.hash},
                                details={"manifestsDigest": manifests[1]}),
                          signer, "bench", clock(n))
            n += 1
    return root, n / (time.perf_counter() - started)


def _manifests(stack: str, revision: int) -> tuple[bytes, str]:
    """A stack's manifests as an apply records them (11 objects, as gpu-workloads renders for
    three inference workloads), replicas and digests varying with the revision."""
    files = {"00-namespace.yaml": f"apiVersion: v1\nkind: Namespace\nmetadata:\n  name: {stack}\n",
             "01-quota.yaml": (f"apiVersion: v1\nkind: ResourceQuota\nmetadata:\n  name: gpu\n"
                               f"  namespace: {stack}\nspec:\n  hard:\n"
                               f"    requests.nvidia.com/gpu: '{8 + revision % 4}'\n")}
    for w in range(3):
        name, digest = f"w{w}", hashlib.sha256(f"{stack}/{w}/{revision}".encode()).hexdigest()
        files[f"1{w}-deployment-{name}.yaml"] = (
            f"apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: {name}\n"
            f"  namespace: {stack}\n  labels: {{app: {name}}}\n"
            f"  annotations: {{govops.dev/decision-id: 'sha256:{digest}'}}\n"
            f"spec:\n  replicas: {2 + (revision + w) % 3}\n  selector:\n"
            f"    matchLabels: {{app: {name}}}\n  template:\n    metadata:\n"
            f"      labels: {{app: {name}}}\n    spec:\n      containers:\n"
            f"        - name: server\n          image: ghcr.io/acme/vllm@sha256:{digest}\n"
            f"          env:\n            - {{name: MODEL_DIGEST, value: 'sha256:{digest}'}}\n"
            f"          resources:\n            limits: {{nvidia.com/gpu: 1}}\n")
        files[f"2{w}-service-{name}.yaml"] = (
            f"apiVersion: v1\nkind: Service\nmetadata:\n  name: {name}\n  namespace: {stack}\n"
            f"spec:\n  selector: {{app: {name}}}\n  ports: [{{port: 8000}}]\n")
        files[f"3{w}-pdb-{name}.yaml"] = (
            f"apiVersion: policy/v1\nkind: PodDisruptionBudget\nmetadata:\n  name: {name}\n"
            f"  namespace: {stack}\nspec:\n  minAvailable: 1\n  selector:\n"
            f"    matchLabels: {{app: {name}}}\n")
    encoded = {k: v.encode() for k, v in files.items()}
    return (json.dumps(files, indent=2, sort_keys=True) + "\n").encode(), digest_of(encoded)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--entries", type=int, default=10_000)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--tsa", action="store_true", help="require RFC 3161 timestamps from "
                        "a local TSA (openssl ts -reply on 127.0.0.1, as the tests run it)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="govops-ledger-bench-") as tmp:
        server = None
        authority = None
        if args.tsa:
            from tests.support.tsa import start_tsa

            started_tsa, server = start_tsa(Path(tmp) / "tsa")
            authority = started_tsa.authority
        try:
            root, append_rate = build(Path(tmp) / "repo", args.entries, authority)
        finally:
            if server is not None:
                server.shutdown()
                server.server_close()
        print(f"ledger of {args.entries} entries ({REVISIONS} revisions, decision + AIBOM + "
              f"applies to {len(STACKS)} stacks), ECDSA P-256 key signer"
              + (", every signature RFC 3161-timestamped and required" if args.tsa else ""))
        print(f"  append                 {append_rate:8.0f} entries/s (one process)")
        verify_rates(root, Path(tmp) / "clone", args.runs)
        replays = [replay_entry(root, item) for item in Ledger(open_repo(root)).entries()[:200]
                   if item.entry.type == "decision"][:REPLAYED]
        assert all(r.matches for r in replays)
        print(f"  replay                 {statistics.median(r.seconds for r in replays):8.3f} s "
              f"per decision (median of {len(replays)}: one evaluation each, with the "
              "recorded policy bundle)")
        if args.tsa:
            print("  (queries are measured without --tsa: their times are the synthetic ones)")
        else:
            queries(root, args.runs)


def verify_rates(root: Path, clone: Path, runs: int) -> None:
    """`audit verify` as an auditor runs it: on a fresh clone (its objects packed, no
    .git/govops: no checkpoint, no cache), the trust root pinned by its fingerprint."""
    pin = run_audit_verify(root, None, None).trust.pin
    clone_with_records(root, clone)
    rates = []
    for _ in range(runs):
        WorkDir(clone / ".git").ledger_checkpoint.unlink(missing_ok=True)
        started = time.perf_counter()
        report = run_audit_verify(clone, None, None, pin).report
        elapsed = time.perf_counter() - started
        assert report.problem is None, report.problem
        rates.append(report.verified / elapsed)
    print(f"  audit verify           {statistics.median(rates):8.0f} entries/s "
          f"({report.verified} entries, {report.signatures} signatures; fresh clone; "
          f"{jobs()} processes; median of {runs}; target >= 2,000)")


def queries(root: Path, runs: int) -> None:
    """Index rebuild and query latency (warm index, median of runs)."""
    import gc

    # The build above left millions of objects in this process; a `govops audit` process has
    # none of them, so keep the collector from walking them during the timed queries.
    gc.collect()
    gc.freeze()
    from engine.ledger import queries as q
    from engine.ledger.index import LedgerIndex
    from engine.repo import open_repo

    repo = open_repo(root)
    index = LedgerIndex.open(repo, refresh=False)
    rebuilds = []
    for _ in range(max(1, runs // 2)):
        started = time.perf_counter()
        index.reindex()
        rebuilds.append(time.perf_counter() - started)
    items = index.db.execute("SELECT COUNT(*) FROM deployed").fetchone()[0]
    print(f"  index rebuild          {statistics.median(rebuilds):8.2f} s "
          f"({items} deployed-item rows)")
    cases = {
        "audit at": lambda: q.at(index, "2026-11-01T12:00:00Z", "prod-inference"),
        # As the CLI asks by default: the first 100 deployments listed, every match counted
        # and merged into live ranges; then `--limit 0`, every deployment listed.
        "audit search package": lambda: q.search(index, package="torch@2.6.0", limit=100),
        "audit search model": lambda: q.search(index, model="sha256:087bb836", limit=100),
        "audit search policy": lambda: q.search(index, policy="MDL-002", limit=100),
        "search package, all": lambda: q.search(index, package="torch@2.6.0"),
        "search policy, all": lambda: q.search(index, policy="MDL-002"),
    }
    applies = [seq for (seq,) in index.db.execute(
        "SELECT seq FROM entries WHERE type = 'apply' AND stack = 'prod-inference' ORDER BY seq")]
    # Two deployments of one stack, nine revisions apart: models, packages, manifests differ.
    cases["audit diff"] = lambda: q.diff(index, str(applies[0]), str(applies[-1]))
    cases["audit diff --stack"] = lambda: q.diff(index, "2026-11-01T12:00:00Z", "now",
                                                 "prod-inference")
    for label, ask in cases.items():
        ask()
        times = []
        for _ in range(runs):
            started = time.perf_counter()
            ask()
            times.append(time.perf_counter() - started)
        print(f"  {label:22} {statistics.median(times) * 1000:8.2f} ms (warm index)")
    index.close()


if __name__ == "__main__":
    main()
