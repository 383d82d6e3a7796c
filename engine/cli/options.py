"""Options shared by every `govops` command module, so `--repo`, `--format`, `--engine`, the
signer options and the rest read the same everywhere. Imports click only: every CLI start-up,
the pre-commit hook's included, loads it.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import click

from engine.policy.engines import ENGINES

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


def repo_option(func: F) -> F:
    return click.option("--repo", type=click.Path(file_okay=False, path_type=Path),
                        default=Path("."), show_default=True,
                        help="The governed repository.")(func)


def format_option(func: F) -> F:
    return click.option("--format", "fmt", type=click.Choice(["text", "json"]),
                        default="text", show_default=True)(func)


def engine_option(help: str | None = None) -> Callable[[F], F]:
    """--engine: the Rego backend."""
    return click.option("--engine", type=click.Choice(ENGINES), default="auto",
                        show_default=True, help=help)


def advisories_option(func: F) -> F:
    return click.option("--advisories", type=click.Path(file_okay=False, path_type=Path),
                        default=None, help="A directory of OSV records (JSON, or YAML as in "
                        "the PyPA advisory database; subfolders too) to match locked packages "
                        "against, besides the advisories shipped with the policies. Withdrawn "
                        "records are ignored; records sharing an alias count as one.")(func)


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


def trust_root_option(func: F) -> F:
    """--trust-root: the first trust root, pinned out of band (engine.trust.pin)."""
    return click.option("--trust-root", default=None, metavar="FINGERPRINT|FILE",
                        help="The first trust root to verify from: sha256:<fingerprint> or its "
                        "root.json (default: GOVOPS_TRUST_ROOT, else this machine's pin)."
                        )(func)


def backend_option(func: F) -> F:
    return click.option("--backend-url", default=None, help="Pulumi state backend. Default: "
                        "file://<repo>/.git/govops/pulumi (passphrase from "
                        "PULUMI_CONFIG_PASSPHRASE, else the local default).")(func)
