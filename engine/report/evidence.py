"""The README of an evidence pack (`govops audit export`): what each file is, and the exact
commands that verify it with govops or cosign, with no repository at hand.

The entry's actor, stack, revision and signer and the trust root's identities are data: in
prose each goes through `escape.markdown` (or `escape.code`), and in a shell command through
shlex.quote, so a reader who pastes a command runs that command and nothing else."""

from __future__ import annotations

from shlex import quote

from engine.attest.files import covered_by
from engine.attest.keys import key_hint
from engine.attest.trust import TrustPolicy
from engine.ledger.entry import StoredEntry
from engine.report.escape import code, markdown
from engine.trust.history import TrustHistory


def evidence_readme(item: StoredEntry, receipts: list[str], trust: TrustPolicy,
                    keys: list[str], history: TrustHistory, signer: str | None) -> str:
    entry = item.entry
    commit = entry.revision or "<no commit>"
    key_flags = " ".join(f"--key {quote(k)}" for k in keys)
    identity_flags = ""
    if trust.identities:
        first = trust.identities[0]
        identity_flags = (f"--certificate-identity {quote(first.subject)} "
                          f"--certificate-oidc-issuer {quote(first.issuer)}")
    flags = key_flags or identity_flags
    lines = [
        f"# govops evidence pack: ledger entry #{entry.seq} ({markdown(entry.type)})",
        "",
        f"- entry hash: {code(item.hash)}",
        f"- time: {markdown(entry.time)}, actor: {markdown(entry.actor)}",
        f"- signed by: {markdown(signer or '(unsigned)')}"
        + (f", under trust version #{v.seq}" if (v := history.in_force(entry.time)) else ""),
        f"- revision: {markdown(commit)}"
        + (f", stack: {markdown(entry.stack)}" if entry.stack else ""),
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
        f"govops verify {flags} --commit {quote(commit)} {' '.join(map(quote, receipts))}",
        "```",
        "",
        "## Verify with cosign",
        "",
        "```sh",
    ]
    for receipt in receipts:
        covered, _ = covered_by(receipt)
        if key_flags:
            lines.append(f"cosign verify-blob-attestation --key {quote(keys[0])} --bundle "
                         f"{quote(receipt)} --new-bundle-format {quote(covered)}")
        elif trust.identities:
            lines.append(f"cosign verify-blob-attestation {identity_flags} --bundle "
                         f"{quote(receipt)} --new-bundle-format {quote(covered)}")
    version = history.in_force(entry.time)
    lines += ["```", "",
              f"The signers trusted at the entry's time ({markdown(entry.time)}), under trust "
              f"root {code(history.pin)}"
              + (f", trust version #{version.seq} (issued {version.issued})" if version else "")
              + ". Compare that fingerprint with the one you were given out of band; "
              "`govops trust log --trust-root <it>` in the repository shows every version.", ""]
    lines += [f"- key {code(k)}: fingerprint `sha256:{key_hint(key.key)}` (sha256 of its "
              "SubjectPublicKeyInfo, base64)" for k, key in zip(keys, trust.keys, strict=False)]
    lines += [f"- identity {code(i.subject)} from issuer {code(i.issuer)}"
              for i in trust.identities]
    return "\n".join(lines) + "\n"
