"""`govops audit verify` and `govops audit export`: the ledger checked against the repo's trust
policy, and one entry packed with everything needed to verify it elsewhere.

The evidence pack holds the entry, its receipts and what they cover (for an apply: the
decision and AIBOM entries it rests on), the public keys and identities trusted, and a README
with the exact commands; `govops verify` accepts it in an empty directory with no repository.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

from engine.attest.files import covered_by, is_receipt
from engine.attest.trust import TrustPolicy
from engine.attest.verify import trust_root_loader
from engine.errors import GovopsError
from engine.ledger.chain import ChainReport, verify_chain
from engine.ledger.entry import ENTRY_FILE, ENTRY_RECEIPT
from engine.ledger.store import Ledger, StoredEntry
from engine.receipts import repo_trust
from engine.repo import open_repo
from engine.report.write import write_atomically


def run_audit_verify(repo_path: Path, from_entry: str | None,
                     trust_config: Path | None) -> ChainReport:
    repo = open_repo(repo_path)
    ledger = Ledger(repo)
    start = ledger.find(from_entry).entry.seq if from_entry else 1
    return verify_chain(ledger, repo_trust(repo), trust_root_loader(trust_config), start)


@dataclass(frozen=True)
class ExportedPack:
    entry: StoredEntry
    directory: Path
    files: tuple[Path, ...]


def _pack_files(ledger: Ledger, item: StoredEntry) -> dict[str, bytes]:
    """The entry's own files, and those of the entries it links to (under their role)."""
    files = dict(item.files)
    by_hash = {e.hash: e for e in ledger.entries()}
    for role, target in sorted(item.entry.links.items()):
        linked = by_hash[target]
        for name, data in linked.files.items():
            if name in (ENTRY_FILE, ENTRY_RECEIPT):
                files[f"{role}-{name}"] = data
            else:
                files.setdefault(name, data)
    return files


def _readme(item: StoredEntry, receipts: list[str], trust: TrustPolicy,
            keys: list[str]) -> str:
    entry = item.entry
    commit = entry.revision or "<no commit>"
    key_flags = " ".join(f"--key {k}" for k in keys)
    identity_flags = ""
    if trust.identities:
        first = trust.identities[0]
        identity_flags = (f"--certificate-identity '{first.subject}' "
                          f"--certificate-oidc-issuer {first.issuer}")
    flags = key_flags or identity_flags
    lines = [
        f"# govops evidence pack: ledger entry #{entry.seq} ({entry.type})",
        "",
        f"- entry hash: `{item.hash}`",
        f"- time: {entry.time}, actor: {entry.actor}",
        f"- revision: {commit}" + (f", stack: {entry.stack}" if entry.stack else ""),
        "",
        "Every `*.sigstore.json` here is a Sigstore bundle (v0.3) holding an in-toto statement",
        "in a DSSE envelope; `<name>.sigstore.json` covers `<name>` (`decision.sigstore.json`",
        "covers `decision.json`, `aibom.sigstore.json` covers `aibom.cdx.json`).",
        "`entry.json` is the ledger entry itself (RFC 8785 canonical JSON), signed by",
        "`entry.sigstore.json`; its `digests` name every other file of the entry.",
        "",
        "## Verify with govops (no repository needed)",
        "",
        "```sh",
        f"govops verify {flags} --commit {commit} {' '.join(receipts)}",
        "```",
        "",
        "## Verify with cosign",
        "",
        "```sh",
    ]
    for receipt in receipts:
        covered, _ = covered_by(receipt)
        if key_flags:
            lines.append(f"cosign verify-blob-attestation --key {keys[0]} --bundle {receipt} "
                         f"--new-bundle-format {covered}")
        elif trust.identities:
            lines.append(f"cosign verify-blob-attestation {identity_flags} --bundle {receipt} "
                         f"--new-bundle-format {covered}")
    lines += ["```", "", "Trusted signers when this pack was made:", ""]
    lines += [f"- key `{k}`" for k in keys]
    lines += [f"- identity `{i.subject}` from issuer `{i.issuer}`" for i in trust.identities]
    return "\n".join(lines) + "\n"


def run_export(repo_path: Path, reference: str, output: Path) -> ExportedPack:
    repo = open_repo(repo_path)
    ledger = Ledger(repo)
    item = ledger.find(reference)
    trust = repo_trust(repo)
    files = _pack_files(ledger, item)
    keys: list[str] = []
    from cryptography.hazmat.primitives import serialization

    for i, trusted in enumerate(trust.keys):
        name = f"trusted-key-{i + 1}.pub"
        files[name] = trusted.key.public_bytes(serialization.Encoding.PEM,
                                               serialization.PublicFormat.SubjectPublicKeyInfo)
        keys.append(name)
    if trust.identities:
        files["trusted-identities.json"] = (json.dumps(
            [{"issuer": i.issuer, "subject": i.subject} for i in trust.identities],
            indent=2) + "\n").encode()
    receipts = sorted(n for n in files if is_receipt(n))
    files["README.md"] = _readme(item, receipts, trust, keys).encode()
    if output.exists() and any(output.iterdir()):
        raise GovopsError(f"{output}: not empty; an evidence pack goes into a new directory")
    output.mkdir(parents=True, exist_ok=True)
    written = []
    for name, data in sorted(files.items()):
        write_atomically(output / name, data.decode("utf-8"))
        written.append(output / name)
    return ExportedPack(item, output, tuple(written))
