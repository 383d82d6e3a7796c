"""`govops check`: evaluate a revision (or the index) against the policies and report it."""

from __future__ import annotations

import gc
import sys
from pathlib import Path

import click

from engine.cli.errors import EXIT_FAIL, EXIT_PASS, HandledCommand
from engine.cli.options import (
    advisories_option,
    engine_option,
    repo_option,
    short_lived,
    signer_options,
    trust_root_option,
)
from engine.errors import GovopsError
from engine.policy.engines import FELL_BACK
from engine.report import FORMAT_NAMES


@click.command(cls=HandledCommand)
@repo_option
@click.option("--rev", default=None, help="Revision to evaluate (branch, tag, sha, HEAD~2). "
              "Default: HEAD.")
@click.option("--base", default=None, help="Compare with this revision: report changes, "
              "enable CHG-001, and mark every result new or existing (failing at the base too).")
@click.option("--new-only", is_flag=True, help="With --base: report only the results the change "
              "introduces; the verdict and exit code are about those.")
@click.option("--staged", is_flag=True, help="Evaluate the index (what `git commit` would "
              "record) against HEAD.")
@engine_option(help="Rego backend; auto prefers an OPA server (--opa-url), then a resident "
               "OPA (`opa` on PATH), then the embedded OPA, then rego-cpp.")
@click.option("--opa-url", default=None, metavar="URL", help="Evaluate on this OPA server "
              "(http://host:port; token in GOVOPS_OPA_TOKEN). Default: GOVOPS_OPA_URL. Never "
              "read from govops.yaml: the governed repo must not choose its own judge.")
@click.option("--format", "fmt", type=click.Choice(FORMAT_NAMES), default="text",
              show_default=True, help="text, json, markdown, sarif (2.1.0), junit (XML), or "
              "github (workflow annotations).")
@click.option("--output", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="Write the report to FILE instead of stdout.")
@click.option("--now", default=None, help="Evaluate as of this time (RFC 3339 or YYYY-MM-DD); "
              "default: the current time. Waiver expiry depends on it.")
@advisories_option
@click.option("--show-input", is_flag=True, help="Print the input the policies would read "
              "(JSON, as docs/policies.md describes it) instead of evaluating: to write or "
              "debug a policy (`opa eval --input`).")
@click.option("--record", is_flag=True, help="Sign the decision (--key or --keyless) and "
              "append it to the ledger.")
@signer_options
@trust_root_option
def check(repo: Path, rev: str | None, base: str | None, new_only: bool, staged: bool,
          engine: str, opa_url: str | None, fmt: str,
          output: Path | None, now: str | None, advisories: Path | None, show_input: bool,
          record: bool,
          key: Path | None, keyless: bool, trust_config: Path | None,
          trust_root: str | None) -> None:
    """Evaluate a revision of the governed repo against the policies."""
    if short_lived():
        # A check builds its catalog and input once and keeps them to the end: the cyclic
        # collector would only walk them again and again while they grow (1 s of a cold
        # 10,000-object check, three quarters of building its input). Nothing it makes is
        # cyclic garbage worth collecting before the process exits.
        gc.disable()
    from engine.atomic import write_atomically
    from engine.commands.check import CheckOptions, run_check
    from engine.report import renderer

    if show_input:
        if record or base is not None:
            raise GovopsError("--show-input prints the input of one revision: drop --record "
                              "and --base")
        import json

        from engine.commands.check import input_document

        document = input_document(CheckOptions(repo=repo, rev=rev, staged=staged, now=now,
                                               advisories=advisories, trust_root=trust_root,
                                               trust_config=trust_config))
        text = json.dumps(document, indent=2, sort_keys=True, ensure_ascii=False) + "\n"
        if output is not None:
            write_atomically(output, text)
        else:
            click.echo(text, nl=False)
        return
    signing = None
    if record or key is not None or keyless:
        from engine.attest.signers import SignerOptions
        from engine.commands.trust import recording_signer

        if not record:
            raise GovopsError("--key and --keyless sign what --record appends: add --record")
        if new_only:
            raise GovopsError("--record signs the whole decision: drop --new-only")
        signing = recording_signer(repo, SignerOptions(key, keyless, trust_config))
    checked = run_check(CheckOptions(repo=repo, rev=rev, base=base, staged=staged,
                                     engine=engine, now=now, advisories=advisories,
                                     new_only=new_only, trust_root=trust_root,
                                     trust_config=trust_config, opa_url=opa_url))
    decision = checked.decision
    for note in checked.notes:
        click.echo(f"govops: warning: {note}", err=True)
    if FELL_BACK in decision.engine_version:  # said on stderr too: a hook shows it
        click.echo(f"govops: warning: {decision.engine} answered ({decision.engine_version})",
                   err=True)
    if signing is not None:
        from engine.commands.attest import record_decision

        entry = record_decision(repo, checked, signing)
        click.echo(f"recorded ledger entry #{entry.entry.seq} ({entry.hash})", err=True)
    color = output is None and sys.stdout.isatty()
    text = renderer(fmt)(decision, checked.metadata, color)
    if output is not None:
        write_atomically(output, text)
    else:
        click.echo(text, nl=False)
    sys.exit(EXIT_FAIL if decision.verdict == "fail" else EXIT_PASS)
