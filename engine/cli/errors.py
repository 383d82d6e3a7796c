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
    exit code. Control characters a message quotes from data are shown as escapes: they
    must not add a line nor reach the terminal."""
    from engine.errors import InputErrors, one_line

    lines = ([str(e) for e in exc.errors] if isinstance(exc, InputErrors)
             else [one_line(str(exc))])
    for line in lines:
        click.echo(f"govops: error: {line}", err=True)
    sys.exit(exc.exit_code)


class OneLineUsageError(click.UsageError):
    """click's usage error shown the govops way: `govops: error: <command>: <what> (see
    '<command> --help')`, one line like every other error, not click's four."""

    def __init__(self, original: click.UsageError, ctx: click.Context | None) -> None:
        super().__init__(original.format_message(), original.ctx or ctx)

    def show(self, file: Any = None) -> None:
        from engine.errors import one_line

        path = self.ctx.command_path if self.ctx is not None else "govops"
        click.echo(f"govops: error: {path}: {one_line(self.format_message())} "
                   f"(see '{path} --help')", err=True)


def _one_line(exc: click.UsageError, ctx: click.Context) -> click.UsageError:
    """`exc` as a OneLineUsageError; `govops` alone keeps click's help (NoArgsIsHelpError)."""
    if isinstance(exc, OneLineUsageError | click.exceptions.NoArgsIsHelpError):
        return exc
    return OneLineUsageError(exc, ctx)


class HandledCommand(click.Command):
    """A command whose GovopsErrors end in `fail` and whose usage errors are one line."""

    def parse_args(self, ctx: click.Context, args: list[str]) -> list[str]:
        try:
            return super().parse_args(ctx, args)
        except click.UsageError as exc:
            raise _one_line(exc, ctx) from None

    def invoke(self, ctx: click.Context) -> Any:
        from engine.errors import GovopsError  # on use: importing a command loads no engine

        try:
            return super().invoke(ctx)
        except GovopsError as exc:
            fail(exc)
        except click.UsageError as exc:
            raise _one_line(exc, ctx) from None


class HandledGroup(click.Group):
    """A group whose own callback and every command and group made under it end errors in
    `fail`."""

    command_class = HandledCommand
    group_class = type  # subgroups are HandledGroups too

    def parse_args(self, ctx: click.Context, args: list[str]) -> list[str]:
        try:
            return super().parse_args(ctx, args)
        except click.UsageError as exc:
            raise _one_line(exc, ctx) from None

    def invoke(self, ctx: click.Context) -> Any:
        from engine.errors import GovopsError

        try:
            return super().invoke(ctx)
        except GovopsError as exc:
            fail(exc)
        except click.UsageError as exc:
            raise _one_line(exc, ctx) from None
