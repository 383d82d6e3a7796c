"""What `apply` and `rollback` share: the run request for the engine, and the recorder that
signs the deployment receipt and appends the entry.

One recorder for both, so an apply and a rollback entry carry the same fields, the same files
and the same links, and neither is written unless the engine succeeded.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from engine.attest import statement as st
from engine.attest.files import DEPLOYMENT_FILE
from engine.attest.signers import Signer, sign_file
from engine.deploy import pulumi_run, readback
from engine.deploy.applied import MANIFESTS_FILE, encode
from engine.deploy.charts import ChartSource, find_chart, materialize
from engine.deploy.diagnose import stuck_rollouts
from engine.deploy.gate import GatePassed
from engine.deploy.mock import load_program
from engine.deploy.plan import Plan
from engine.deploy.spec import StackSpec
from engine.errors import GovopsError
from engine.ledger.drafts import actor
from engine.ledger.entry import Draft, StoredEntry
from engine.ledger.store import Ledger
from engine.repo import GitRepo
from engine.workdir import WorkDir

DEPLOYMENT_RECEIPT = "deployment.sigstore.json"


def run_request(repo: GitRepo, spec: StackSpec, programs: Path, backend_url: str | None,
                message: str) -> pulumi_run.RunRequest:
    """The spec's program, the state backend (default: local, beside the ledger) and the
    project's workspace under `.git/govops`, holding the chart the stack vendors (written
    from the spec's revision, where the Release looks for it)."""
    work_dir = WorkDir(repo.git_dir).pulumi_workspace(pulumi_run.project_name(spec.name))
    operator = spec.gpu_operator
    if operator is not None and operator.local_chart:
        snapshot = repo.snapshot(spec.revision)
        chart = find_chart(ChartSource(snapshot.files, repo.read_blob), operator.chart,
                           operator.version)
        if chart.local_path != operator.local_chart:  # pragma: no cover - same revision
            raise GovopsError(f"chart {operator.chart!r} at {spec.revision} is not the planned one")
        materialize(chart, repo.read_blob, work_dir)
    return pulumi_run.RunRequest(
        spec=spec, program=load_program(programs / spec.program),
        backend_url=backend_url or pulumi_run.default_backend(repo.git_dir),
        work_dir=work_dir, message=message)


def deploy(request: pulumi_run.RunRequest, command: Any, planned: Plan,
           environ: Mapping[str, str] | None) -> pulumi_run.Deployed:
    """refresh and up; when the engine fails, its one line gains what the cluster says about
    the rollouts it gave up on (a quota or an admission refusal), and nothing is recorded."""
    try:
        return pulumi_run.deploy(request, command, environ)
    except pulumi_run.PulumiFailed as exc:
        stuck = stuck_rollouts(planned.manifests, planned.spec.cluster_context)
        if not stuck:
            raise
        more = f" (and {len(stuck) - 1} more)" if len(stuck) > 1 else ""
        raise pulumi_run.PulumiFailed(f"{exc}; in the cluster: {stuck[0]}{more}") from None


def change_counts(planned: Plan) -> dict[str, Any]:
    """Objects created, updated and deleted against the stack's last deployment (by entry)."""
    counts: dict[str, Any] = {"against": planned.against.hash, "create": 0, "update": 0,
                              "delete": 0}
    for change in planned.changes:
        counts[change.action] += 1
    return counts


@dataclass(frozen=True)
class Recorded:
    predicate: dict[str, Any]  # deployment.json, as signed
    entry: StoredEntry


class LiveDiffers(GovopsError):
    """The cluster, read back after `up`, does not hold what was approved, or could not be
    read back; the entry is recorded all the same (the deployment happened), and says so."""

    exit_code = 1


@dataclass(frozen=True)
class Live:
    """What the read-back found: the live state, or why there is none."""

    state: readback.LiveState | None
    problem: str | None = None

    def as_json(self) -> dict[str, Any]:
        return self.state.as_json() if self.state else {"error": self.problem}


def read_live(planned: Plan) -> Live:
    """The cluster read back after `up` (engine.deploy.readback); never raises, since the
    deployment happened and its entry must be recorded whatever the read-back finds."""
    try:
        return Live(readback.read_back(planned.manifests, planned.spec.cluster_context,
                                       planned.spec.name))
    except readback.ReadBackFailed as exc:
        return Live(None, str(exc))


def require_live(live: Live, entry: StoredEntry) -> None:
    """LiveDiffers (exit 1) unless the cluster held exactly what was approved."""
    where = f"recorded {entry.entry.type} entry #{entry.entry.seq}"
    if live.state is None:
        raise LiveDiffers(f"{where}, but the cluster could not be read back: {live.problem}")
    if not live.state.matches:
        found = [f"{file}: {why}" for file, whys in live.state.differences for why in whys]
        found += [f"{name}: not in the plan" for name in live.state.added]
        more = f" (and {len(found) - 1} more)" if len(found) > 1 else ""
        raise LiveDiffers(f"{where}, but the cluster does not hold what was approved: "
                          f"{found[0]}{more}")


def record_deployment(repo: GitRepo, ledger: Ledger, signer: Signer, kind: str,
                      gate: GatePassed, planned: Plan, deployed: pulumi_run.Deployed, now: str,
                      live: Live, links: Mapping[str, str] | None = None,
                      facts: Mapping[str, Any] | None = None) -> Recorded:
    """Sign the deployment receipt (`deployment.json`: what ran, on which decision and AIBOM,
    and what the cluster held afterwards) and append the `apply` or `rollback` entry recording
    it and the manifests deployed. `links` and `facts` are what a rollback adds (the entries
    it moves from and to, its preview)."""
    spec = planned.spec
    predicate: dict[str, Any] = {
        "stack": spec.name,
        "program": f"stacks/{spec.program}",
        "manifestsDigest": planned.digest,
        "changes": change_counts(planned),
        "updateSummary": deployed.update_summary,
        "checkpointDigest": deployed.checkpoint_digest,
        "decision": gate.decision.hash,
        "aibom": gate.aibom.hash,
        "revision": gate.commit,
        "live": live.as_json(),
        **(facts or {}),
    }
    text = json.dumps(predicate, indent=2, sort_keys=True) + "\n"
    receipt = sign_file(signer, st.DEPLOYMENT, repo.name, gate.commit, DEPLOYMENT_FILE, text)
    entry = ledger.append(Draft(
        type=kind, revision=gate.commit, stack=spec.name,
        files={DEPLOYMENT_FILE: text.encode("utf-8"), DEPLOYMENT_RECEIPT: receipt.encode(),
               MANIFESTS_FILE: encode(planned.manifests)},
        links={"decision": gate.decision.hash, "aibom": gate.aibom.hash, **(links or {})},
        details={"manifestsDigest": planned.digest}), signer, actor(repo), now)
    return Recorded(predicate, entry)
