"""`govops audit`: query the ledger (`log`, `show`, `at`, `search`, `reindex`), verify it
(`verify`) and export an entry with everything needed to verify it elsewhere (`export`).

The queries ask `engine.ledger.queries` through the ledger index (`engine.commands.audit.ask`,
brought up to date on open) and print with `engine.report.audit`.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import click

from engine.cli.errors import EXIT_PASS, EXIT_REFUSED, HandledGroup
from engine.cli.options import format_option, repo_option, trust_root_option


def _answer(repo: Path, fmt: str, question: Callable[[Any], Any], refresh: bool = True,
            trust_root: str | None = None) -> None:
    """Ask the ledger index of `repo` (brought up to date unless `refresh` is False) and print
    the answer."""
    from engine.commands.audit import ask
    from engine.report.audit import RENDERERS

    click.echo(RENDERERS[fmt](ask(repo, question, refresh, trust_root)), nl=False)


@click.group(cls=HandledGroup)
def audit() -> None:
    """Query and verify the ledger."""


@audit.command("log")
@repo_option
@click.option("--stack", default=None, help="Only entries about this stack.")
@click.option("--type", "entry_type", default=None, metavar="TYPE",
              help="Only entries of this type: decision, aibom, apply, rollback, verify, "
              "waiver.")
@click.option("--since", default=None, metavar="TIME", help="Only entries at or after TIME.")
@click.option("--until", default=None, metavar="TIME", help="Only entries at or before TIME.")
@trust_root_option
@format_option
def audit_log(repo: Path, stack: str | None, entry_type: str | None, since: str | None,
              until: str | None, trust_root: str | None, fmt: str) -> None:
    """List ledger entries, first to last. TIME: RFC 3339, 2026-11-20, '2026-11-20 14:05'
    (UTC), now, yesterday, '3 days ago'."""
    from engine.ledger import queries

    _answer(repo, fmt, lambda index: queries.log(index, stack, entry_type, since, until),
            trust_root=trust_root)


@audit.command("show")
@repo_option
@trust_root_option
@format_option
@click.argument("entry")
def audit_show(repo: Path, trust_root: str | None, fmt: str, entry: str) -> None:
    """Show ENTRY (seq number or hash prefix): its fields, files (sizes, digests) and links."""
    from engine.ledger import queries

    _answer(repo, fmt, lambda index: queries.show(index, entry), trust_root=trust_root)


@audit.command("diff")
@repo_option
@click.option("--stack", default=None, help="Compare the deployments of this stack live at "
              "two times (then FIRST and SECOND are TIMEs).")
@click.option("--format", "fmt", type=click.Choice(["text", "json", "markdown"]),
              default="text", show_default=True)
@click.argument("first", metavar="FIRST")
@click.argument("second", metavar="SECOND")
def audit_diff(repo: Path, stack: str | None, fmt: str, first: str, second: str) -> None:
    """What changed between two deployments (apply or rollback entries, by seq or hash prefix;
    with --stack, the deployments live at two TIMEs): models, environments, images and
    packages by environment, waivers used, and the deployed manifests field by field."""
    from engine.ledger import queries

    _answer(repo, fmt, lambda index: queries.diff(index, first, second, stack))


@audit.command("at")
@repo_option
@click.option("--stack", required=True, help="The stack asked about.")
@format_option
@click.argument("time", metavar="TIME")
def audit_at(repo: Path, stack: str, fmt: str, time: str) -> None:
    """What was deployed to a stack at TIME: the apply or rollback live then, its commit, and
    the models, environments, images and packages its AIBOM says it deployed."""
    from engine.ledger import queries

    _answer(repo, fmt, lambda index: queries.at(index, time, stack))


@audit.command("search")
@repo_option
@click.option("--package", default=None, metavar="NAME[@VERSION]|NAME<SPEC>",
              help="Deployments that deployed this package: NAME, NAME@2.6.0 (also matches "
              "local builds such as 2.6.0+cu124), or PEP 440 specifiers such as 'torch<2.6' "
              "or 'torch>=2.5,<2.7'.")
@click.option("--model", default=None, metavar="NAME|DIGEST",
              help="Deployments that deployed this model (name, or sha256: digest or prefix).")
@click.option("--policy", default=None, metavar="ID",
              help="Decisions that reported this policy, and deployments resting on them.")
@click.option("--waiver", default=None, metavar="NAME",
              help="Decisions that used this waiver, and the deployments resting on them that "
              "ran what it waives.")
@click.option("--limit", default=100, show_default=True, type=click.IntRange(min=0),
              help="List at most this many deployments (the first); the count and the live "
              "ranges cover all of them. 0: list all.")
@format_option
def audit_search(repo: Path, package: str | None, model: str | None, policy: str | None,
                 waiver: str | None, limit: int, fmt: str) -> None:
    """Where and when a package, model, policy or waiver was live (give exactly one)."""
    from engine.ledger import queries

    _answer(repo, fmt, lambda index: queries.search(index, package=package, model=model,
                                                    policy=policy, waiver=waiver,
                                                    limit=limit or None))


@audit.command("reindex")
@repo_option
@format_option
def audit_reindex(repo: Path, fmt: str) -> None:
    """Rebuild the ledger index (.git/govops/ledger-index.sqlite) from the ledger."""
    from engine.ledger import queries

    _answer(repo, fmt, queries.reindex, refresh=False)


@audit.command("verify")
@repo_option
@click.option("--from", "from_entry", default=None, metavar="ENTRY",
              help="Check signatures from this entry on (seq or hash prefix); the chain is "
              "always checked whole.")
@click.option("--trust-config", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="Sigstore ClientTrustConfig for keyless receipts (default: public Sigstore).")
@trust_root_option
@click.option("--allow-empty", is_flag=True, help="Accept a governed repository with no ledger "
              "yet (nothing recorded); without it a missing refs/govops/ledger is exit 3.")
@click.option("--accept-rewrite", is_flag=True, help="Accept a ledger rewritten or reset since "
              "it was last verified or indexed here: it must still verify in full; then the "
              "checkpoint moves to its tip, the index is rebuilt and questions are answered "
              "again.")
@click.option("--replay", "replay_all", is_flag=True, help="Also evaluate every decision again "
              "with the policies it recorded and require the same decision_id (slow: one "
              "evaluation per decision).")
@format_option
def audit_verify(repo: Path, from_entry: str | None, trust_config: Path | None,
                 trust_root: str | None, allow_empty: bool, accept_rewrite: bool,
                 replay_all: bool, fmt: str) -> None:
    """Verify the ledger: the chain in time order, every signature under the trust root's
    signers (approvals: approvers) in force at its entry's time, every apply resting on a
    passing decision and an AIBOM, and the last verified tip still in it. Exit 0 when it
    holds, 3 naming the first bad entry."""
    from engine.commands.audit import run_audit_verify

    verified = run_audit_verify(repo, from_entry, trust_config, trust_root, allow_empty,
                                accept_rewrite)
    report, history = verified.report, verified.trust
    replayed = None
    if replay_all and report.problem is None:
        from engine.commands.replay import replay_all as replay_every

        replayed = replay_every(repo, trust_root=trust_root, trust_config=trust_config)
    tip = report.tip
    root = (f"trust root {history.pin} (pinned by {history.pin_source}), "
            f"{len(history.versions)} trust versions")
    if fmt == "json":
        click.echo(json.dumps({
            "verified": report.problem is None, "entries": report.verified,
            "signatures": report.signatures,
            "tip": {"seq": tip.entry.seq, "hash": tip.hash} if tip else None,
            "problem": {"seq": report.problem.seq, "commit": report.problem.commit,
                        "reason": report.problem.reason} if report.problem else None,
            "trustRoot": {"fingerprint": history.pin, "pinnedBy": history.pin_source,
                          "versions": len(history.versions)},
            "replayed": None if replayed is None else {
                "decisions": len(replayed), "seconds": sum(r.seconds for r in replayed)},
        }, indent=2, sort_keys=True))
    elif report.problem is None:
        where = f"; tip #{tip.entry.seq} {tip.hash}" if tip else " (the ledger is empty)"
        noun = "entry" if report.verified == 1 else "entries"
        click.echo(f"ledger verified: {report.verified} {noun}, {report.signatures} "
                   f"signatures{where}\nunder {root}")
        if replayed is not None:
            seconds = sum(r.seconds for r in replayed)
            click.echo(f"replayed {len(replayed)} decisions, every decision_id as recorded "
                       f"({seconds:.2f} s, {seconds / max(1, len(replayed)):.2f} s each)")
    else:
        click.echo(f"ledger REFUSED at {report.problem} "
                   f"({report.verified} entries before it verified)", err=True)
    sys.exit(EXIT_PASS if report.problem is None else EXIT_REFUSED)


@audit.command("export")
@repo_option
@click.option("--output", required=True, type=click.Path(file_okay=False, path_type=Path),
              help="A new (or empty) directory for the evidence pack.")
@trust_root_option
@click.argument("entry")
def audit_export(repo: Path, output: Path, trust_root: str | None, entry: str) -> None:
    """Write an evidence pack for ENTRY (seq or hash prefix): the entry, its receipts, what
    they cover, the keys or identities trusted at its time, the trust root's fingerprint, and
    a README saying how to verify it."""
    from engine.commands.audit import run_export

    pack = run_export(repo, entry, output, trust_root)
    click.echo(f"exported entry #{pack.entry.entry.seq} ({pack.entry.hash}) to {pack.directory}: "
               f"{len(pack.files)} files; see README.md there")
