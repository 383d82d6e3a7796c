"""`govops audit`: the ledger checked against the repo's trust policy (`verify`), one entry
packed with everything needed to verify it elsewhere (`export`), and the auditors' questions
asked of the ledger index (`ask`).

The evidence pack holds the entry, its receipts and what they cover (for an apply: the
decision and AIBOM entries it rests on), the public keys and identities trusted, and a README
with the exact commands; `govops verify` accepts it in an empty directory with no repository.
"""

from __future__ import annotations

import contextlib
import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TypeVar

from engine.approvals.verify import check_approval_entry
from engine.atomic import write_atomically
from engine.attest.bundle import declared_signer
from engine.attest.files import is_receipt
from engine.attest.keys import key_hint, load_public
from engine.attest.trust_config import trust_root_loader
from engine.catalog.load import CONFIG_PATH
from engine.commands.trust import (
    Signing,
    TrustChange,
    anchor_ledger,
    trust_change,
    verifier_trust,
)
from engine.deploy.applied import check_recorded_manifests
from engine.errors import GovopsError, Refused, RevisionError
from engine.ledger import queries
from engine.ledger.answers import DiffResult, EntrySummary
from engine.ledger.chain import ChainReport, verify_chain
from engine.ledger.entry import APPROVAL, ENTRY_FILE, ENTRY_RECEIPT, StoredEntry
from engine.ledger.index import LedgerIndex
from engine.ledger.rewrite import refuse_rewritten
from engine.ledger.store import LEDGER_REF, Ledger
from engine.policy.decision import Decision
from engine.repo import GitRepo, open_repo
from engine.report.evidence import evidence_readme
from engine.report.evidence_html import ReportFacts, render_report
from engine.trust.document import ROLES
from engine.trust.history import TrustHistory

Answer = TypeVar("Answer")


@dataclass(frozen=True)
class LedgerVerified:
    """The chain's verdict, and the trust root it was verified under (to compare out of
    band)."""

    report: ChainReport
    trust: TrustHistory


def run_audit_verify(repo_path: Path, from_entry: str | None, trust_config: Path | None,
                     trust_root: str | None = None, allow_empty: bool = False,
                     accept_rewrite: bool = False) -> LedgerVerified:
    """The ledger verified (engine.ledger.chain). A governed repository (govops.yaml at HEAD)
    without the ledger ref is refused unless `allow_empty` (a new repo): a clone that never
    fetched refs/govops/ledger, or one whose ledger was deleted, must not read "verified".
    `accept_rewrite`: the operator accepts a ledger rewritten since it was last verified or
    indexed here; it must verify in full (signatures, links, the trust root's anchors), then
    the checkpoint moves to its tip and the index is rebuilt, and questions are answered
    again."""
    repo = open_repo(repo_path)
    ledger = Ledger(repo)
    history = verifier_trust(repo, trust_root)  # a bad trust root is the first thing to say
    if not allow_empty and ledger.tip_commit() is None and _governed(repo):
        raise Refused(f"{LEDGER_REF} does not exist here, but HEAD is a governed repository "
                      "(govops.yaml): fetch it (git fetch origin "
                      "'+refs/govops/*:refs/govops/*'), or pass --allow-empty for a repository "
                      "that has recorded nothing yet")
    start = ledger.find(from_entry).entry.seq if from_entry else 1
    report = verify_chain(ledger, history.signers_at, trust_root_loader(trust_config), start,
                          entry_checks=(check_recorded_manifests, check_approval_entry),
                          anchors=history.anchors, approvers_at=history.approvers_at,
                          accept_rewrite=accept_rewrite)
    if accept_rewrite and report.problem is None:
        with LedgerIndex.open(repo, refresh=False) as index:
            index.reindex()
    return LedgerVerified(report, history)


def _governed(repo: GitRepo) -> bool:
    try:
        return CONFIG_PATH in repo.snapshot("HEAD").files
    except RevisionError:  # no commit yet
        return False


def anchor_verified_ledger(signing: Signing, trust_config: Path | None = None) -> TrustChange:
    """`govops trust anchor`: verify the ledger whole, then have the root keys vouch for its
    tip in a new trust version, so a fresh clone can tell a rewrite or a reset before it."""
    verified = run_audit_verify(signing.repo, None, trust_config, signing.trust_root,
                                allow_empty=True)  # an empty ledger is refused just below
    report = verified.report
    if report.problem is not None:
        raise Refused(f"the ledger does not verify, nothing to vouch for: {report.problem}")
    if report.tip is None:
        raise GovopsError("the ledger is empty: nothing to anchor yet")
    return trust_change(signing, anchor_ledger((report.tip.entry.seq, report.tip.hash)))


def ask(repo_path: Path, question: Callable[[LedgerIndex], Answer], refresh: bool = True,
        trust_root: str | None = None) -> Answer:
    """Open the ledger index of the repository (brought up to date unless `refresh` is False)
    and answer `question` from it (one of engine.ledger.queries). When a trust root is pinned,
    every entry names its signer by the keyid the trust root knows it by, and the trust version
    in force at its time; a trust root that does not verify is an error only when asked for
    with `--trust-root` (a listing is not a verification)."""
    repo = open_repo(repo_path)
    try:
        history: TrustHistory | None = verifier_trust(repo, trust_root)
    except GovopsError:
        if trust_root is not None:
            raise
        history = None
    refuse_rewritten(Ledger(repo))  # a history rewritten since it was verified is not told
    with LedgerIndex.open(repo, refresh=refresh) as index:
        index.names = signer_names(history) if history is not None else None
        return question(index)


def signer_name(history: TrustHistory) -> Callable[[str | None], str | None]:
    """A declared signer named as `trust show` names it: a keyid, for a key the trust root
    ever granted."""
    by_hint = {key_hint(load_public(g.public_pem.encode("ascii"), g.keyid)): g.keyid[:16]
               for version in history.versions for role in ROLES
               for g in version.roles[role].grants if g.public_pem is not None}

    def name(signer: str | None) -> str | None:
        if signer is None or not signer.startswith("key "):
            return signer
        keyid = by_hint.get(signer.removeprefix("key "))
        return f"key {keyid}" if keyid else f"{signer} (a key the trust root never named)"
    return name


def signer_names(history: TrustHistory) -> Callable[[EntrySummary], EntrySummary]:
    """Name an entry's signer (see signer_name) and give the trust version in force at its
    time."""
    name = signer_name(history)

    def named(summary: EntrySummary) -> EntrySummary:
        version = history.in_force(summary.time)
        return summary._replace(signer=name(summary.signer),
                                trust_version=version.seq if version is not None else None)
    return named


@dataclass(frozen=True)
class ExportedPack:
    entry: StoredEntry
    directory: Path
    files: tuple[Path, ...]


def _pack_files(ledger: Ledger, item: StoredEntry) -> dict[str, bytes]:
    """The entry's own files, and those of the entries it links to: their entry.json and
    receipt under their role (`decision-entry.json`), their other files under their own name
    unless the pack holds a different file of that name already (a rollback's `from` and `to`
    applies each have a deployment.json), then as `<role>-<name>`; every one of them is covered
    by a signed digest (engine.commands.pack_verify)."""
    files = dict(item.files)
    by_hash = {e.hash: e for e in ledger.entries()}
    for role, target in sorted(item.entry.links.items()):
        linked = by_hash[target]
        for name, data in linked.files.items():
            if name in (ENTRY_FILE, ENTRY_RECEIPT) or files.get(name, data) != data:
                files[f"{role}-{name}"] = data
            else:
                files.setdefault(name, data)
    return files


def _report_facts(repo_path: Path, ledger: Ledger, item: StoredEntry,
                  files: Mapping[str, bytes], signer: str | None, pin: str,
                  keys: tuple[tuple[str, str], ...]) -> ReportFacts:
    """What report.html shows, from the pack's own files and, for a deployment, the ledger
    index's diff against the stack's previous deployment."""
    by_hash = {e.hash: e for e in ledger.entries()}
    linked = tuple((role, by_hash[target]) for role, target in sorted(item.entry.links.items()))
    decision = None
    with contextlib.suppress(KeyError, ValueError):
        decision = Decision.from_json(json.loads(files["decision.json"]))
    counts: dict[str, int] = {}
    models: list[tuple[str, str]] = []
    with contextlib.suppress(KeyError, ValueError, AttributeError):
        for component in json.loads(files["aibom.cdx.json"]).get("components") or []:
            kind = str(component.get("type"))
            counts[kind] = counts.get(kind, 0) + 1
            if kind == "machine-learning-model":
                digest = next((f"{str(h.get('alg')).lower().replace('-', '')}:"
                               f"{h.get('content')}" for h in component.get("hashes") or []), "")
                models.append((str(component.get("name")), digest or
                               str(component.get("version") or "")))
    diff, previous = None, None
    if item.entry.type in ("apply", "rollback") and item.entry.stack:
        stack, seq = item.entry.stack, item.entry.seq

        def compare(index: LedgerIndex) -> tuple[DiffResult | None, str]:
            row = index.db.execute(
                "SELECT seq, type FROM entries WHERE stack = ? AND type IN ('apply', "
                "'rollback') AND seq < ? ORDER BY seq DESC LIMIT 1", (stack, seq)).fetchone()
            if row is None:
                return None, f"the first deployment of stack {stack}"
            return (queries.diff(index, str(row[0]), str(seq)),
                    f"{row[1]} entry #{row[0]}, the stack's previous deployment")

        diff, previous = ask(repo_path, compare)
    return ReportFacts(item, linked, signer, pin, keys, decision, counts, tuple(models), diff,
                       previous)


def run_export(repo_path: Path, reference: str, output: Path,
               trust_root: str | None = None) -> ExportedPack:
    if output.exists() and any(output.iterdir()):
        raise GovopsError(f"{output}: not empty; an evidence pack goes into a new directory")
    repo = open_repo(repo_path)
    ledger = Ledger(repo)
    refuse_rewritten(ledger)
    item = ledger.find(reference)
    history = verifier_trust(repo, trust_root)
    trust = (history.approvers_at if item.entry.type == APPROVAL
             else history.signers_at)(item.entry.time)
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
    signer = signer_name(history)(declared_signer(item.files[ENTRY_RECEIPT]))
    files["README.md"] = evidence_readme(item, receipts, trust, keys, history,
                                         signer).encode()
    fingerprints = tuple((name, "sha256:" + key_hint(k.key))
                         for name, k in zip(keys, trust.keys, strict=False))
    files["report.html"] = render_report(_report_facts(
        repo_path, ledger, item, files, signer, history.pin, fingerprints)).encode()
    output.mkdir(parents=True, exist_ok=True)
    written = []
    for name, data in sorted(files.items()):
        write_atomically(output / name, data.decode("utf-8"))
        written.append(output / name)
    return ExportedPack(item, output, tuple(written))
