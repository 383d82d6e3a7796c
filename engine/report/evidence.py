"""The README of an evidence pack (`govops audit export`): what each file is, and the exact
commands that verify it with govops or cosign, with no repository at hand."""

from __future__ import annotations

from engine.attest.files import covered_by
from engine.attest.keys import key_hint
from engine.attest.trust import TrustPolicy
from engine.ledger.entry import StoredEntry
from engine.trust.history import TrustHistory


def evidence_readme(item: StoredEntry, receipts: list[str], trust: TrustPolicy,
                    keys: list[str], history: TrustHistory, signer: str | None) -> str:
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
        f"- signed by: {signer or '(unsigned)'}"
        + (f", under trust version #{v.seq}" if (v := history.in_force(entry.time)) else ""),
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
        "The whole pack: every file must match a digest in a signed entry (this README and",
        "the trusted keys excepted), every receipt must verify, the linked entries must be",
        "the ones the entry links:",
        "",
        "```sh",
        f"govops verify --pack . {key_flags}".rstrip(),
        "```",
        "",
        "The receipts alone:",
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
    version = history.in_force(entry.time)
    lines += ["```", "",
              f"The signers trusted at the entry's time ({entry.time}), under trust root "
              f"`{history.pin}`"
              + (f", trust version #{version.seq} (issued {version.issued})" if version else "")
              + ". Compare that fingerprint with the one you were given out of band; "
              "`govops trust log --trust-root <it>` in the repository shows every version.", ""]
    lines += [f"- key `{k}`: fingerprint `sha256:{key_hint(key.key)}` (sha256 of its "
              "SubjectPublicKeyInfo, base64)" for k, key in zip(keys, trust.keys, strict=False)]
    lines += [f"- identity `{i.subject}` from issuer `{i.issuer}`" for i in trust.identities]
    return "\n".join(lines) + "\n"
