"""`govops apply`: gate -> Pulumi CLI check -> spec and plan -> refresh + up -> receipt -> entry.

Order matters and each step fails before anything later happens:
1. the gate (engine.deploy.gate): the commit's latest decision and AIBOM entries verify and the
   decision passes (exit 3 / exit 1), and the waivers it relied on are approved when judged
   again (engine.approvals.recheck, exit 3);
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

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pulumi import automation as auto

from engine.approvals.recheck import recheck_waivers
from engine.attest.signers import SignerOptions
from engine.attest.trust_config import trust_root_loader
from engine.clock import utc_now
from engine.commands.branch_gate import require_deploy_branch
from engine.commands.deployment import (
    deploy,
    read_live,
    record_deployment,
    require_live,
    run_request,
)
from engine.commands.plan import ledger_baseline, spec_at
from engine.commands.rejudge import rejudge
from engine.commands.trust import recording_signer, verifier_trust
from engine.deploy import pulumi_run
from engine.deploy.gate import GatePassed, run_gate
from engine.deploy.render import build_plan
from engine.deploy.spec import StackSpec
from engine.ledger.chain import check_anchors
from engine.ledger.entry import StoredEntry
from engine.ledger.rewrite import refuse_rewritten
from engine.ledger.store import Ledger
from engine.repo import open_repo
from engine.shipped import programs_dir


@dataclass(frozen=True)
class ApplyOptions:
    repo: Path
    stack: str
    signer: SignerOptions
    rev: str | None = None
    backend_url: str | None = None
    programs: Path | None = None
    trust_root: str | None = None  # the pin (engine.trust.pin)


@dataclass(frozen=True)
class Applied:
    gate: GatePassed
    spec: StackSpec
    manifests_digest: str
    deployed: pulumi_run.Deployed
    predicate: dict[str, Any]
    entry: StoredEntry


def message(spec: StackSpec, gate: GatePassed) -> str:
    return (f"govops apply {spec.name} at {gate.commit} (decision entry "
            f"#{gate.decision.entry.seq} {gate.decision.hash})")


def run_apply(options: ApplyOptions, pulumi_command: auto.PulumiCommand | None = None,
              environ: dict[str, str] | None = None) -> Applied:
    repo = open_repo(options.repo)
    commit = str(repo.resolve(options.rev or "HEAD").id)
    ledger = Ledger(repo)
    history = verifier_trust(repo, options.trust_root)
    check_anchors(ledger, history.anchors)  # a reset or rewritten ledger is refused first
    refuse_rewritten(ledger)  # so is one rewritten since it was verified
    branch = require_deploy_branch(repo, commit, history)
    trust_config = trust_root_loader(options.signer.trust_config)
    gate = run_gate(ledger, commit, history.signers_at, trust_config)
    recheck_waivers(repo, ledger, history, gate.decision, trust_config)
    now = utc_now()
    rejudged = rejudge(options.repo, gate.decision, now, trust_root=options.trust_root,
                       trust_config=options.signer.trust_config)
    command = pulumi_command if pulumi_command is not None else pulumi_run.pulumi_cli()
    signer = recording_signer(options.repo, options.signer)
    spec = spec_at(repo, options.stack, gate)
    programs = options.programs or programs_dir()
    planned = build_plan(spec, ledger_baseline(options.repo, spec.name, programs), programs)
    request = run_request(repo, spec, programs, options.backend_url, message(spec, gate))
    deployed = deploy(request, command, planned, environ)
    live = read_live(planned)
    recorded = record_deployment(repo, ledger, signer, "apply", gate, planned, deployed,
                                 utc_now(), live, facts={"rejudged": rejudged.as_json(),
                                                           "deployBranch": branch})
    require_live(live, recorded.entry)
    return Applied(gate, spec, planned.digest, deployed, recorded.predicate, recorded.entry)
