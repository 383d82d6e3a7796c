"""`govops pr comment`: compose the pull-request comment, post it (or print it), say where.

Exit codes: 0 posted (whatever the verdict: `govops check` is what gates), 2 for usage, input
or GitHub API errors (one line each). A comment by another account that carries govops's marker
is never edited: one `govops: note:` line on stderr names it, and the bot keeps its own.
"""

from __future__ import annotations

import os
from pathlib import Path

import click

from engine.cli.errors import HandledGroup
from engine.cli.options import engine_option, repo_option


@click.group(cls=HandledGroup)
def pr() -> None:
    """Pull-request integration (GitHub)."""


@pr.command("comment")
@repo_option
@click.option("--base", required=True, help="The pull request's base revision.")
@click.option("--head", default="HEAD", show_default=True, help="The pull request's head.")
@click.option("--github-repo", default=lambda: os.environ.get("GITHUB_REPOSITORY", ""),
              help="OWNER/NAME. Default: GITHUB_REPOSITORY.")
@click.option("--pr", "number", type=int, required=True, help="The pull request number.")
@engine_option()
@click.option("--now", default=None, help="Evaluate as of this time (waiver expiry).")
@click.option("--advisories", type=click.Path(file_okay=False, path_type=Path), default=None,
              help="A directory of OSV records, as for `check`.")
@click.option("--dry-run", is_flag=True, help="Print the comment instead of posting it.")
def comment(repo: Path, base: str, head: str, github_repo: str, number: int, engine: str,
            now: str | None, advisories: Path | None, dry_run: bool) -> None:
    """Post or update the one govops comment of a pull request: the verdict, the failures it
    introduces, the waivers it uses, the AIBOM diff and the plan changes of the stacks it
    touches. Token from GITHUB_TOKEN, API root from GITHUB_API_URL."""
    from engine.clock import parse_now
    from engine.commands.pr_comment import PrOptions, compose, post_comment
    from engine.pr.github_api import GitHubClient

    client = None if dry_run else GitHubClient.from_environment(github_repo)
    body = compose(PrOptions(repo=repo, base=base, head=head, engine=engine,
                             now=parse_now(now) if now else None, advisories=advisories))
    if client is None:
        click.echo(body, nl=False)
        return
    from engine.report.escape import terminal

    posted = post_comment(client, number, body)
    if posted.others:
        named = ", ".join(f"{c.id} by {terminal(c.author or '(no author)')}"
                          for c in posted.others)
        click.echo(f"govops: note: {len(posted.others)} comment(s) on {github_repo}#{number} "
                   f"carry govops's marker but were written by another account ({named}): "
                   "left untouched; govops edits only its own comment", err=True)
    click.echo(f"{posted.action} comment {posted.comment.id} on {github_repo}#{number}: "
               f"{terminal(posted.comment.url)}")
