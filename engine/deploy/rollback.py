"""`govops rollback`: re-apply, exactly, a Stack as an earlier apply (or rollback) deployed it.

Pulumi has no rollback command: rolling back is re-applying the old source (Pulumi's own
guidance). Order, each step failing before anything later happens:
1. resolve `--to` (ENTRY: a seq or `sha256:`/hex prefix of an apply/rollback entry of the stack;
   COMMIT: any revision git resolves, the latest apply of the stack at that commit; TIME: the
   apply/rollback of the stack live then, by the ledger's liveness rule) -- unknown: exit 2;
2. re-verify the target entry and the decision and AIBOM entries it links against today's trust
   policy (govops.yaml at HEAD) -- refused: exit 3;
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

import datetime as dt
import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pulumi import automation as auto

from engine.attest import statement as st
from engine.attest.files import DECISION_FILE
from engine.attest.verify import Refused, trust_root_loader
from engine.check import CheckOptions, run_check, utc_now
from engine.deploy import pulumi_run
from engine.deploy.applied import MANIFESTS_FILE, deployed_files, encode
from engine.deploy.apply import DEPLOYMENT_FILE, DEPLOYMENT_RECEIPT, change_counts, spec_of
from engine.deploy.gate import DecisionFailed, GatePassed, failed_policies, verify_entry
from engine.deploy.plan import Baseline, Plan, build_plan, default_programs_dir
from engine.deploy.spec import StackSpec
from engine.errors import GovopsError, RevisionError
from engine.ledger.entry import Draft
from engine.ledger.queries import QueryError, parse_time, utc
from engine.ledger.record import actor
from engine.ledger.store import Ledger, LedgerError, StoredEntry
from engine.receipts import SignerOptions, make_signer, repo_trust, sign_file
from engine.repo import GitRepo, open_repo

DEPLOYING = ("apply", "rollback")
CANNOT_RESTORE = ("a rollback re-applies the program and config of the target commit; it cannot "
                  "restore data deleted with volumes (PersistentVolumes, emptyDir), the UIDs, "
                  "resourceVersions and creation times of re-created objects, nor anything "
                  "outside the program (cluster add-ons, external state, in-memory state)")
REEVALUATION_NOTE = ("re-evaluated against today's policies for information only: failures "
                     "are reported, they do not block the rollback (the target's recorded "
                     "decision is what it was deployed on)")


class UnknownTarget(GovopsError):
    """`--to` names no apply/rollback of the stack (exit 2)."""


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


# -- resolving --to -----------------------------------------------------------------------------


def _epoch(moment: str) -> int:
    return int(dt.datetime.fromisoformat(moment.replace("Z", "+00:00")).timestamp())


def deployments(entries: list[StoredEntry], stack: str) -> list[StoredEntry]:
    return [e for e in entries if e.entry.type in DEPLOYING and e.entry.stack == stack]


def live_at(deployed: list[StoredEntry], seconds: int) -> StoredEntry | None:
    """The apply/rollback live at `seconds`: from its time (inclusive) until the next one of the
    stack (exclusive); were times to go backwards, the interval that started last wins."""
    live: list[tuple[int, int, StoredEntry]] = []
    for position, item in enumerate(deployed):
        start = _epoch(item.entry.time)
        until = _epoch(deployed[position + 1].entry.time) if position + 1 < len(deployed) \
            else None
        if start <= seconds and (until is None or until > seconds):
            live.append((start, item.entry.seq, item))
    return max(live, key=lambda t: (t[0], t[1]))[2] if live else None


def _by_entry(ledger: Ledger, reference: str, stack: str) -> StoredEntry:
    try:
        item = ledger.find(reference)
    except LedgerError as exc:
        raise UnknownTarget(f"--to {reference!r}: {exc}") from None
    if item.entry.type not in DEPLOYING or item.entry.stack != stack:
        raise UnknownTarget(f"--to {reference!r}: entry #{item.entry.seq} is a "
                            f"{item.entry.type} entry of "
                            f"{'stack ' + item.entry.stack if item.entry.stack else 'no stack'}"
                            f", not an apply or rollback of stack {stack}")
    return item


def _by_commit(deployed: list[StoredEntry], commit: str, reference: str,
               stack: str) -> StoredEntry:
    found = [e for e in deployed if e.entry.type == "apply" and e.entry.revision == commit]
    if not found:
        raise UnknownTarget(f"--to {reference!r}: commit {commit} was never applied to stack "
                            f"{stack} (no apply entry in the ledger)")
    return found[-1]


def _commit_of(repo: GitRepo, reference: str) -> str | None:
    try:
        return str(repo.resolve(reference).id)
    except (RevisionError, GovopsError, ValueError, KeyError):
        return None


def _hash_match(entries: list[StoredEntry], text: str) -> StoredEntry | None:
    if len(text) < 4 or any(c not in "0123456789abcdef" for c in text):
        return None
    found = [e for e in entries if e.hash.removeprefix("sha256:").startswith(text)]
    return found[0] if len(found) == 1 else None


def resolve_target(repo: GitRepo, ledger: Ledger, stack: str, to: str,
                   now: dt.datetime | None = None) -> tuple[StoredEntry, str]:
    """(the apply/rollback `to` names, how it was named); UnknownTarget (exit 2) otherwise.

    `sha256:<hex>` and plain numbers are entries; TIME forms (RFC 3339, dates, `now`, `N days
    ago`) are times; anything else is a git revision or an entry hash prefix, and must not be
    both."""
    text = to.strip()
    if not text:
        raise UnknownTarget("--to is empty: give an ENTRY, a COMMIT or a TIME")
    entries = ledger.entries()
    deployed = deployments(entries, stack)
    lowered = text.lower()
    if lowered.startswith("sha256:") or (text.isascii() and text.isdigit()):
        return _by_entry(ledger, text, stack), "entry"
    try:
        moment = parse_time(text, now)
    except QueryError:
        moment = None
    if moment is not None:
        item = live_at(deployed, int(moment.timestamp() // 1))
        if item is None:
            raise UnknownTarget(f"--to {text!r}: nothing of stack {stack} was live at "
                                f"{utc(moment)} according to the ledger")
        return item, "time"
    commit = _commit_of(repo, text)
    by_hash = _hash_match(entries, lowered)
    if commit is not None and by_hash is not None:
        raise UnknownTarget(f"--to {text!r} is both a commit ({commit}) and the prefix of entry "
                            f"#{by_hash.entry.seq}: write sha256:{lowered} for the entry or "
                            "the full commit")
    if commit is not None:
        return _by_commit(deployed, commit, text, stack), "commit"
    if by_hash is not None:
        return _by_entry(ledger, "sha256:" + lowered, stack), "entry"
    raise UnknownTarget(f"--to {text!r} is neither a ledger entry, a commit of the repository "
                        "nor a time (ENTRY: a seq or sha256:<hex>; COMMIT: any git revision; "
                        "TIME: e.g. 2026-11-20T12:00:00Z)")


# -- verification and re-evaluation -------------------------------------------------------------


def verify_target(ledger: Ledger, entry: StoredEntry, by: str, stack: str,
                  trust_config: Callable[[], Any], repo: GitRepo) -> Target:
    """The target, the decision and AIBOM entries it rests on, each verified against today's
    trust policy (Refused, exit 3), and the apply/rollback live before (the stack's last)."""
    entries = ledger.entries()
    by_hash = {e.hash: e for e in entries}
    commit = entry.entry.revision
    where = f"{entry.entry.type} entry #{entry.entry.seq}"
    if commit is None:
        raise Refused(f"{where} names no revision")
    linked: dict[str, StoredEntry] = {}
    for role in ("decision", "aibom"):
        item = by_hash.get(entry.entry.links.get(role, ""))
        if item is None or item.entry.type != role or item.entry.revision != commit:
            raise Refused(f"{where} does not link a {role} entry of commit {commit}")
        linked[role] = item
    trust = repo_trust(repo)
    for item in (linked["decision"], linked["aibom"], entry):
        verify_entry(item, commit, trust, trust_config)
    decision = linked["decision"]
    text = decision.recorded.get(DECISION_FILE, b"")
    try:
        recorded_verdict = json.loads(text).get("verdict")
    except ValueError:
        recorded_verdict = None
    if decision.entry.details.get("verdict") != "pass" or recorded_verdict != "pass":
        failing = failed_policies(text)
        raise DecisionFailed(f"the decision of commit {commit} (entry #{decision.entry.seq}) "
                             f"is {recorded_verdict!r}, not pass"
                             + (f": failing policies {', '.join(failing)}" if failing else ""))
    previous = deployments(entries, stack)[-1]
    return Target(entry, by, previous, decision, linked["aibom"])


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


# -- planning -----------------------------------------------------------------------------------


def _spec(repo: GitRepo, stack: str, item: StoredEntry, decision: StoredEntry,
          aibom: StoredEntry) -> StackSpec:
    assert item.entry.revision is not None
    return spec_of(repo, stack, GatePassed(item.entry.revision, decision, aibom))


# -- the engine ---------------------------------------------------------------------------------


def _op(value: Any) -> str:
    return str(getattr(value, "value", value))


def preview_changes(request: pulumi_run.RunRequest, command: auto.PulumiCommand,
                    environ: Mapping[str, str] | None = None
                    ) -> tuple[dict[str, int], list[str]]:
    """select the stack, set the same config, preview: (change summary, changed resources)."""
    spec = request.spec
    changed: list[str] = []

    def on_event(event: auto.EngineEvent) -> None:
        pre = event.resource_pre_event
        if pre is not None and _op(pre.metadata.op) != "same":
            changed.append(f"{_op(pre.metadata.op)} {pre.metadata.urn}")

    try:
        stack = pulumi_run.open_stack(request, command, environ, create=False)
        result = stack.preview(message=request.message, on_event=on_event)
    except auto.errors.CommandError as exc:
        raise pulumi_run.PulumiFailed(f"pulumi preview failed for stack {spec.name}: "
                                      f"{pulumi_run.last_line(exc)}") from None
    except RuntimeError as exc:  # the engine sent no summary event
        raise pulumi_run.PulumiFailed(f"pulumi preview failed for stack {spec.name}: "
                                      f"{exc}") from None
    summary = {_op(op): int(n) for op, n in sorted((result.change_summary or {}).items(),
                                                   key=lambda kv: _op(kv[0]))}
    return summary, changed


def message(target: Target) -> str:
    return (f"govops rollback {target.entry.entry.stack} to {target.commit} (entry "
            f"#{target.entry.entry.seq} {target.entry.hash}, from entry "
            f"#{target.previous.entry.seq} {target.previous.hash})")


def run_rollback(options: RollbackOptions, pulumi_command: auto.PulumiCommand | None = None,
                 environ: dict[str, str] | None = None) -> RolledBack:
    repo = open_repo(options.repo)
    ledger = Ledger(repo)
    now = utc_now()
    item, by = resolve_target(repo, ledger, options.stack, options.to,
                              dt.datetime.fromisoformat(now.replace("Z", "+00:00")))
    target = verify_target(ledger, item, by, options.stack,
                           trust_root_loader(options.signer.trust_config), repo)
    reevaluation = reevaluate(options.repo, target.commit, now, options.engine)
    programs = options.programs or default_programs_dir()
    spec = _spec(repo, options.stack, target.entry, target.decision, target.aibom)
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
    signer = make_signer(options.signer)
    from engine.deploy.mock import load_program

    backend = options.backend_url or pulumi_run.default_backend(repo.git_dir)
    request = pulumi_run.RunRequest(
        spec=spec, program=load_program(programs / spec.program), backend_url=backend,
        work_dir=repo.git_dir / "govops" / "pulumi-workspaces" / pulumi_run.project_name(
            spec.name), message=message(target))
    deployed = pulumi_run.deploy(request, command, environ)
    summary, changed = preview_changes(request, command, environ)
    changes = {op: n for op, n in summary.items() if op != "same" and n}
    if changes:
        counts = ", ".join(f"{op} {n}" for op, n in sorted(changes.items()))
        raise PreviewChanged(
            f"after up, the preview of stack {spec.name} still reports changes ({counts}"
            + (f": {'; '.join(changed)}" if changed else "") + "): the deployment does not "
            f"match commit {target.commit}; nothing recorded")
    predicate: dict[str, Any] = {
        "stack": spec.name,
        "program": f"stacks/{spec.program}",
        "from": target.previous.hash,
        "to": target.entry.hash,
        "manifestsDigest": planned.digest,
        "changes": change_counts(planned),
        "updateSummary": deployed.update_summary,
        "checkpointDigest": deployed.checkpoint_digest,
        "preview": summary,
        "decision": target.decision.hash,
        "aibom": target.aibom.hash,
        "revision": target.commit,
    }
    text = json.dumps(predicate, indent=2, sort_keys=True) + "\n"
    receipt = sign_file(signer, st.DEPLOYMENT, repo.name, target.commit, DEPLOYMENT_FILE, text)
    entry = ledger.append(Draft(
        type="rollback", revision=target.commit, stack=spec.name,
        files={DEPLOYMENT_FILE: text.encode("utf-8"), DEPLOYMENT_RECEIPT: receipt.encode(),
               MANIFESTS_FILE: encode(planned.manifests)},
        links={"decision": target.decision.hash, "aibom": target.aibom.hash,
               "from": target.previous.hash, "to": target.entry.hash},
        details={"manifestsDigest": planned.digest}), signer, actor(repo), utc_now())
    return RolledBack(target, reevaluation, planned, deployed, summary, predicate, entry)
