"""`govops rollback`: re-apply, exactly, a Stack as an earlier apply (or rollback) deployed it.

Pulumi has no rollback command: rolling back is re-applying the old source (Pulumi's own
guidance). Order, each step failing before anything later happens:
1. resolve `--to` (ENTRY: a seq or `sha256:`/hex prefix of an apply/rollback entry of the stack;
   COMMIT: any revision git resolves, the latest apply of the stack at that commit; TIME: the
   apply/rollback of the stack live then, by the ledger's liveness rule) -- unknown: exit 2;
2. re-verify the target entry and the decision and AIBOM entries it links, each under the trust
   root's signers in force when it was made (a key revoked since still vouches for what it
   signed before), and the waivers the decision relied on judged again from the approvals it
   names (engine.approvals.recheck) -- refused: exit 3;
3. re-evaluate the target commit against today's policies with today's clock and REPORT what
   now fails: shown, never hidden, never blocking;
4. the StackSpec from the target commit's git objects (never the work tree) with the decision id
   and AIBOM serial of the verified entries, planned in mock mode: its digest must equal the
   target's recorded `manifestsDigest` (exit 3 otherwise: the program or data changed since);
   `--dry-run` stops here;
5. the `pulumi` CLI (exit 2 with the install hint), the signer, refresh + up
   (engine.deploy.pulumi_run.deploy), then a preview that must report no changes (exit 1
   naming them, nothing recorded);
6. a signed deployment receipt and a `rollback` entry linking decision, aibom, from and to.

What a rollback cannot restore: data deleted with volumes (PersistentVolumes, emptyDir), the
UIDs, resourceVersions and creation times of re-created objects, and anything outside the
program (cluster add-ons, external state, pods' in-memory state).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pulumi import automation as auto

from engine.approvals.recheck import recheck_waivers
from engine.attest.signers import SignerOptions
from engine.attest.trust_config import trust_root_loader
from engine.clock import instant, utc_now
from engine.commands.branch_gate import require_deploy_branch
from engine.commands.check import CheckOptions, run_check
from engine.commands.deployment import (
    deploy,
    read_live,
    record_deployment,
    require_live,
    run_request,
)
from engine.commands.plan import deployed_files, spec_at
from engine.commands.rejudge import rejudge
from engine.commands.trust import recording_signer, verifier_trust
from engine.deploy import pulumi_run
from engine.deploy.gate import GatePassed, linked_gate
from engine.deploy.plan import Baseline, Plan
from engine.deploy.render import build_plan
from engine.deploy.targets import deployments, resolve_target
from engine.errors import GovopsError
from engine.ledger.chain import TrustAt, check_anchors
from engine.ledger.entry import StoredEntry
from engine.ledger.rewrite import refuse_rewritten
from engine.ledger.store import Ledger
from engine.repo import open_repo
from engine.shipped import programs_dir

CANNOT_RESTORE = ("a rollback re-applies the program and config of the target commit; it cannot "
                  "restore data deleted with volumes (PersistentVolumes, emptyDir), the UIDs, "
                  "resourceVersions and creation times of re-created objects, nor anything "
                  "outside the program (cluster add-ons, external state, in-memory state)")
REEVALUATION_NOTE = ("re-evaluated against today's policies for information only: failures "
                     "are reported, they do not block the rollback (the target's recorded "
                     "decision is what it was deployed on)")


class ProgramChanged(GovopsError):
    """The target commit no longer plans to the digest it was deployed with (exit 3)."""

    exit_code = 3


class PreviewChanged(GovopsError):
    """The preview after `up` still reports changes (exit 1)."""

    exit_code = 1


@dataclass(frozen=True)
class RollbackOptions:
    repo: Path
    stack: str
    to: str
    signer: SignerOptions = field(default_factory=SignerOptions)
    dry_run: bool = False
    backend_url: str | None = None
    programs: Path | None = None
    engine: str = "auto"
    trust_root: str | None = None  # the pin (engine.trust.pin)


@dataclass(frozen=True)
class Target:
    entry: StoredEntry  # the apply/rollback to restore
    by: str  # entry, commit or time
    previous: StoredEntry  # the apply/rollback of the stack live before the rollback
    decision: StoredEntry
    aibom: StoredEntry

    @property
    def commit(self) -> str:
        assert self.entry.entry.revision is not None
        return self.entry.entry.revision

    @property
    def gate(self) -> GatePassed:
        """The verified decision and AIBOM the target was deployed on."""
        return GatePassed(self.commit, self.decision, self.aibom)


@dataclass(frozen=True)
class Reevaluation:
    now: str
    verdict: str | None  # None: the re-evaluation could not run (error says why)
    failures: tuple[dict[str, Any], ...]
    error: str | None = None

    def as_json(self) -> dict[str, Any]:
        return {"now": self.now, "verdict": self.verdict, "failures": list(self.failures),
                "error": self.error, "blocking": False, "note": REEVALUATION_NOTE}

    def lines(self) -> list[str]:
        if self.error is not None:
            return [f"re-evaluation at {self.now} could not run: {self.error} "
                    "(not blocking)"]
        head = (f"re-evaluation at {self.now} against today's policies: {self.verdict}"
                + (f", {len(self.failures)} failing now" if self.failures else ""))
        out = [head]
        out += [f"  {f['id']} {f['kind']}/{f['name']} ({f['file']}:{f['line']}): {f['msg']}"
                for f in self.failures]
        if self.failures:
            out.append("  " + REEVALUATION_NOTE)
        return out


@dataclass(frozen=True)
class RolledBack:
    target: Target
    reevaluation: Reevaluation
    plan: Plan
    deployed: pulumi_run.Deployed | None = None  # None for --dry-run
    preview: Mapping[str, int] | None = None
    predicate: dict[str, Any] | None = None
    entry: StoredEntry | None = None


# -- verification and re-evaluation -------------------------------------------------------------


def verify_target(ledger: Ledger, entry: StoredEntry, by: str, stack: str,
                  trust_config: Callable[[], Any], trust_at: TrustAt) -> Target:
    """The target, the decision and AIBOM entries it rests on, each verified under the trust
    in force when it was made (Refused, exit 3) with the decision passing (exit 1), and the
    apply/rollback live before (the stack's last)."""
    gate = linked_gate(ledger, entry, trust_at, trust_config)
    previous = deployments(ledger.entries(), stack)[-1]
    return Target(entry, by, previous, gate.decision, gate.aibom)


def reevaluate(repo: Path, commit: str, now: str, engine: str = "auto") -> Reevaluation:
    """The target commit against today's policies and clock; errors are reported, not raised."""
    try:
        decision = run_check(CheckOptions(repo=repo, rev=commit, engine=engine,
                                          now=now)).decision
    except GovopsError as exc:
        return Reevaluation(now, None, (), str(exc))
    failures = tuple(
        {"id": r.id, "severity": r.severity, "msg": r.msg, "kind": r.kind, "name": r.name,
         "file": r.file, "line": r.line}
        for r in decision.results if r.severity == "deny")
    return Reevaluation(now, decision.verdict, failures)


def message(target: Target) -> str:
    return (f"govops rollback {target.entry.entry.stack} to {target.commit} (entry "
            f"#{target.entry.entry.seq} {target.entry.hash}, from entry "
            f"#{target.previous.entry.seq} {target.previous.hash})")


def run_rollback(options: RollbackOptions, pulumi_command: auto.PulumiCommand | None = None,
                 environ: dict[str, str] | None = None) -> RolledBack:
    repo = open_repo(options.repo)
    ledger = Ledger(repo)
    now = utc_now()
    item, by = resolve_target(repo, ledger, options.stack, options.to, instant(now))
    history = verifier_trust(repo, options.trust_root)
    check_anchors(ledger, history.anchors)
    refuse_rewritten(ledger)  # so is one rewritten since it was verified
    trust_config = trust_root_loader(options.signer.trust_config)
    target = verify_target(ledger, item, by, options.stack, trust_config, history.signers_at)
    branch = require_deploy_branch(repo, target.commit, history)
    recheck_waivers(repo, ledger, history, target.gate.decision, trust_config)
    rejudged = rejudge(options.repo, target.gate.decision, now, options.engine,
                       options.trust_root, options.signer.trust_config)
    reevaluation = reevaluate(options.repo, target.commit, now, options.engine)
    programs = options.programs or programs_dir()
    spec = spec_at(repo, options.stack, target.gate)
    files = deployed_files(repo, ledger, options.stack, target.previous, programs)
    live = target.previous.entry
    previous = Baseline(files, "ledger", f"{live.type} entry #{live.seq} (live now)", live.seq,
                        target.previous.hash, live.revision)
    planned = build_plan(spec, previous, programs)
    if planned.digest != target.entry.entry.details.get("manifestsDigest"):
        recorded = target.entry.entry.details.get("manifestsDigest")
        raise ProgramChanged(f"commit {target.commit} now plans to {planned.digest}, but entry "
                             f"#{target.entry.entry.seq} deployed {recorded}: the program "
                             "(stacks/) or its data changed since; refusing to roll back to "
                             "something other than what was deployed")
    if options.dry_run:
        return RolledBack(target, reevaluation, planned)

    command = pulumi_command if pulumi_command is not None else pulumi_run.pulumi_cli()
    signer = recording_signer(options.repo, options.signer)
    request = run_request(repo, spec, programs, options.backend_url, message(target))
    deployed = deploy(request, command, planned, environ)
    summary, changed = pulumi_run.preview_changes(request, command, environ)
    changes = {op: n for op, n in summary.items() if op != "same" and n}
    if changes:
        counts = ", ".join(f"{op} {n}" for op, n in sorted(changes.items()))
        raise PreviewChanged(
            f"after up, the preview of stack {spec.name} still reports changes ({counts}"
            + (f": {'; '.join(changed)}" if changed else "") + "): the deployment does not "
            f"match commit {target.commit}; nothing recorded")
    held = read_live(planned)
    recorded = record_deployment(
        repo, ledger, signer, "rollback", target.gate, planned, deployed, utc_now(), held,
        links={"from": target.previous.hash, "to": target.entry.hash},
        facts={"from": target.previous.hash, "to": target.entry.hash, "preview": summary,
               "rejudged": rejudged.as_json(), "deployBranch": branch})
    require_live(held, recorded.entry)
    return RolledBack(target, reevaluation, planned, deployed, summary, recorded.predicate,
                      recorded.entry)
