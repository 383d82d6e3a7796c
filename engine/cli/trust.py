"""`govops trust`: create, change and read the trust root (who may sign ledger entries and
receipts, who may approve waivers), kept on `refs/govops/trust` as threshold-signed TUF
metadata and verified from a first root pinned out of band."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from engine.cli.errors import HandledGroup
from engine.cli.options import F, format_option, repo_option
from engine.cli.options import trust_root_option as _trust_root_option

if TYPE_CHECKING:
    from engine.commands.trust import KeyRef, Signing, TrustChange

ROLE_NAMES = ("signers", "approvers")


def _signing_options(func: F) -> F:
    func = click.option("--proposal", type=click.Path(dir_okay=False, path_type=Path),
                        default=None, help="When the signatures given fall short of the "
                        "threshold, write the proposal here for the other key holders "
                        "(govops trust sign FILE).")(func)
    return click.option("--sign-with", "sign_with", multiple=True, required=False,
                        type=click.Path(dir_okay=False, path_type=Path),
                        help="A root private key to sign the change with (repeatable).")(func)


def _key_ref(key: Path | None, issuer: str | None, subject: str | None) -> KeyRef:
    from engine.commands.trust import KeyRef
    from engine.errors import GovopsError

    if (key is None) == (issuer is None and subject is None):
        raise GovopsError("name one key (--key FILE) or one identity (--issuer and --subject)")
    return KeyRef(key, issuer, subject)


def _identities(values: tuple[str, ...]) -> list[KeyRef]:
    from engine.commands.trust import KeyRef
    from engine.errors import GovopsError

    refs = []
    for value in values:
        issuer, sep, subject = value.partition(" ")
        if not sep or not issuer or not subject.strip():
            raise GovopsError(f"identity {value!r} is not 'ISSUER SUBJECT' (one space between)")
        refs.append(KeyRef(None, issuer, subject.strip()))
    return refs


def _report(done: TrustChange) -> None:
    if done.published is None:
        click.echo(f"proposed: {done.summary}\nnot yet published: {done.missing}\n"
                   f"wrote {done.proposal}: the other root key holders run "
                   f"`govops trust sign {done.proposal} --sign-with KEY`")
        return
    version = done.published
    click.echo(f"published trust version #{version.seq} ({version.commit[:12]}): {done.summary}")
    if done.pinned_at is not None:
        click.echo(f"root fingerprint {done.pin}\npinned on this machine in {done.pinned_at}; "
                   "give the fingerprint to every verifier out of band (GOVOPS_TRUST_ROOT)")


def _signing(repo: Path, sign_with: tuple[Path, ...], proposal: Path | None,
             trust_root: str | None) -> Signing:
    from engine.commands.trust import Signing

    return Signing(repo, sign_with, proposal, trust_root)


@click.group(cls=HandledGroup)
def trust() -> None:
    """Create, change and read the trust root (refs/govops/trust)."""


@trust.command("init")
@repo_option
@click.option("--root-key", "root_keys", multiple=True, required=True,
              type=click.Path(dir_okay=False, path_type=Path), help="A root public key "
              "(repeatable): the keys that may change the trust.")
@click.option("--root-threshold", type=int, default=1, show_default=True)
@click.option("--signer-key", "signer_keys", multiple=True,
              type=click.Path(dir_okay=False, path_type=Path),
              help="A public key that may sign ledger entries and receipts (repeatable).")
@click.option("--signer-identity", "signer_identities", multiple=True,
              metavar="'ISSUER SUBJECT'", help="A keyless signer (repeatable); SUBJECT is "
              "exact, or a regex starting with ^.")
@click.option("--approver-key", "approver_keys", multiple=True,
              type=click.Path(dir_okay=False, path_type=Path),
              help="A public key that may approve waivers (repeatable; each with an "
              "--approver-owner, in the same order).")
@click.option("--approver-owner", "approver_owners", multiple=True, metavar="EMAIL",
              help="Who holds the --approver-key at the same position: no one may approve a "
              "waiver they wrote.")
@click.option("--approver-identity", "approver_identities", multiple=True,
              metavar="'ISSUER SUBJECT'")
@click.option("--approver-threshold", type=int, default=1, show_default=True)
@click.option("--expires", default=None, metavar="TIME", help="Default: a year from now.")
@click.option("--from-config", is_flag=True, help="Also make signers of the keys and "
              "identities in govops.yaml's old trust section (at HEAD): the migration.")
@_signing_options
def trust_init(repo: Path, root_keys: tuple[Path, ...], root_threshold: int,
               signer_keys: tuple[Path, ...], signer_identities: tuple[str, ...],
               approver_keys: tuple[Path, ...], approver_owners: tuple[str, ...],
               approver_identities: tuple[str, ...],
               approver_threshold: int, expires: str | None, from_config: bool,
               sign_with: tuple[Path, ...], proposal: Path | None) -> None:
    """Create the first trust root, signed by its root keys, and pin it on this machine."""
    from engine.commands.trust import KeyRef, trust_init
    from engine.errors import GovopsError

    if len(approver_owners) != len(approver_keys):
        raise GovopsError(f"{len(approver_keys)} --approver-key but {len(approver_owners)} "
                          "--approver-owner: give each approver key its owner, in order")
    roles = {
        "signers": ([KeyRef(k) for k in signer_keys] + _identities(signer_identities), 1),
        "approvers": ([KeyRef(k, owner=o) for k, o in zip(approver_keys, approver_owners,
                                                          strict=True)]
                      + _identities(approver_identities), approver_threshold),
    }
    _report(trust_init(_signing(repo, sign_with, proposal, None),
                       [KeyRef(k) for k in root_keys], root_threshold, roles, expires,
                       from_config))


def _who_options(func: Callable[..., Any]) -> Callable[..., Any]:
    func = click.option("--subject", default=None, help="With --issuer: a keyless identity.")(func)
    func = click.option("--issuer", default=None)(func)
    return click.option("--key", type=click.Path(dir_okay=False, path_type=Path),
                        default=None, help="A PEM public key file.")(func)


@trust.command("add-key")
@repo_option
@click.option("--role", type=click.Choice(ROLE_NAMES), required=True)
@_who_options
@click.option("--owner", default=None, metavar="EMAIL", help="Who holds the key (required "
              "for an approver's key: no one may approve a waiver they wrote).")
@click.option("--valid-from", default=None, metavar="TIME")
@click.option("--valid-until", default=None, metavar="TIME")
@click.option("--threshold", type=int, default=None, help="Also set the role's threshold.")
@_signing_options
@_trust_root_option
def trust_add_key(repo: Path, role: str, key: Path | None, issuer: str | None,
                  subject: str | None, owner: str | None, valid_from: str | None,
                  valid_until: str | None, threshold: int | None, sign_with: tuple[Path, ...],
                  proposal: Path | None, trust_root: str | None) -> None:
    """Let a key or identity sign (signers) or approve waivers (approvers)."""
    import dataclasses

    from engine.commands.trust import add_key, trust_change

    who = dataclasses.replace(_key_ref(key, issuer, subject), owner=owner)
    change = add_key(role, who, valid_from, valid_until, threshold)
    _report(trust_change(_signing(repo, sign_with, proposal, trust_root), change))


@trust.command("revoke")
@repo_option
@click.option("--role", type=click.Choice(ROLE_NAMES), required=True)
@_who_options
@click.option("--keyid", default=None, help="Instead of --key or an identity: 8 or more hex "
              "digits of the keyid (govops trust show).")
@click.option("--at", default=None, metavar="TIME", help="When its validity ends (default: "
              "now). Signatures made before stay valid.")
@_signing_options
@_trust_root_option
def trust_revoke(repo: Path, role: str, key: Path | None, issuer: str | None,
                 subject: str | None, keyid: str | None, at: str | None,
                 sign_with: tuple[Path, ...], proposal: Path | None,
                 trust_root: str | None) -> None:
    """End a key's or identity's validity in a role."""
    from engine.commands.trust import revoke_key, trust_change

    who = keyid if keyid and key is None and issuer is None else _key_ref(key, issuer, subject)
    _report(trust_change(_signing(repo, sign_with, proposal, trust_root),
                         revoke_key(role, who, at)))


@trust.command("rotate")
@repo_option
@click.option("--root-key", "root_keys", multiple=True, required=True,
              type=click.Path(dir_okay=False, path_type=Path),
              help="A public key of the new root (repeatable).")
@click.option("--root-threshold", type=int, default=1, show_default=True)
@click.option("--expires", default=None, metavar="TIME", help="Default: a year from now.")
@_signing_options
@_trust_root_option
def trust_rotate(repo: Path, root_keys: tuple[Path, ...], root_threshold: int,
                 expires: str | None, sign_with: tuple[Path, ...], proposal: Path | None,
                 trust_root: str | None) -> None:
    """Replace the root keys: signed by a threshold of the old root and of the new one."""
    from engine.commands.trust import KeyRef, rotate_root, trust_change

    change = rotate_root([KeyRef(k) for k in root_keys], root_threshold, expires)
    _report(trust_change(_signing(repo, sign_with, proposal, trust_root), change))


@trust.command("add-tsa")
@repo_option
@click.option("--name", required=True, help="What to call it (replaces one of that name).")
@click.option("--url", required=True, help="Where recording commands ask it for timestamps.")
@click.option("--cert-chain", required=True, type=click.Path(dir_okay=False, path_type=Path),
              help="PEM: the TSA's certificate first, its root last.")
@click.option("--tolerance", type=int, default=None, help="Seconds an entry's stated time may "
              "differ from its timestamp (default: as before, 300).")
@_signing_options
@_trust_root_option
def trust_add_tsa(repo: Path, name: str, url: str, cert_chain: Path, tolerance: int | None,
                  sign_with: tuple[Path, ...], proposal: Path | None,
                  trust_root: str | None) -> None:
    """Name an RFC 3161 timestamp authority: from then on, every key-signed entry and receipt
    must carry its timestamp, and agree with it."""
    from engine.commands.trust import set_timestamping, timestamp_authority, trust_change

    change = set_timestamping(timestamp_authority(name, url, cert_chain), None, tolerance)
    _report(trust_change(_signing(repo, sign_with, proposal, trust_root), change))


@trust.command("remove-tsa")
@repo_option
@click.option("--name", required=True)
@_signing_options
@_trust_root_option
def trust_remove_tsa(repo: Path, name: str, sign_with: tuple[Path, ...], proposal: Path | None,
                     trust_root: str | None) -> None:
    """Stop requiring the timestamps of a timestamp authority."""
    from engine.commands.trust import set_timestamping, trust_change

    _report(trust_change(_signing(repo, sign_with, proposal, trust_root),
                         set_timestamping(None, name, None)))


@trust.command("deploy-branches")
@repo_option
@click.argument("patterns", nargs=-1)
@click.option("--any", "any_branch", is_flag=True, help="Lift the restriction: commits of any "
              "branch may deploy.")
@_signing_options
@_trust_root_option
def trust_deploy_branches(repo: Path, patterns: tuple[str, ...], any_branch: bool,
                          sign_with: tuple[Path, ...], proposal: Path | None,
                          trust_root: str | None) -> None:
    """Only commits reachable from these branches (names or fnmatch patterns: main,
    release/*; local or remote-tracking) may be applied or rolled back to. Kept in the trust
    root, signed by the root keys, so no commit can lift it for itself."""
    from engine.commands.trust import set_branches, trust_change

    if bool(patterns) == any_branch:
        raise click.UsageError("name the branches, or pass --any to allow every branch")
    _report(trust_change(_signing(repo, sign_with, proposal, trust_root),
                         set_branches(list(patterns))))


@trust.command("anchor")
@repo_option
@click.option("--trust-config", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="Sigstore ClientTrustConfig for keyless entries (default: public Sigstore).")
@_signing_options
@_trust_root_option
def trust_anchor(repo: Path, trust_config: Path | None, sign_with: tuple[Path, ...],
                 proposal: Path | None, trust_root: str | None) -> None:
    """Verify the ledger, then vouch for its tip with the root keys: from then on a fresh clone
    refuses a ledger that was rewritten or reset below it."""
    from engine.commands.audit import anchor_verified_ledger

    _report(anchor_verified_ledger(_signing(repo, sign_with, proposal, trust_root),
                                   trust_config))


@trust.command("sign")
@repo_option
@click.argument("proposal_file", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--sign-with", "sign_with", multiple=True, required=True,
              type=click.Path(dir_okay=False, path_type=Path))
@_trust_root_option
def trust_sign(repo: Path, proposal_file: Path, sign_with: tuple[Path, ...],
               trust_root: str | None) -> None:
    """Add signatures to a proposal; publish it once enough root keys signed."""
    from engine.commands.trust import trust_sign

    _report(trust_sign(_signing(repo, sign_with, None, trust_root), proposal_file))


@trust.command("pin")
@repo_option
@click.argument("root", metavar="FINGERPRINT|FILE")
def trust_pin(repo: Path, root: str) -> None:
    """Pin the first trust root on this machine (after checking the history verifies)."""
    from engine.commands.trust import trust_pin

    pin, path = trust_pin(repo, root)
    click.echo(f"pinned {pin.fingerprint} in {path}")


def _print_history(repo: Path, trust_root: str | None, fmt: str, view: str) -> None:
    from engine.commands.trust import trust_history
    from engine.report.trust import RENDERERS

    click.echo(RENDERERS[view, fmt](trust_history(repo, trust_root)), nl=False)


@trust.command("show")
@repo_option
@format_option
@_trust_root_option
def trust_show(repo: Path, fmt: str, trust_root: str | None) -> None:
    """The trust in force: root keys, signers, approvers, their validity."""
    _print_history(repo, trust_root, fmt, "show")


@trust.command("log")
@repo_option
@format_option
@_trust_root_option
def trust_log(repo: Path, fmt: str, trust_root: str | None) -> None:
    """Every version of the trust, what it changed and who signed it."""
    _print_history(repo, trust_root, fmt, "log")
