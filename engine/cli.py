"""The `govops` command line: parse options, call one stage function, print, exit.

Thin on purpose: every command's work lives in its stage. Errors become one line on stderr and
an exit code: 0 pass, 1 policy failure, 2 usage or input error, 3 verification failure.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import click

from engine.errors import GovopsError

F = TypeVar("F", bound=Callable[..., Any])

EXIT_PASS, EXIT_FAIL, EXIT_INPUT = 0, 1, 2


def repo_option(func: F) -> F:
    return click.option("--repo", type=click.Path(file_okay=False, path_type=Path),
                        default=Path("."), show_default=True,
                        help="The governed repository.")(func)


def advisories_option(func: F) -> F:
    return click.option("--advisories", type=click.Path(file_okay=False, path_type=Path),
                        default=None, help="A directory of OSV JSON records to match locked "
                        "packages against, besides the advisories shipped with the policies."
                        )(func)


def _fail(exc: GovopsError) -> None:
    click.echo(f"govops: error: {exc}", err=True)
    sys.exit(exc.exit_code)


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="govops")
def main() -> None:
    """Policy-as-code governance for AI infrastructure kept in git."""


@main.command()
@repo_option
@click.option("--rev", default=None, help="Revision to evaluate (branch, tag, sha, HEAD~2). "
              "Default: HEAD.")
@click.option("--base", default=None, help="Compare with this revision: report changes, "
              "enable CHG-001.")
@click.option("--staged", is_flag=True, help="Evaluate the index (what `git commit` would "
              "record) against HEAD.")
@click.option("--engine", type=click.Choice(["auto", "opa", "regopy"]), default="auto",
              show_default=True, help="Rego backend; auto prefers opa.")
@click.option("--format", "fmt", type=click.Choice(["text", "json"]), default="text",
              show_default=True)
@click.option("--output", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="Write the report to FILE instead of stdout.")
@click.option("--now", default=None, help="Evaluate as of this time (RFC 3339 or YYYY-MM-DD); "
              "default: the current time. Waiver expiry depends on it.")
@advisories_option
def check(repo: Path, rev: str | None, base: str | None, staged: bool, engine: str, fmt: str,
          output: Path | None, now: str | None, advisories: Path | None) -> None:
    """Evaluate a revision of the governed repo against the policies."""
    from engine.check import CheckOptions, run_check
    from engine.report import renderer
    from engine.report.write import write_atomically

    try:
        checked = run_check(CheckOptions(repo=repo, rev=rev, base=base, staged=staged,
                                         engine=engine, now=now, advisories=advisories))
        decision = checked.decision
        color = output is None and sys.stdout.isatty()
        text = renderer(fmt)(decision, checked.metadata, color)
        if output is not None:
            write_atomically(output, text)
        else:
            click.echo(text, nl=False)
    except GovopsError as exc:
        _fail(exc)
    sys.exit(EXIT_FAIL if decision.verdict == "fail" else EXIT_PASS)


@main.group(invoke_without_command=True)
@repo_option
@click.option("--rev", default=None, help="Revision to describe. Default: HEAD.")
@click.option("--output", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="Write the AIBOM to FILE (written only once it validates); default stdout.")
@advisories_option
@click.pass_context
def bom(ctx: click.Context, repo: Path, rev: str | None, output: Path | None,
        advisories: Path | None) -> None:
    """Write the AIBOM (CycloneDX 1.6 ML-BOM) of a revision."""
    if ctx.invoked_subcommand is not None:
        return
    from engine.aibom import BomOptions, run_bom
    from engine.report.write import write_atomically

    try:
        aibom = run_bom(BomOptions(repo=repo, advisories=advisories), rev)
        if output is not None:
            write_atomically(output, aibom.text)
        else:
            click.echo(aibom.text, nl=False)
    except GovopsError as exc:
        _fail(exc)


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
    from engine.aibom import BomOptions, run_bom_diff
    from engine.report.bom_diff import RENDERERS

    try:
        diff = run_bom_diff(BomOptions(repo=repo, advisories=advisories), base_rev, head_rev)
    except GovopsError as exc:
        _fail(exc)
    click.echo(RENDERERS[fmt](diff), nl=False)


@main.group()
def policy() -> None:
    """Work with Rego policies."""


@policy.command("test")
@click.option("--engine", type=click.Choice(["auto", "opa", "regopy"]), default="auto",
              show_default=True)
@click.option("--verbose", "-v", is_flag=True, help="Print every test, not only failures.")
@click.argument("paths", nargs=-1, type=click.Path(path_type=Path))
def policy_test(engine: str, verbose: bool, paths: tuple[Path, ...]) -> None:
    """Run the Rego tests (test_* rules) of the default library, or of PATHS."""
    from engine.policy.backends import select_backend
    from engine.policy.testing import run_tests

    try:
        report = run_tests(select_backend(engine), paths)
    except GovopsError as exc:
        _fail(exc)
    for result in report.results:
        if verbose or result.status != "pass":
            case = result.case
            line = (f"{result.status.upper():5} {case.package}.{case.rule} "
                    f"({case.path}:{case.line}, {result.seconds * 1000:.1f} ms)")
            click.echo(line + (f"\n      {result.detail}" if result.detail else ""))
    if report.coverage is not None:
        for path, percent in report.coverage.items():
            click.echo(f"coverage {percent:5.1f}%  {path}")
    else:
        click.echo(f"coverage: not measured by the {report.engine} backend")
    click.echo(f"{report.engine}: {report.passed} passed, {report.failed} failed")
    sys.exit(EXIT_FAIL if report.failed or not report.results else EXIT_PASS)
