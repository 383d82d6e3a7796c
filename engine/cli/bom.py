"""`govops bom` and `govops bom diff`: the AIBOM of a revision, and what changed between two."""

from __future__ import annotations

from pathlib import Path

import click

from engine.cli.errors import HandledGroup
from engine.cli.options import advisories_option, repo_option


@click.group(cls=HandledGroup, invoke_without_command=True)
@repo_option
@click.option("--rev", default=None, help="Revision to describe. Default: HEAD.")
@click.option("--output", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="Write the AIBOM to FILE (written only once it validates); default stdout.")
@click.option("--format", "fmt", type=click.Choice(["cyclonedx", "spdx3"]), default="cyclonedx",
              show_default=True, help="CycloneDX 1.6 ML-BOM, or SPDX 3.0.1 JSON-LD with the AI "
              "and Dataset profiles.")
@advisories_option
@click.pass_context
def bom(ctx: click.Context, repo: Path, rev: str | None, output: Path | None, fmt: str,
        advisories: Path | None) -> None:
    """Write the AIBOM (CycloneDX 1.6 ML-BOM, or SPDX 3.0.1) of a revision."""
    if ctx.invoked_subcommand is not None:
        return
    from engine.atomic import write_atomically
    from engine.commands.bom import BomOptions, run_bom, run_spdx3

    options = BomOptions(repo=repo, advisories=advisories)
    text = run_spdx3(options, rev) if fmt == "spdx3" else run_bom(options, rev).text
    if output is not None:
        write_atomically(output, text)
    else:
        click.echo(text, nl=False)


@bom.command("diff")
@repo_option
@click.option("--format", "fmt", type=click.Choice(["text", "json", "markdown"]),
              default="text", show_default=True)
@advisories_option
@click.argument("base_rev", metavar="BASE")
@click.argument("head_rev", metavar="HEAD")
def bom_diff(repo: Path, fmt: str, advisories: Path | None, base_rev: str,
             head_rev: str) -> None:
    """List the components added, removed and changed between the AIBOMs of two revisions."""
    from engine.commands.bom import BomOptions, run_bom_diff
    from engine.report.bom_diff import RENDERERS

    diff = run_bom_diff(BomOptions(repo=repo, advisories=advisories), base_rev, head_rev)
    click.echo(RENDERERS[fmt](diff), nl=False)
