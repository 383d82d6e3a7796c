"""`govops approve`: record a signed approval of a waiver in the ledger."""

from __future__ import annotations

from pathlib import Path

import click

from engine.cli.errors import HandledCommand
from engine.cli.options import repo_option, signer_options, trust_root_option


@click.command("approve", cls=HandledCommand)
@repo_option
@click.argument("waiver")
@click.option("--rev", default=None, help="The revision whose waiver you reviewed (default: "
              "HEAD). The approval is of the waiver's content: moving its file keeps it; "
              "changing the waiver needs a new one.")
@signer_options
@trust_root_option
def approve_command(repo: Path, waiver: str, rev: str | None, key: Path | None, keyless: bool,
            trust_config: Path | None, trust_root: str | None) -> None:
    """Approve WAIVER, signed with an approver's key or identity, as a ledger entry. Refused,
    with nothing written, unless it counts: an approver of the trust root who did not write
    the waiver and has not approved it yet."""
    from engine.attest.signers import SignerOptions
    from engine.commands.approve import ApproveOptions, approve

    done = approve(ApproveOptions(repo, waiver, SignerOptions(key, keyless, trust_config),
                                      rev, trust_root))
    status = done.status
    click.echo(f"recorded ledger entry #{done.entry.entry.seq} ({done.entry.hash}): approval "
               f"of waiver {waiver} ({status.digest[:19]}...) at commit {done.revision[:12]}")
    have = f"{len(status.approvers)} of {status.needed} approvals"
    if status.approved:
        click.echo(f"waiver {waiver} is approved ({have}: {', '.join(status.approvers)}), "
                   f"verified from trust root {done.trust_root}")
    else:
        click.echo(f"waiver {waiver} has {have}: it waives nothing until "
                   f"{status.needed - len(status.approvers)} more approver(s) approve it")
