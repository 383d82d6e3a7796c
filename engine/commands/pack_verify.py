"""An exported evidence pack verified on its own, with no repository: `govops verify --pack`.

What a pack proves rests on the ledger entries it carries: `entry.json`, signed by
`entry.sigstore.json`, whose `digests` name every other file of the entry, and for each entry
it links to (a decision, an AIBOM; a rollback's from and to) `<role>-entry.json` with its
receipt, whose hash must be the link and whose files are checked the same way. So every file
of the pack must match a digest inside a signed entry, every receipt must verify under the
keys trusted, and a file no signed digest covers is refused, except those that are not
evidence: README.md (instructions), report.html (a rendering of the signed files) and the
trust anchors (`trusted-key-N.pub`,
`trusted-identities.json`), which the auditor compares with fingerprints obtained out of band
(printed here and in the README), or replaces with `--key`.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from engine.attest.keys import key_hint, load_public
from engine.attest.trust import TrustedIdentity, TrustedKey, TrustPolicy
from engine.errors import GovopsError, Refused
from engine.ledger.chain import check_digests, check_receipts
from engine.ledger.entry import ENTRY_FILE, ENTRY_RECEIPT, Entry, StoredEntry, sha256

README = "README.md"
REPORT = "report.html"  # a rendering of the signed files for a reader, not evidence
IDENTITIES = "trusted-identities.json"
_KEY_FILE = re.compile(r"^trusted-key-[0-9]+\.pub$")


@dataclass(frozen=True)
class PackVerified:
    entry: StoredEntry
    linked: tuple[tuple[str, StoredEntry], ...]  # (role, entry)
    signatures: int
    keys: tuple[tuple[str, str], ...]  # (where the key came from, its sha256 fingerprint)
    files: int


def linked_name(role: str, name: str, pack: Mapping[str, bytes]) -> str:
    """Where a linked entry's file sits in a pack: under its own name, or `<role>-<name>`
    when the pack's own entry (or an earlier link) has a different file of that name."""
    prefixed = f"{role}-{name}"
    return prefixed if prefixed in pack else name


def verify_pack(folder: Path, keys: tuple[Path, ...] = (),
                trust_config: Callable[[], Any] | None = None) -> PackVerified:
    pack = _read(folder)
    trust, used_keys = _trust(pack, keys)
    main = _entry(pack, ENTRY_FILE, ENTRY_RECEIPT, lambda name: name)
    covered = {ENTRY_FILE, ENTRY_RECEIPT, *main.entry.digests}
    signatures = _check(main, trust, trust_config)
    linked = []
    for role, target in sorted(main.entry.links.items()):
        def place(name: str, role: str = role) -> str:
            return linked_name(role, name, pack)

        item = _entry(pack, f"{role}-{ENTRY_FILE}", f"{role}-{ENTRY_RECEIPT}", place)
        if item.hash != target:
            raise Refused(f"{role}-{ENTRY_FILE} is not the entry #{main.entry.seq} links as "
                          f"{role} ({target[:19]}...): the pack's linked entry was replaced")
        signatures += _check(item, trust, trust_config, role)
        covered |= {f"{role}-{ENTRY_FILE}", f"{role}-{ENTRY_RECEIPT}",
                    *(place(n) for n in item.entry.digests)}
        linked.append((role, item))
    for name in sorted(pack):
        if name not in covered and name not in (README, REPORT) and not _is_anchor(name):
            raise Refused(f"{name} is in the pack but no signed entry's digests cover it")
    return PackVerified(main, tuple(linked), signatures, used_keys, len(pack))


def _read(folder: Path) -> dict[str, bytes]:
    if not folder.is_dir():
        raise GovopsError(f"{folder}: not a directory (an evidence pack from `audit export`)")
    pack = {}
    for path in sorted(folder.iterdir()):
        if not path.is_file() or path.is_symlink():
            raise Refused(f"{path.name} is not a regular file: a pack holds only files")
        pack[path.name] = path.read_bytes()
    if ENTRY_FILE not in pack:
        raise Refused(f"{folder} holds no {ENTRY_FILE}: not an evidence pack")
    return pack


def _is_anchor(name: str) -> bool:
    return bool(_KEY_FILE.match(name)) or name == IDENTITIES


def _trust(pack: Mapping[str, bytes], keys: tuple[Path, ...]
           ) -> tuple[TrustPolicy, tuple[tuple[str, str], ...]]:
    sources: list[tuple[str, bytes]] = []
    if keys:
        for path in keys:
            try:
                sources.append((str(path), path.read_bytes()))
            except OSError as exc:
                raise GovopsError(f"{path}: cannot read: {exc.strerror}") from None
    else:
        sources = [(name, data) for name, data in sorted(pack.items()) if _KEY_FILE.match(name)]
    trusted = tuple(TrustedKey(name, load_public(data, name)) for name, data in sources)
    identities: tuple[TrustedIdentity, ...] = ()
    if not keys and IDENTITIES in pack:
        try:
            raw = json.loads(pack[IDENTITIES])
            identities = tuple(TrustedIdentity(str(i["issuer"]), str(i["subject"]))
                               for i in raw)
        except (ValueError, KeyError, TypeError) as exc:
            raise Refused(f"{IDENTITIES} does not read: {exc}") from None
    if not trusted and not identities:
        raise Refused("no key or identity to verify with: the pack has no trusted-key-N.pub "
                      "and no --key was given")
    fingerprints = tuple((k.source, "sha256:" + key_hint(k.key)) for k in trusted)
    return TrustPolicy(trusted, identities, label="the pack's keys" if not keys
                       else "the keys given"), fingerprints


def _entry(pack: Mapping[str, bytes], entry_name: str, receipt_name: str,
           place: Callable[[str], str]) -> StoredEntry:
    data = pack.get(entry_name)
    if data is None:
        raise Refused(f"{entry_name} is missing from the pack")
    try:
        entry = Entry.decode(data)
    except ValueError as exc:
        raise Refused(f"{entry_name}: {exc}") from None
    files = {ENTRY_FILE: data}
    if receipt_name in pack:
        files[ENTRY_RECEIPT] = pack[receipt_name]
    for name in entry.digests:
        where = place(name)
        if where not in pack:
            raise Refused(f"{where}, which entry #{entry.seq} records, is missing from the pack")
        files[name] = pack[where]
    return StoredEntry(entry, sha256(data), "", files)


def _check(item: StoredEntry, trust: TrustPolicy, trust_config: Callable[[], Any] | None,
           role: str | None = None) -> int:
    where = f"{role + ' ' if role else ''}entry #{item.entry.seq} ({item.entry.type})"
    try:
        check_digests(item)
        return check_receipts(item, item.entry.revision, lambda _: trust,
                              trust_config or (lambda: None))
    except Refused as exc:
        raise Refused(f"{where}: {exc}") from None
