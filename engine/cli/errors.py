"""The one place where a GovopsError becomes what a person sees: one line on stderr,
`govops: error: <file:line: what>`, and the error's exit code (0 pass, 1 policy failure,
2 usage or input error, 3 verification failure).

Every govops command and group is built on these classes, so no command catches errors itself
and none can forget to (pre-commit's `error_handler`, sigstore's `log_and_exit`).
"""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING, Any, NoReturn

import click

if TYPE_CHECKING:
    from engine.errors import GovopsError

EXIT_PASS, EXIT_FAIL, EXIT_INPUT, EXIT_REFUSED = 0, 1, 2, 3


def fail(exc: GovopsError) -> NoReturn:
    """One line on stderr (one per input error when there are several) and the error's
    exit code."""
    for line in str(exc).splitlines() or [""]:
        click.echo(f"govops: error: {line}", err=True)
    sys.exit(exc.exit_code)


class HandledCommand(click.Command):
    """A command whose GovopsErrors end in `fail`."""

    def invoke(self, ctx: click.Context) -> Any:
        from engine.errors import GovopsError  # on use: importing a command loads no engine

        try:
            return super().invoke(ctx)
        except GovopsError as exc:
            fail(exc)


class HandledGroup(click.Group):
    """A group whose own callback and every command and group made under it end errors in
    `fail`."""

    command_class = HandledCommand
    group_class = type  # subgroups are HandledGroups too

    def invoke(self, ctx: click.Context) -> Any:
        from engine.errors import GovopsError

        try:
            return super().invoke(ctx)
        except GovopsError as exc:
            fail(exc)
