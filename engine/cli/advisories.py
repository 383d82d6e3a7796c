"""`govops advisories sync|status`: the advisory databases checks and AIBOMs match against."""

from __future__ import annotations

from pathlib import Path

import click

from engine.cli.errors import HandledGroup


@click.group("advisories", cls=HandledGroup)
def advisories() -> None:
    """Download and inspect the advisory databases (OSV's PyPI export, the PyPA advisory
    database, or the sources govops.yaml names)."""


_SOURCE = click.option("--source", "sources", multiple=True, metavar="NAME",
                       help="A source to use (osv-pypi, pypa, or one govops.yaml names); "
                       "repeatable. Default: govops.yaml's advisories.sources, else osv-pypi.")
_REPO = click.option("--repo", type=click.Path(file_okay=False, path_type=Path), default=".",
                     help="The governed repository whose govops.yaml names the sources.")


@advisories.command("sync")
@_SOURCE
@_REPO
def sync_command(sources: tuple[str, ...], repo: Path) -> None:
    """Download each source, verify it (size, the server's MD5, every zip member's CRC, every
    record), and only then replace its database; on any failure the previous one is kept."""
    from engine.clock import instant, utc_now
    from engine.commands.advisories import chosen_sources, run_sync

    def progress(line: str) -> None:
        click.echo(line, err=True)

    for synced in run_sync(chosen_sources(sources, repo), instant(utc_now()), progress):
        snap = synced.snapshot
        before = (f" (was {synced.previous.records}, fetched {synced.previous.fetched})"
                  if synced.previous else "")
        click.echo(f"{snap.source}: {snap.records} advisories{before}, fetched {snap.fetched}, "
                   f"{snap.digest}")


@advisories.command("status")
@_SOURCE
@_REPO
def status_command(sources: tuple[str, ...], repo: Path) -> None:
    """Each source's database: when it was fetched, how many advisories, its digest."""
    from engine.commands.advisories import chosen_sources, run_status

    for found in run_status(chosen_sources(sources, repo)):
        snap = found.snapshot
        if snap is None:
            click.echo(f"{found.source.name}: not synced ({found.path}); run govops advisories "
                       "sync")
        else:
            click.echo(f"{found.source.name}: {snap.records} advisories, fetched "
                       f"{snap.fetched} from {snap.url}, {snap.digest} ({found.path})")
