"""`govops plan`, `govops apply` and `govops rollback`: the desired state of a Stack, its
deployment, and its exact restoration.

Free of pulumi at import time: the pre-commit path imports every command module
(engine.commands.apply and engine.commands.rollback, which import pulumi.automation, are
imported inside the commands).
"""

from __future__ import annotations

import gc
import json
from pathlib import Path

import click

from engine.cli.errors import HandledCommand
from engine.cli.options import (
    backend_option,
    engine_option,
    format_option,
    repo_option,
    short_lived,
    signer_options,
    trust_root_option,
)


@click.command(cls=HandledCommand)
@repo_option
@click.option("--stack", required=True, help="The Stack to plan.")
@click.option("--rev", default=None, help="Revision to plan (read from git objects). "
              "Default: HEAD.")
@click.option("--output", type=click.Path(file_okay=False, path_type=Path), default=None,
              help="Write the manifests to DIR, one YAML file per object (other *.yaml files "
              "there are removed: DIR holds exactly the desired state).")
@click.option("--previous", type=click.Path(file_okay=False, path_type=Path), default=None,
              help="Compare with the manifests in DIR (default: those the stack's last apply "
              "or rollback recorded in the ledger; every object is a create when none).")
@engine_option(help="Rego backend for the decision id.")
@click.option("--now", default=None, help="Evaluate the decision as of this time; default: "
              "the commit's time, so a plan is reproducible.")
@format_option
def plan(repo: Path, stack: str, rev: str | None, output: Path | None, previous: Path | None,
         engine: str, now: str | None, fmt: str) -> None:
    """Render the desired Kubernetes state of a Stack and what it changes (no cluster)."""
    if short_lived():
        # The cyclic collector would walk the mock run's many short-lived futures again and
        # again, and once more in full when re-enabled; reference counting frees them.
        gc.disable()
    from engine.clock import parse_now
    from engine.commands.plan import PlanOptions, run_plan
    from engine.deploy.manifests import read_manifests, write_manifests
    from engine.deploy.plan import Baseline
    from engine.report.plan import render_plan_text

    before = (Baseline(read_manifests(previous), "directory", str(previous))
              if previous is not None else None)
    planned = run_plan(PlanOptions(repo=repo, stack=stack, rev=rev, previous=before,
                                   engine=engine, now=parse_now(now) if now else None))
    if output is not None:
        write_manifests(output, planned.manifests)
    if fmt == "json":
        click.echo(json.dumps(planned.as_json(), indent=2, sort_keys=True))
    else:
        click.echo(render_plan_text(planned, output), nl=False)


@click.command(cls=HandledCommand)
@repo_option
@click.option("--stack", required=True, help="The Stack to deploy.")
@click.option("--rev", default=None, help="Revision to deploy (its decision and AIBOM entries "
              "must be in the ledger: govops attest --record). Default: HEAD.")
@signer_options
@backend_option
@trust_root_option
@format_option
def apply(repo: Path, stack: str, rev: str | None, key: Path | None, keyless: bool,
          trust_config: Path | None, backend_url: str | None, trust_root: str | None,
          fmt: str) -> None:
    """Deploy a Stack of a revision whose decision passes and whose receipts verify, with
    Pulumi (refresh, up), and record a signed apply entry."""
    from engine.attest.signers import SignerOptions
    from engine.commands.apply import ApplyOptions, run_apply

    done = run_apply(ApplyOptions(repo=repo, stack=stack, rev=rev,
                                  signer=SignerOptions(key, keyless, trust_config),
                                  backend_url=backend_url, trust_root=trust_root))
    entry = done.entry
    if fmt == "json":
        click.echo(json.dumps({"entry": {"seq": entry.entry.seq, "hash": entry.hash},
                               "deployment": done.predicate}, indent=2, sort_keys=True))
        return
    changes = done.deployed.update_summary.get("resourceChanges", {})
    counts = ", ".join(f"{op} {n}" for op, n in changes.items()) or "no changes reported"
    checkpoint = done.deployed.checkpoint_digest or (
        f"none ({done.deployed.checkpoint_note})")
    click.echo(f"applied {done.spec.name} at {done.gate.commit}\n"
               f"decision entry #{done.gate.decision.entry.seq}, aibom entry "
               f"#{done.gate.aibom.entry.seq}\n"
               f"manifests {done.manifests_digest}\n"
               f"update {done.deployed.update_summary.get('result', '?')}: {counts}\n"
               f"checkpoint {checkpoint}\n"
               f"recorded apply entry #{entry.entry.seq} {entry.hash}")


@click.command(cls=HandledCommand)
@repo_option
@click.option("--stack", required=True, help="The Stack to compare with the cluster.")
@click.option("--record", is_flag=True, help="Append the answer as a signed drift entry "
              "(with --key or --keyless).")
@signer_options
@backend_option
@trust_root_option
@format_option
def drift(repo: Path, stack: str, record: bool, key: Path | None, keyless: bool,
          trust_config: Path | None, backend_url: str | None, trust_root: str | None,
          fmt: str) -> None:
    """Compare the cluster with the stack's last apply or rollback: every object read back
    and compared on the fields govops sets, objects made beside it, and Pulumi's refresh in
    preview mode. Exit 1 when the cluster drifted; nothing is changed."""
    from engine.attest.signers import SignerOptions
    from engine.commands.drift import DriftOptions, run_drift

    if record and key is None and not keyless:
        raise click.UsageError("--record signs the drift entry: give --key or --keyless")
    signer = SignerOptions(key, keyless, trust_config) if record else None
    found = run_drift(DriftOptions(repo=repo, stack=stack, signer=signer,
                                   backend_url=backend_url, trust_root=trust_root))
    if fmt == "json":
        out = found.as_json()
        if found.entry is not None:
            out["entry"] = {"seq": found.entry.entry.seq, "hash": found.entry.hash}
        click.echo(json.dumps(out, indent=2, sort_keys=True))
    else:
        base = found.deployment.entry
        click.echo(f"{'DRIFTED' if found.drifted else 'no drift'}: stack {stack} against "
                   f"{base.type} entry #{base.seq} of commit {(base.revision or '?')[:12]}")
        for file, whys in found.live.differences:
            for why in whys:
                click.echo(f"  changed {file}: {why}" if why != "missing from the cluster"
                           else f"  deleted {file}")
        for name in found.live.added:
            click.echo(f"  added   {name} (labelled as the stack's, in no manifest)")
        for op, count in found.refresh.items():
            click.echo(f"  refresh would {op} {count} resource(s) in Pulumi's state")
        click.echo(f"live digest {found.live.digest} (approved "
                   f"{base.details.get('manifestsDigest')})")
        if found.entry is not None:
            click.echo(f"recorded drift entry #{found.entry.entry.seq} {found.entry.hash}")
    if found.drifted:
        raise SystemExit(1)


@click.command(cls=HandledCommand)
@repo_option
@click.option("--stack", required=True, help="The Stack whose namespace the policy guards.")
@click.option("--rev", default=None, help="Revision whose Stack defines it (git objects). "
              "Default: HEAD.")
def admission(repo: Path, stack: str, rev: str | None) -> None:
    """Print the stack's ValidatingAdmissionPolicy and binding (YAML): in its namespace the
    API server refuses Pods, Deployments and Jobs with an image not pinned by digest, without
    govops's stack label, model digest and decision id, or asking for more GPUs per container
    than the stack gives a workload."""
    from engine.commands.admission import as_yaml, run_admission

    click.echo(as_yaml(run_admission(repo, stack, rev)), nl=False)


_ROLLBACK_LIMITS = ("A rollback cannot restore data deleted with volumes (PersistentVolumes, "
                    "emptyDir), the UIDs, resourceVersions and creation times of re-created "
                    "objects, nor anything outside the program (cluster add-ons, external "
                    "state).")


@click.command(cls=HandledCommand, epilog=_ROLLBACK_LIMITS)
@repo_option
@click.option("--stack", required=True, help="The Stack to roll back.")
@click.option("--to", "to", required=True, metavar="ENTRY|COMMIT|TIME",
              help="What to restore: an apply/rollback entry of the stack (seq or sha256:<hex> "
              "prefix), a commit (its latest apply of the stack) or a time (the apply/rollback "
              "live then, e.g. 2026-11-20T12:00:00Z or '2 days ago').")
@click.option("--dry-run", is_flag=True, help="Verify and plan only; print the same as `plan`, "
              "record nothing, call no Pulumi.")
@signer_options
@backend_option
@trust_root_option
@format_option
def rollback(repo: Path, stack: str, to: str, dry_run: bool, key: Path | None, keyless: bool,
             trust_config: Path | None, backend_url: str | None, trust_root: str | None,
             fmt: str) -> None:
    """Restore a Stack exactly as an earlier apply deployed it: re-verify its receipts, re-run
    the program and config of its commit (from git objects), Pulumi refresh, up and a preview
    that must show no changes, and record a signed rollback entry. Failures of the target
    under today's policies are reported, not blocking."""
    from engine.attest.signers import SignerOptions
    from engine.commands.rollback import RollbackOptions, run_rollback
    from engine.report.plan import render_plan_text

    done = run_rollback(RollbackOptions(repo=repo, stack=stack, to=to, dry_run=dry_run,
                                        signer=SignerOptions(key, keyless, trust_config),
                                        backend_url=backend_url, trust_root=trust_root))
    target = done.target
    reevaluation = done.reevaluation
    if done.entry is None:  # --dry-run
        if fmt == "json":
            click.echo(json.dumps(done.plan.as_json(), indent=2, sort_keys=True))
            if reevaluation.failures or reevaluation.error:
                for line in reevaluation.lines():
                    click.echo(f"govops: warning: {line.strip()}", err=True)
            return
        click.echo(f"dry run: rollback of {stack} to entry #{target.entry.entry.seq} "
                   f"({target.by}), nothing recorded")
        click.echo(render_plan_text(done.plan, None), nl=False)
        click.echo("\n".join(reevaluation.lines()))
        click.echo(_ROLLBACK_LIMITS)
        return
    entry = done.entry
    assert done.deployed is not None and done.predicate is not None
    if fmt == "json":
        from engine.commands.rollback import CANNOT_RESTORE

        click.echo(json.dumps({"entry": {"seq": entry.entry.seq, "hash": entry.hash},
                               "deployment": done.predicate,
                               "reevaluation": reevaluation.as_json(),
                               "cannotRestore": CANNOT_RESTORE}, indent=2, sort_keys=True))
        return
    changes = done.deployed.update_summary.get("resourceChanges", {})
    counts = ", ".join(f"{op} {n}" for op, n in changes.items()) or "no changes reported"
    preview = ", ".join(f"{op} {n}" for op, n in (done.preview or {}).items()) or "empty"
    checkpoint = done.deployed.checkpoint_digest or (
        f"none ({done.deployed.checkpoint_note})")
    click.echo(f"rolled back {stack} to {target.commit}\n"
               f"from {target.previous.entry.type} entry #{target.previous.entry.seq} "
               f"{target.previous.hash}\n"
               f"to {target.entry.entry.type} entry #{target.entry.entry.seq} "
               f"{target.entry.hash} (by {target.by})\n"
               f"decision entry #{target.decision.entry.seq}, aibom entry "
               f"#{target.aibom.entry.seq}: verified against today's trust policy\n"
               f"manifests {done.plan.digest}\n"
               f"update {done.deployed.update_summary.get('result', '?')}: {counts}\n"
               f"preview: {preview} (no changes)\n"
               f"checkpoint {checkpoint}\n"
               + "\n".join(reevaluation.lines()) + "\n"
               f"recorded rollback entry #{entry.entry.seq} {entry.hash}\n"
               f"{_ROLLBACK_LIMITS}")
