"""`govops apply`: gate -> Pulumi CLI check -> spec and plan -> refresh + up -> receipt -> entry.

Order matters and each step fails before anything later happens:
1. the gate (engine.deploy.gate): the commit's latest decision and AIBOM entries verify and the
   decision passes (exit 3 / exit 1);
2. a usable `pulumi` CLI (exit 2 with the install hint), unless a command is injected;
3. the signer (a bad key or token fails before the engine runs);
4. the StackSpec from the commit's catalog (git objects, never the work tree) with the decision
   id and AIBOM serial number of the verified entries, and its plan in mock mode (the manifests
   digest recorded in the receipt);
5. the engine: refresh and up (engine.deploy.pulumi_run);
6. a signed deployment receipt (`deployment.sigstore.json` over `deployment.json`, predicate
   type DEPLOYMENT) and an `apply` entry linking the decision and AIBOM entries.
Nothing is written to the ledger unless the engine succeeded.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pulumi import automation as auto

from engine.attest import statement as st
from engine.attest.verify import trust_root_loader
from engine.catalog import CatalogLoader, ParseCache
from engine.check import utc_now
from engine.deploy import pulumi_run
from engine.deploy.applied import MANIFESTS_FILE, encode
from engine.deploy.gate import GatePassed, run_gate
from engine.deploy.plan import Plan, build_plan, default_programs_dir, ledger_baseline
from engine.deploy.spec import StackSpec, build_stack_spec, find_stack
from engine.ledger.entry import Draft
from engine.ledger.record import actor
from engine.ledger.store import Ledger, StoredEntry
from engine.receipts import SignerOptions, make_signer, repo_trust, sign_file
from engine.repo import GitRepo, open_repo

DEPLOYMENT_FILE = "deployment.json"
DEPLOYMENT_RECEIPT = "deployment.sigstore.json"


@dataclass(frozen=True)
class ApplyOptions:
    repo: Path
    stack: str
    signer: SignerOptions
    rev: str | None = None
    backend_url: str | None = None
    programs: Path | None = None


@dataclass(frozen=True)
class Applied:
    gate: GatePassed
    spec: StackSpec
    manifests_digest: str
    deployed: pulumi_run.Deployed
    predicate: dict[str, Any]
    entry: StoredEntry


def spec_of(repo: GitRepo, stack: str, gate: GatePassed) -> StackSpec:
    """The StackSpec at the gate's commit, carrying the verified decision id and AIBOM serial."""
    snapshot = repo.snapshot(gate.commit)
    cache = ParseCache(repo.git_dir / "govops" / "cache.sqlite")
    try:
        catalog = CatalogLoader(repo, cache).load(snapshot)
    finally:
        cache.close()
    find_stack(catalog, stack)
    return build_stack_spec(catalog, stack, gate.commit,
                            str(gate.decision.entry.details.get("decisionId", "")),
                            str(gate.aibom.entry.details.get("serialNumber", "")))


def change_counts(planned: Plan) -> dict[str, Any]:
    """Objects created, updated and deleted against the stack's last deployment (by entry)."""
    counts: dict[str, Any] = {"against": planned.against.hash, "create": 0, "update": 0,
                              "delete": 0}
    for change in planned.changes:
        counts[change.action] += 1
    return counts


def message(spec: StackSpec, gate: GatePassed) -> str:
    return (f"govops apply {spec.name} at {gate.commit} (decision entry "
            f"#{gate.decision.entry.seq} {gate.decision.hash})")


def run_apply(options: ApplyOptions, pulumi_command: auto.PulumiCommand | None = None,
              environ: dict[str, str] | None = None) -> Applied:
    repo = open_repo(options.repo)
    commit = str(repo.resolve(options.rev or "HEAD").id)
    ledger = Ledger(repo)
    gate = run_gate(ledger, commit, repo_trust(repo),
                    trust_root_loader(options.signer.trust_config))
    command = pulumi_command if pulumi_command is not None else pulumi_run.pulumi_cli()
    signer = make_signer(options.signer)
    spec = spec_of(repo, options.stack, gate)
    programs = options.programs or default_programs_dir()
    planned = build_plan(spec, ledger_baseline(options.repo, spec.name, programs), programs)
    from engine.deploy.mock import load_program

    backend = options.backend_url or pulumi_run.default_backend(repo.git_dir)
    work_dir = repo.git_dir / "govops" / "pulumi-workspaces" / pulumi_run.project_name(spec.name)
    deployed = pulumi_run.deploy(pulumi_run.RunRequest(
        spec=spec, program=load_program(programs / spec.program), backend_url=backend,
        work_dir=work_dir, message=message(spec, gate)), command, environ)
    predicate: dict[str, Any] = {
        "stack": spec.name,
        "program": f"stacks/{spec.program}",
        "manifestsDigest": planned.digest,
        "changes": change_counts(planned),
        "updateSummary": deployed.update_summary,
        "checkpointDigest": deployed.checkpoint_digest,
        "decision": gate.decision.hash,
        "aibom": gate.aibom.hash,
        "revision": commit,
    }
    text = json.dumps(predicate, indent=2, sort_keys=True) + "\n"
    receipt = sign_file(signer, st.DEPLOYMENT, repo.name, commit, DEPLOYMENT_FILE, text)
    entry = ledger.append(Draft(
        type="apply", revision=commit, stack=spec.name,
        files={DEPLOYMENT_FILE: text.encode("utf-8"), DEPLOYMENT_RECEIPT: receipt.encode(),
               MANIFESTS_FILE: encode(planned.manifests)},
        links={"decision": gate.decision.hash, "aibom": gate.aibom.hash},
        details={"manifestsDigest": planned.digest}), signer, actor(repo), utc_now())
    return Applied(gate, spec, planned.digest, deployed, predicate, entry)
