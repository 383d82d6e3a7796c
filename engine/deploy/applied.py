"""The state a Stack was last deployed with, as the ledger recorded it.

Every apply and rollback entry records `manifests.json` (file name -> the manifest's exact
bytes), so `plan` can list create/update/delete against what is live without re-running an old
program, and the rollback can diff against the entry it replaces. The recorded files must add
up to the entry's `manifestsDigest` or they are refused (exit 3): a plan never compares against
a state the signed entry does not vouch for.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path

from engine.deploy.manifests import Manifest, digest_of
from engine.errors import GovopsError, Refused
from engine.ledger.store import Ledger, StoredEntry, stored
from engine.repo import GitRepo

MANIFESTS_FILE = "manifests.json"
DEPLOYING = ("apply", "rollback")


def encode(manifests: tuple[Manifest, ...] | list[Manifest]) -> bytes:
    """`manifests.json`: one key per manifest file, its text as the value, keys sorted."""
    return (json.dumps({m.file: m.text.decode("utf-8") for m in manifests}, indent=1,
                       sort_keys=True, ensure_ascii=False) + "\n").encode("utf-8")


def recorded_manifests(item: StoredEntry) -> dict[str, bytes] | None:
    """The manifests an apply/rollback entry deployed; None when it recorded none."""
    data = item.recorded.get(MANIFESTS_FILE)
    if data is None:
        return None
    where = f"{item.entry.type} entry #{item.entry.seq}"
    try:
        doc = json.loads(data)
    except ValueError as exc:
        raise Refused(f"{where}: {MANIFESTS_FILE} is not JSON: {exc}") from None
    if not isinstance(doc, Mapping) or not all(isinstance(v, str) for v in doc.values()):
        raise Refused(f"{where}: {MANIFESTS_FILE} is not a map of file names to manifests")
    files = {str(name): text.encode("utf-8") for name, text in doc.items()}
    recorded = item.entry.details.get("manifestsDigest")
    if digest_of(files) != recorded:
        raise Refused(f"{where}: {MANIFESTS_FILE} adds up to {digest_of(files)}, not the "
                      f"recorded manifestsDigest {recorded}")
    return files


def last_deployed(ledger: Ledger, stack: str) -> StoredEntry | None:
    """The stack's latest apply or rollback entry (walking back from the ledger's tip)."""
    for record in ledger.records():
        item = stored(record)
        if item.entry.type in DEPLOYING and item.entry.stack == stack:
            return item
    return None


def deployed_files(repo: GitRepo, ledger: Ledger, stack: str, item: StoredEntry,
                   programs: Path) -> dict[str, bytes] | None:
    """What `item` deployed: its recorded manifests, or (for an entry that recorded none) its
    commit re-planned with the decision id and AIBOM serial it links, accepted only when that
    adds up to its recorded digest. None when neither is possible (every object then shows as
    a create, and the caller says why)."""
    recorded = recorded_manifests(item)
    if recorded is not None:
        return recorded
    from engine.deploy.apply import spec_of
    from engine.deploy.gate import GatePassed
    from engine.deploy.plan import build_plan

    by_hash = {e.hash: e for e in ledger.entries()}
    decision = by_hash.get(item.entry.links.get("decision", ""))
    aibom = by_hash.get(item.entry.links.get("aibom", ""))
    if decision is None or aibom is None or item.entry.revision is None:
        return None
    try:
        spec = spec_of(repo, stack, GatePassed(item.entry.revision, decision, aibom))
        planned = build_plan(spec, None, programs)
    except GovopsError:
        return None
    if planned.digest != item.entry.details.get("manifestsDigest"):
        return None
    return planned.files
