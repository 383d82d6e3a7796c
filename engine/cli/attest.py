"""`govops keygen`, `govops attest` and `govops verify`: make a signing key, sign a revision's
decision and AIBOM as receipts, and verify receipts."""

from __future__ import annotations

import sys
from pathlib import Path

import click

from engine.cli.errors import EXIT_PASS, EXIT_REFUSED, HandledCommand
from engine.cli.options import (
    advisories_option,
    engine_option,
    repo_option,
    signer_options,
    trust_root_option,
)
from engine.errors import GovopsError


@click.command(cls=HandledCommand)
@click.option("--output", "prefix", required=True, type=click.Path(path_type=Path),
              help="Write PREFIX.key (mode 0600) and PREFIX.pub.")
def keygen(prefix: Path) -> None:
    """Create an ECDSA P-256 key pair for signing receipts (encrypted with the passphrase in
    GOVOPS_KEY_PASSPHRASE when it is set)."""
    from engine.attest.keys import generate

    private, public = generate(prefix)
    click.echo(f"wrote {private} (keep it secret) and {public} (add it to trust.keys)")


@click.command(cls=HandledCommand)
@repo_option
@click.option("--rev", default=None, help="Revision to attest. Default: HEAD.")
@signer_options
@click.option("--record", is_flag=True, help="Also append a decision and an AIBOM entry to "
              "the ledger.")
@click.option("--output", required=True, type=click.Path(file_okay=False, path_type=Path),
              help="Directory for decision.json, aibom.cdx.json and their .sigstore.json receipts.")
@engine_option()
@click.option("--now", default=None, help="Evaluate as of this time (default: the clock).")
@advisories_option
def attest(repo: Path, rev: str | None, key: Path | None, keyless: bool,
           trust_config: Path | None, record: bool, output: Path, engine: str,
           now: str | None, advisories: Path | None) -> None:
    """Sign the decision and the AIBOM of a revision as in-toto attestations (Sigstore bundles)."""
    from engine.attest.signers import SignerOptions
    from engine.commands.attest import AttestOptions, run_attest

    done = run_attest(AttestOptions(repo=repo, output=output, rev=rev,
                                    signer=SignerOptions(key, keyless, trust_config),
                                    engine=engine, now=now, advisories=advisories,
                                    record=record))
    click.echo(f"commit {done.commit}: verdict {done.verdict}, decision {done.decision_id}, "
               f"AIBOM {done.serial_number}")
    for path in done.written:
        click.echo(f"wrote {path}")


@click.command(cls=HandledCommand)
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
@trust_root_option
@click.option("--at", default=None, metavar="TIME", help="Check against the signers trusted "
              "at TIME (default: now): for receipts signed under an earlier trust.")
@click.option("--replay", "replay_entry", default=None, metavar="ENTRY",
              help="Instead of receipts: evaluate the revision of decision entry ENTRY again "
              "with the policies it recorded, and require the same decision_id.")
@click.option("--pack", type=click.Path(file_okay=False, path_type=Path), default=None,
              help="Instead of receipts: verify a whole evidence pack (`audit export`) with no "
              "repository: every file covered by a signed entry's digest, every receipt, the "
              "linked entries; with its own trusted keys unless --key is given.")
@engine_option()
@click.argument("bundles", nargs=-1, type=click.Path(path_type=Path))
def verify(repo: Path, rev: str | None, artifact: Path | None, trust_config: Path | None,
           keys: tuple[Path, ...], identity: str | None, issuer: str | None,
           commit: str | None, trust_root: str | None, at: str | None,
           replay_entry: str | None, pack: Path | None, engine: str,
           bundles: tuple[Path, ...]) -> None:
    """Verify receipts against the signers of the repository's trust root (pinned out of
    band), or against the keys and identity given; or a whole evidence pack (--pack); or
    replay a recorded decision (--replay). Exit 0 when all verify, 3 when any is refused."""
    from engine.commands.verify import VerifyOptions, run_verify

    if pack is not None:
        if bundles or replay_entry:
            raise GovopsError("--pack verifies the whole pack: give no BUNDLES or --replay")
        _verify_pack(pack, keys, trust_config)
        return
    if replay_entry is not None:
        if bundles:
            raise GovopsError("--replay checks a ledger entry: give no BUNDLES with it")
        from engine.commands.replay import replay

        done = replay(repo, replay_entry, engine, trust_root, trust_config)
        click.echo(f"replayed decision entry #{done.seq}: commit {done.revision} with its "
                   f"recorded policies gives {done.replayed} ({done.verdict}), as recorded "
                   f"({done.seconds:.2f} s)")
        return
    if not bundles:
        raise GovopsError("give the receipts (BUNDLES) to verify, or --replay ENTRY")
    if (identity is None) != (issuer is None):
        raise GovopsError("--certificate-identity and --certificate-oidc-issuer go together")
    identities = ((issuer, identity),) if issuer and identity else ()
    verification = run_verify(list(bundles), VerifyOptions(
        repo=repo, rev=rev, commit=commit, artifact=artifact, trust_config=trust_config,
        keys=keys, identities=identities, trust_root=trust_root, at=at))
    outcomes = verification.outcomes
    click.echo(f"trusting {verification.trusted}")
    for outcome in outcomes:
        if outcome.verified is not None:
            click.echo(f"verified {outcome.bundle}: {outcome.verified.predicate_type} about "
                       f"{outcome.verified.commit}, signed by {outcome.verified.signer}")
        else:
            click.echo(f"REFUSED {outcome.bundle}: {outcome.reason}", err=True)
    sys.exit(EXIT_REFUSED if any(o.verified is None for o in outcomes) else EXIT_PASS)


def _verify_pack(pack: Path, keys: tuple[Path, ...], trust_config: Path | None) -> None:
    from engine.attest.trust_config import trust_root_loader
    from engine.commands.pack_verify import verify_pack

    done = verify_pack(pack, keys, trust_root_loader(trust_config))
    entry = done.entry.entry
    linked = ", ".join(f"{role} #{item.entry.seq}" for role, item in done.linked) or "none"
    click.echo(f"pack verified: entry #{entry.seq} ({entry.type}) {done.entry.hash}, linked "
               f"entries {linked}; {done.signatures} signatures; all {done.files} files "
               "covered by signed digests (README.md and the trusted keys excepted)")
    for source, fingerprint in done.keys:
        click.echo(f"trusted key {source}: {fingerprint} (compare it with the one you were "
                   "given out of band)")
