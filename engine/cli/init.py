"""`govops init`: make the current (or a named) folder a governed repository."""

from __future__ import annotations

import sys
from pathlib import Path

import click

from engine.cli.errors import HandledCommand


@click.command("init", cls=HandledCommand)
@click.argument("folder", type=click.Path(file_okay=False, path_type=Path), default=".")
@click.option("--team", default=None, help="Owner of the examples (default: ml-platform).")
@click.option("--gpu-type", default=None, help="GPU type of the example stack "
              "(default: nvidia-a100-80gb).")
@click.option("--cluster", default=None, help="Cluster of the example stack "
              "(default: gpu-cluster-1).")
@click.option("--no-input", is_flag=True, help="Never ask (the default when not on a terminal).")
def init(folder: Path, team: str | None, gpu_type: str | None, cluster: str | None,
         no_input: bool) -> None:
    """Write govops.yaml, an example of each kind, a policy with its test, the pre-commit
    configuration and the JSON Schemas; `govops check --staged` passes on them at once.
    Asks for what it is not given when run on a terminal."""
    from engine.commands.init import InitOptions, problem, run_init

    defaults = InitOptions(folder)
    ask = not no_input and sys.stdin.isatty()

    def value(given: str | None, option: str, prompt: str, default: str) -> str:
        if given is not None or not ask:
            return given if given is not None else default

        def valid(text: str) -> str:
            why = problem(option, text.strip())
            if why is not None:
                raise click.BadParameter(why)  # click says why and asks again
            return text.strip()

        return str(click.prompt(prompt, default=default, value_proc=valid))

    options = InitOptions(
        folder,
        team=value(team, "team", "Team that owns the models", defaults.team),
        gpu_type=value(gpu_type, "gpu-type", "GPU type of your cluster", defaults.gpu_type),
        cluster=value(cluster, "cluster", "Cluster name", defaults.cluster))
    done = run_init(options)
    if done.created_repository:
        click.echo(f"initialised a git repository in {folder}")
    click.echo(f"wrote and staged {len(done.written)} files in {folder}:")
    for path in done.written:
        if not path.startswith(".govops/"):
            click.echo(f"  {path}")
    click.echo("  .govops/schemas/ (JSON Schemas your editor reads through the "
               "yaml-language-server comments)")
    click.echo("next: govops check --staged; git commit -m 'govops'; pre-commit install")
