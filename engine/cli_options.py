"""Options and error reporting shared by every `govops` command module (cli.py, audit_cli.py,
deploy_cli.py), so `--repo`, `--format`, the signer options and the one-line error read the
same everywhere. Imports click only: every CLI start-up, the pre-commit hook's included, loads it.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any, NoReturn, TypeVar

import click

if TYPE_CHECKING:
    from engine.errors import GovopsError

F = TypeVar("F", bound=Callable[..., Any])

_short_lived = False


def mark_short_lived() -> None:
    """Called by the console script: this process runs one command and exits."""
    global _short_lived
    _short_lived = True


def short_lived() -> bool:
    """Whether process-wide shortcuts (no cyclic GC) are safe: never under a test runner or an
    embedding program, which live on after the command."""
    return _short_lived


def fail(exc: GovopsError) -> NoReturn:
    """One line on stderr and the error's exit code."""
    click.echo(f"govops: error: {exc}", err=True)
    sys.exit(exc.exit_code)


def repo_option(func: F) -> F:
    return click.option("--repo", type=click.Path(file_okay=False, path_type=Path),
                        default=Path("."), show_default=True,
                        help="The governed repository.")(func)


def format_option(func: F) -> F:
    return click.option("--format", "fmt", type=click.Choice(["text", "json"]),
                        default="text", show_default=True)(func)


def signer_options(func: F) -> F:
    """--key, --keyless and --trust-config: who signs what the command records."""
    func = click.option("--trust-config", type=click.Path(dir_okay=False, path_type=Path),
                        default=None, help="Sigstore ClientTrustConfig for a private instance "
                        "(default: public Sigstore).")(func)
    func = click.option("--keyless", is_flag=True, help="Sign with Sigstore: an OIDC identity "
                        "from SIGSTORE_ID_TOKEN or the CI's ambient credentials, a Fulcio "
                        "certificate, Rekor.")(func)
    return click.option("--key", type=click.Path(dir_okay=False, path_type=Path), default=None,
                        help="Sign with this private key (see govops keygen).")(func)
