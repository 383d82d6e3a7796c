"""The `govops` command line: parse options, call one stage function, print, exit.

Thin on purpose: every command's work lives in its stage. Errors become one line on stderr and
an exit code: 0 pass, 1 policy failure, 2 usage or input error, 3 verification failure.
"""

from __future__ import annotations

import gc
import sys
from pathlib import Path

import click

from engine.cli_options import F, fail, mark_short_lived, repo_option, signer_options
from engine.errors import GovopsError
from engine.report import FORMAT_NAMES

EXIT_PASS, EXIT_FAIL, EXIT_INPUT, EXIT_REFUSED = 0, 1, 2, 3


def advisories_option(func: F) -> F:
    return click.option("--advisories", type=click.Path(file_okay=False, path_type=Path),
                        default=None, help="A directory of OSV JSON records to match locked "
                        "packages against, besides the advisories shipped with the policies."
                        )(func)




@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="govops")
def main() -> None:
    """Policy-as-code governance for AI infrastructure kept in git."""


def run() -> None:
    """The `govops` console script: `main` in a process that ends with the command.

    Before exiting, every object is frozen out of the cyclic collector: interpreter shutdown
    otherwise runs one last full collection over everything a command built (0.35 s after a
    500-object plan), only to free memory the exit frees anyway."""
    mark_short_lived()
    try:
        main()
    finally:
        gc.freeze()


@main.command()
@repo_option
@click.option("--rev", default=None, help="Revision to evaluate (branch, tag, sha, HEAD~2). "
              "Default: HEAD.")
@click.option("--base", default=None, help="Compare with this revision: report changes, "
              "enable CHG-001, and mark every result new or existing (failing at the base too).")
@click.option("--new-only", is_flag=True, help="With --base: report only the results the change "
              "introduces; the verdict and exit code are about those.")
@click.option("--staged", is_flag=True, help="Evaluate the index (what `git commit` would "
              "record) against HEAD.")
@click.option("--engine", type=click.Choice(["auto", "opa", "regopy"]), default="auto",
              show_default=True, help="Rego backend; auto prefers opa.")
@click.option("--format", "fmt", type=click.Choice(FORMAT_NAMES), default="text",
              show_default=True, help="text, json, markdown, sarif (2.1.0), junit (XML), or "
              "github (workflow annotations).")
@click.option("--output", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="Write the report to FILE instead of stdout.")
@click.option("--now", default=None, help="Evaluate as of this time (RFC 3339 or YYYY-MM-DD); "
              "default: the current time. Waiver expiry depends on it.")
@advisories_option
@click.option("--record", is_flag=True, help="Sign the decision (--key or --keyless) and "
              "append it to the ledger.")
@signer_options
def check(repo: Path, rev: str | None, base: str | None, new_only: bool, staged: bool,
          engine: str, fmt: str,
          output: Path | None, now: str | None, advisories: Path | None, record: bool,
          key: Path | None, keyless: bool, trust_config: Path | None) -> None:
    """Evaluate a revision of the governed repo against the policies."""
    from engine.check import CheckOptions, run_check
    from engine.report import renderer
    from engine.report.write import write_atomically

    try:
        signing = None
        if record or key is not None or keyless:
            from engine.receipts import SignerOptions, make_signer

            if not record:
                raise GovopsError("--key and --keyless sign what --record appends: add --record")
            if new_only:
                raise GovopsError("--record signs the whole decision: drop --new-only")
            signing = make_signer(SignerOptions(key, keyless, trust_config))
        checked = run_check(CheckOptions(repo=repo, rev=rev, base=base, staged=staged,
                                         engine=engine, now=now, advisories=advisories,
                                         new_only=new_only))
        decision = checked.decision
        if signing is not None:
            from engine.receipts import record_decision

            entry = record_decision(repo, checked, signing)
            click.echo(f"recorded ledger entry #{entry.entry.seq} ({entry.hash})", err=True)
        color = output is None and sys.stdout.isatty()
        text = renderer(fmt)(decision, checked.metadata, color)
        if output is not None:
            write_atomically(output, text)
        else:
            click.echo(text, nl=False)
    except GovopsError as exc:
        fail(exc)
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
        fail(exc)


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
        fail(exc)
    click.echo(RENDERERS[fmt](diff), nl=False)


@main.command()
@click.option("--output", "prefix", required=True, type=click.Path(path_type=Path),
              help="Write PREFIX.key (mode 0600) and PREFIX.pub.")
def keygen(prefix: Path) -> None:
    """Create an ECDSA P-256 key pair for signing receipts (encrypted with the passphrase in
    GOVOPS_KEY_PASSPHRASE when it is set)."""
    from engine.attest.keys import generate

    try:
        private, public = generate(prefix)
    except GovopsError as exc:
        fail(exc)
    click.echo(f"wrote {private} (keep it secret) and {public} (add it to trust.keys)")


@main.command()
@repo_option
@click.option("--rev", default=None, help="Revision to attest. Default: HEAD.")
@signer_options
@click.option("--record", is_flag=True, help="Also append a decision and an AIBOM entry to "
              "the ledger.")
@click.option("--output", required=True, type=click.Path(file_okay=False, path_type=Path),
              help="Directory for decision.json, aibom.cdx.json and their .sigstore.json receipts.")
@click.option("--engine", type=click.Choice(["auto", "opa", "regopy"]), default="auto",
              show_default=True)
@click.option("--now", default=None, help="Evaluate as of this time (default: the clock).")
@advisories_option
def attest(repo: Path, rev: str | None, key: Path | None, keyless: bool,
           trust_config: Path | None, record: bool, output: Path, engine: str,
           now: str | None, advisories: Path | None) -> None:
    """Sign the decision and the AIBOM of a revision as in-toto attestations (Sigstore bundles)."""
    from engine.receipts import AttestOptions, SignerOptions, run_attest

    try:
        done = run_attest(AttestOptions(repo=repo, output=output, rev=rev,
                                        signer=SignerOptions(key, keyless, trust_config),
                                        engine=engine, now=now, advisories=advisories,
                                        record=record))
    except GovopsError as exc:
        fail(exc)
    click.echo(f"commit {done.commit}: verdict {done.verdict}, decision {done.decision_id}, "
               f"AIBOM {done.serial_number}")
    for path in done.written:
        click.echo(f"wrote {path}")


@main.command()
@repo_option
@click.option("--rev", default=None, help="The revision the receipts must be about. "
              "Default: HEAD.")
@click.option("--artifact", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="The file the receipt covers (default: the file named like it, beside it).")
@click.option("--trust-config", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="Sigstore ClientTrustConfig for certificate bundles (default: public "
              "Sigstore, offline).")
@click.option("--key", "keys", multiple=True, type=click.Path(dir_okay=False, path_type=Path),
              help="Trust this public key instead of the repo's trust section (repeatable).")
@click.option("--certificate-identity", "identity", default=None,
              help="Trust certificates for this subject (exact, or a regex starting with ^) "
              "instead of the repo's trust section; needs --certificate-oidc-issuer.")
@click.option("--certificate-oidc-issuer", "issuer", default=None)
@click.option("--commit", default=None, help="The commit the receipts must be about (full "
              "sha); with --key or --certificate-identity no repository is needed.")
@click.argument("bundles", nargs=-1, required=True, type=click.Path(path_type=Path))
def verify(repo: Path, rev: str | None, artifact: Path | None, trust_config: Path | None,
           keys: tuple[Path, ...], identity: str | None, issuer: str | None,
           commit: str | None, bundles: tuple[Path, ...]) -> None:
    """Verify receipts against the trust section of the repo's govops.yaml (at HEAD), or
    against the keys and identity given. Exit 0 when all verify, 3 when any is refused."""
    from engine.receipts import VerifyOptions, run_verify

    try:
        if (identity is None) != (issuer is None):
            raise GovopsError("--certificate-identity and --certificate-oidc-issuer go together")
        identities = ((issuer, identity),) if issuer and identity else ()
        outcomes = run_verify(list(bundles), VerifyOptions(
            repo=repo, rev=rev, commit=commit, artifact=artifact, trust_config=trust_config,
            keys=keys, identities=identities))
    except GovopsError as exc:
        fail(exc)
    for outcome in outcomes:
        if outcome.verified is not None:
            click.echo(f"verified {outcome.bundle}: {outcome.verified.predicate_type} about "
                       f"{outcome.verified.commit}, signed by {outcome.verified.signer}")
        else:
            click.echo(f"REFUSED {outcome.bundle}: {outcome.reason}", err=True)
    sys.exit(EXIT_REFUSED if any(o.verified is None for o in outcomes) else EXIT_PASS)


@click.command("verify")
@repo_option
@click.option("--from", "from_entry", default=None, metavar="ENTRY",
              help="Check signatures from this entry on (seq or hash prefix); the chain is "
              "always checked whole.")
@click.option("--trust-config", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="Sigstore ClientTrustConfig for keyless receipts (default: public Sigstore).")
@click.option("--format", "fmt", type=click.Choice(["text", "json"]), default="text",
              show_default=True)
def audit_verify(repo: Path, from_entry: str | None, trust_config: Path | None,
                 fmt: str) -> None:
    """Verify the ledger: the chain, every signature against the trust policy, every apply
    resting on a passing decision and an AIBOM, and the last verified tip still in it.
    Exit 0 when it holds, 3 naming the first bad entry."""
    import json

    from engine.audit import run_audit_verify

    try:
        report = run_audit_verify(repo, from_entry, trust_config)
    except GovopsError as exc:
        fail(exc)
    tip = report.tip
    if fmt == "json":
        click.echo(json.dumps({
            "verified": report.problem is None, "entries": report.verified,
            "signatures": report.signatures,
            "tip": {"seq": tip.entry.seq, "hash": tip.hash} if tip else None,
            "problem": {"seq": report.problem.seq, "commit": report.problem.commit,
                        "reason": report.problem.reason} if report.problem else None,
        }, indent=2, sort_keys=True))
    elif report.problem is None:
        where = f"; tip #{tip.entry.seq} {tip.hash}" if tip else " (the ledger is empty)"
        noun = "entry" if report.verified == 1 else "entries"
        click.echo(f"ledger verified: {report.verified} {noun}, {report.signatures} "
                   f"signatures{where}")
    else:
        click.echo(f"ledger REFUSED at {report.problem} "
                   f"({report.verified} entries before it verified)", err=True)
    sys.exit(EXIT_PASS if report.problem is None else EXIT_REFUSED)


@click.command("export")
@repo_option
@click.option("--output", required=True, type=click.Path(file_okay=False, path_type=Path),
              help="A new (or empty) directory for the evidence pack.")
@click.argument("entry")
def audit_export(repo: Path, output: Path, entry: str) -> None:
    """Write an evidence pack for ENTRY (seq or hash prefix): the entry, its receipts, what
    they cover, the trusted keys or identities, and a README saying how to verify it."""
    from engine.audit import run_export

    try:
        pack = run_export(repo, entry, output)
    except GovopsError as exc:
        fail(exc)
    click.echo(f"exported entry #{pack.entry.entry.seq} ({pack.entry.hash}) to {pack.directory}: "
               f"{len(pack.files)} files; see README.md there")


@main.group()
def policy() -> None:
    """Work with Rego policies."""


@policy.command("test")
@click.option("--engine", type=click.Choice(["auto", "opa", "regopy"]), default="auto",
              show_default=True)
@click.option("--verbose", "-v", is_flag=True, help="Print every test, not only failures.")
@click.option("--repo", type=click.Path(file_okay=False, path_type=Path), default=None,
              help="Test the governed repo's own policies (policies.paths of its govops.yaml), "
              "as staged.")
@click.argument("paths", nargs=-1, type=click.Path(path_type=Path))
def policy_test(engine: str, verbose: bool, repo: Path | None, paths: tuple[Path, ...]) -> None:
    """Run the Rego tests (test_* rules) of the default library, of PATHS, or of a governed
    repo's own policies (--repo)."""
    from engine.policy.backends import select_backend
    from engine.policy.testing import repo_policy_modules, run_tests

    try:
        if repo is not None and paths:
            raise GovopsError("give PATHS or --repo, not both")
        modules = repo_policy_modules(repo) if repo is not None else None
        if modules == []:
            click.echo(f"{repo}: govops.yaml declares no policies (policies.paths): "
                       "nothing to test")
            sys.exit(EXIT_PASS)
        report = run_tests(select_backend(engine), paths, modules)
    except GovopsError as exc:
        fail(exc)
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


def _register_audit() -> None:
    """`govops audit`: the queries live in engine/audit_cli.py, verify and export here."""
    from engine.audit_cli import audit

    audit.add_command(audit_verify)
    audit.add_command(audit_export)
    main.add_command(audit)


_register_audit()


def _register_deploy() -> None:
    """`govops plan`, `apply` and `rollback` live in engine/deploy_cli.py (click only at
    import; Pulumi on use)."""
    from engine.deploy_cli import apply, plan, rollback

    main.add_command(plan)
    main.add_command(apply)
    main.add_command(rollback)


_register_deploy()


def _register_pr() -> None:
    """`govops pr comment` lives in engine/pr_cli.py."""
    from engine.pr_cli import pr

    main.add_command(pr)


_register_pr()
