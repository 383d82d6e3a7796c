"""`govops audit`: query the ledger (`log`, `show`, `at`, `search`, `reindex`); `verify` and
`export` are added to this group by `engine.cli`.

Parses options, opens the ledger index (brought up to date on open), asks
`engine.ledger.queries`, prints with `engine.report.audit_format`. Module-level imports are
click only: the CLI imports this module at every start-up, so everything else is imported when
a command runs. Errors are one line on stderr and the error's exit code (2 for bad input).
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import click

from engine.cli_options import fail, format_option, repo_option


def _answer(repo: Path, fmt: str, ask: Callable[[Any], Any], refresh: bool = True) -> None:
    """Open the index of `repo` (brought up to date unless `refresh` is False), ask, print the
    answer; a GovopsError becomes one line on stderr and its exit code."""
    from engine.errors import GovopsError

    try:
        from engine.ledger.index import LedgerIndex
        from engine.repo import open_repo
        from engine.report.audit_format import RENDERERS

        with LedgerIndex.open(open_repo(repo), refresh=refresh) as index:
            text = RENDERERS[fmt](ask(index))
    except GovopsError as exc:
        fail(exc)
    click.echo(text, nl=False)


@click.group()
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
@format_option
def audit_log(repo: Path, stack: str | None, entry_type: str | None, since: str | None,
              until: str | None, fmt: str) -> None:
    """List ledger entries, first to last. TIME: RFC 3339, 2026-11-20, '2026-11-20 14:05'
    (UTC), now, yesterday, '3 days ago'."""
    from engine.ledger import queries

    _answer(repo, fmt, lambda index: queries.log(index, stack, entry_type, since, until))


@audit.command("show")
@repo_option
@format_option
@click.argument("entry")
def audit_show(repo: Path, fmt: str, entry: str) -> None:
    """Show ENTRY (seq number or hash prefix): its fields, files (sizes, digests) and links."""
    from engine.ledger import queries

    _answer(repo, fmt, lambda index: queries.show(index, entry))


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
@click.option("--package", default=None, metavar="NAME[@VERSION]",
              help="Deployments that deployed this package.")
@click.option("--model", default=None, metavar="NAME|DIGEST",
              help="Deployments that deployed this model (name, or sha256: digest or prefix).")
@click.option("--policy", default=None, metavar="ID",
              help="Decisions that reported this policy, and deployments resting on them.")
@click.option("--waiver", default=None, metavar="NAME",
              help="Decisions that used this waiver, and deployments resting on them.")
@format_option
def audit_search(repo: Path, package: str | None, model: str | None, policy: str | None,
                 waiver: str | None, fmt: str) -> None:
    """Where and when a package, model, policy or waiver was live (give exactly one)."""
    from engine.ledger import queries

    _answer(repo, fmt, lambda index: queries.search(index, package=package, model=model,
                                                    policy=policy, waiver=waiver))


@audit.command("reindex")
@repo_option
@format_option
def audit_reindex(repo: Path, fmt: str) -> None:
    """Rebuild the ledger index (.git/govops/ledger-index.sqlite) from the ledger."""
    from engine.ledger import queries

    _answer(repo, fmt, queries.reindex, refresh=False)
