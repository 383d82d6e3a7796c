"""`govops policy test`: run Rego tests like `opa test`, with coverage where the backend
measures it."""

from __future__ import annotations

import json
import re
import sys
from pathlib import Path
from typing import TYPE_CHECKING

import click

from engine.cli.errors import EXIT_FAIL, EXIT_PASS, HandledGroup
from engine.cli.options import engine_option, format_option

if TYPE_CHECKING:
    from engine.policy.testing import TestReport


@click.group(cls=HandledGroup)
def policy() -> None:
    """Work with Rego policies."""


@policy.command("test")
@engine_option()
@format_option
@click.option("--verbose", "-v", is_flag=True, help="Print every test, not only failures.")
@click.option("--exit-zero-on-skipped", "-z", "skipped_ok", is_flag=True,
              help="Skipped tests (todo_test_*) do not fail the run, as opa test -z.")
@click.option("--repo", type=click.Path(file_okay=False, path_type=Path), default=None,
              help="Test the governed repo's own policies (policies.paths of its govops.yaml), "
              "as staged.")
@click.option("--library", is_flag=True, help="Test the shipped policy library, even inside "
              "a governed repository.")
@click.option("--run", "-r", "run", metavar="REGEX", default=None,
              help="Run only the tests whose name (data.<package>.<test>) matches REGEX, as "
              "opa test --run.")
@click.argument("paths", nargs=-1, type=click.Path(path_type=Path))
def policy_test(engine: str, fmt: str, verbose: bool, skipped_ok: bool, repo: Path | None,
                library: bool, run: str | None, paths: tuple[Path, ...]) -> None:
    """Run the Rego tests (test_* rules) of PATHS, of a governed repo's own policies (--repo;
    the default inside a governed repository), or of the shipped library (the default
    elsewhere, or --library), as opa test does: every test_* rule of every module, todo_test_*
    ones skipped (which fails the run unless -z), PATHS' JSON and YAML files as data, Rego v0
    through OPA's converter. --verbose times each test on its own; --format json gives each
    result in the shape of opa test --format json."""
    from engine.commands.policy_test import governed_here, run_policy_tests

    if library and (repo is not None or paths):
        raise click.UsageError("--library tests the shipped library: drop --repo and PATHS")
    if repo is None and not paths and not library:
        repo = governed_here(Path.cwd())
        if repo is not None:
            click.echo(f"testing the policies of the governed repository {repo} "
                       "(--library for the shipped library's tests)", err=True)
    only = None
    if run is not None:
        try:
            only = re.compile(run)
        except re.error as exc:
            raise click.BadParameter(f"{run!r} is not a regular expression: {exc}",
                                     param_hint="--run") from None
    report = run_policy_tests(engine, paths, repo, timed=verbose or fmt == "json", only=only)
    if report is None:
        if fmt == "json":
            from engine.policy.testing import TestReport

            click.echo(json.dumps(TestReport(engine, (), None).as_json(), indent=2,
                                  sort_keys=True))
        else:
            click.echo(f"{repo}: govops.yaml declares no policies (policies.paths): "
                       "nothing to test")
        sys.exit(EXIT_PASS)
    if report.v0:
        click.echo(f"read as Rego v0, converted to v1 by OPA (opa fmt --v0-v1): "
                   f"{', '.join(report.v0)}", err=True)
    if fmt == "json":
        click.echo(json.dumps(report.as_json(), indent=2, sort_keys=True))
    else:
        _print_text(report, verbose)
    failed = report.failed or not report.results or (report.skipped and not skipped_ok)
    sys.exit(EXIT_FAIL if failed else EXIT_PASS)


def _print_text(report: TestReport, verbose: bool) -> None:
    """Failures, errors and skips (every test with --verbose), each with its detail and what
    it printed, as opa test shows them; coverage; the counts."""
    for result in report.results:
        if verbose or result.status != "pass":
            case = result.case
            took = f", {result.seconds * 1000:.1f} ms" if result.seconds is not None else ""
            status = "SKIP" if result.status == "skip" else result.status.upper()
            line = (f"{status:5} {case.package}.{case.shown} "
                    f"({case.path}:{case.line}{took})")
            click.echo(line + (f"\n      {result.detail}" if result.detail else ""))
            for printed in result.output.splitlines():
                click.echo(f"      | {printed}")
    if report.coverage is not None:
        for path, percent in report.coverage.items():
            click.echo(f"coverage {percent:5.1f}%  {path}")
    else:
        click.echo(f"coverage: not measured by the {report.engine} backend")
    skipped = f", {report.skipped} skipped" if report.skipped else ""
    click.echo(f"{report.engine}: {report.passed} passed, {report.failed} failed{skipped}")
