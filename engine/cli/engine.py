"""`govops engine status|stop`: the resident OPA servers `govops check` keeps (one per policy
bundle, engine.policy.backends.resident)."""

from __future__ import annotations

import click

from engine.cli.errors import HandledGroup


@click.group("engine", cls=HandledGroup)
def engine() -> None:
    """The resident OPA servers and govops daemons that answer `govops check`."""


@engine.command("status")
def status() -> None:
    """List the resident OPA servers of this user, with their policy bundle and idle time."""
    from engine.cli.daemon_client import running
    from engine.policy.backends.resident import state_root, statuses

    for folder, pid, served in running():
        click.echo(f"govops daemon {folder.name}  running: pid {pid}, {served} checks served "
                   f"({folder})")
    found = statuses()
    if not found:
        click.echo(f"no resident OPA server ({state_root()})")
        return
    for server in found:
        record = server.record
        if record is None:
            continue
        state = "running" if server.running else "not running (restarted on next check)"
        idle = "" if server.idle_seconds is None else f", idle {server.idle_seconds:.0f} s"
        digest = record.bundle.partition("+")[0]
        click.echo(f"{digest}  {state}: OPA {record.version} pid {record.opa} on "
                   f"127.0.0.1:{record.port} since {record.started}{idle} ({record.binary})")


@engine.command("stop")
def stop() -> None:
    """Stop every resident OPA server of this user (the next check starts what it needs)."""
    from engine.cli.daemon_client import stop_all as stop_daemons
    from engine.policy.backends.resident import stop_all

    daemons = stop_daemons()
    stopped = stop_all()
    click.echo(f"stopped {len(stopped)} resident OPA server{'s' if len(stopped) != 1 else ''}"
               f" and {daemons} govops daemon{'s' if daemons != 1 else ''}")
