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

from engine.deploy.manifests import Manifest, digest_of
from engine.errors import Refused
from engine.ledger.entry import DEPLOYING, StoredEntry
from engine.ledger.store import Ledger, stored

MANIFESTS_FILE = "manifests.json"


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


def check_recorded_manifests(item: StoredEntry) -> None:
    """For `audit verify` (handed to the ledger's chain check): an apply or rollback entry's
    recorded manifests, when it has them, add up to its digest; Refused otherwise."""
    if item.entry.type in DEPLOYING:
        recorded_manifests(item)
