"""`govops plan`: parse options, call engine.deploy.plan, print, exit.

Registered by engine/cli.py (`main.add_command(plan)`). Thin like cli.py, and free of pulumi at
import time: the pre-commit path imports engine.cli, which imports this module.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import click

from engine.errors import GovopsError


def _render_text(plan: object, output: Path | None, against: str) -> str:
    from engine.deploy.plan import Plan

    assert isinstance(plan, Plan)
    lines = [f"stack {plan.spec.name} at {plan.spec.revision}",
             f"decision {plan.spec.decision_id}",
             f"aibom {plan.spec.aibom_serial}",
             f"digest {plan.digest}",
             f"{len(plan.manifests)} manifests" + (f" written to {output}" if output else ""),
             f"changes against {against}: {len(plan.changes)}"]
    lines += [f"  {c.action:<6} {c.file}" for c in plan.changes]
    return "\n".join(lines) + "\n"


@click.command()
@click.option("--repo", type=click.Path(file_okay=False, path_type=Path), default=Path("."),
              show_default=True, help="The governed repository.")
@click.option("--stack", required=True, help="The Stack to plan.")
@click.option("--rev", default=None, help="Revision to plan (read from git objects). "
              "Default: HEAD.")
@click.option("--output", type=click.Path(file_okay=False, path_type=Path), default=None,
              help="Write the manifests to DIR, one YAML file per object (other *.yaml files "
              "there are removed: DIR holds exactly the desired state).")
@click.option("--previous", type=click.Path(file_okay=False, path_type=Path), default=None,
              help="Manifests of the last applied state to compare with (default: nothing "
              "applied yet, every object is a create).")
@click.option("--engine", type=click.Choice(["auto", "opa", "regopy"]), default="auto",
              show_default=True, help="Rego backend for the decision id.")
@click.option("--now", default=None, help="Evaluate the decision as of this time; default: "
              "the commit's time, so a plan is reproducible.")
@click.option("--format", "fmt", type=click.Choice(["text", "json"]), default="text",
              show_default=True)
def plan(repo: Path, stack: str, rev: str | None, output: Path | None, previous: Path | None,
         engine: str, now: str | None, fmt: str) -> None:
    """Render the desired Kubernetes state of a Stack and what it changes (no cluster)."""
    from engine.check import parse_now
    from engine.deploy.manifests import read_manifests, write_manifests
    from engine.deploy.plan import PlanOptions, run_plan

    try:
        before = read_manifests(previous) if previous is not None else None
        planned = run_plan(PlanOptions(repo=repo, stack=stack, rev=rev, previous=before,
                                       engine=engine, now=parse_now(now) if now else None))
        if output is not None:
            write_manifests(output, planned.manifests)
    except GovopsError as exc:
        click.echo(f"govops: error: {exc}", err=True)
        sys.exit(exc.exit_code)
    if fmt == "json":
        click.echo(json.dumps(planned.as_json(), indent=2, sort_keys=True))
    else:
        against = str(previous) if previous is not None else "nothing applied yet"
        click.echo(_render_text(planned, output, against), nl=False)
