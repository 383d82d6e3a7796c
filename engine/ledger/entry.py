"""One ledger entry: what it records, canonical bytes, and its hash.

`entry.json` is RFC 8785 canonical JSON, so the entry hash (sha256 of those bytes) is the
same for every writer and reader, and a verifier can tell a re-encoded entry from the original.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import rfc8785

ENTRY_FILE = "entry.json"
ENTRY_RECEIPT = "entry.sigstore.json"
TYPES = ("decision", "aibom", "apply", "rollback", "verify", "waiver", "approval", "drift")
APPROVAL = "approval"  # signed by an approver, not a signer: the signature is the approval
DEPLOYING = ("apply", "rollback")  # the entries that change what runs on a stack


def sha256(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


@dataclass(frozen=True)
class Draft:
    """What a caller wants recorded; the ledger adds seq, prev, time and actor."""

    type: str
    revision: str | None
    stack: str | None = None
    files: Mapping[str, bytes] = field(default_factory=dict)  # receipts and what they cover
    links: Mapping[str, str] = field(default_factory=dict)  # role -> hash of an earlier entry
    details: Mapping[str, Any] = field(default_factory=dict)  # summary fields for the index

    def __post_init__(self) -> None:
        if self.type not in TYPES:
            raise ValueError(f"unknown entry type {self.type!r}")
        reserved = {ENTRY_FILE, ENTRY_RECEIPT} & set(self.files)
        if reserved or any("/" in name for name in self.files):
            raise ValueError(f"invalid recorded file names: {sorted(self.files)}")


@dataclass(frozen=True)
class Entry:
    seq: int
    type: str
    time: str
    actor: str
    revision: str | None
    stack: str | None
    digests: Mapping[str, str]
    links: Mapping[str, str]
    details: Mapping[str, Any]
    prev: str | None

    def as_json(self) -> dict[str, Any]:
        return {"seq": self.seq, "type": self.type, "time": self.time, "actor": self.actor,
                "revision": self.revision, "stack": self.stack, "digests": dict(self.digests),
                "links": dict(self.links), "details": dict(self.details), "prev": self.prev}

    def encode(self) -> bytes:
        return bytes(rfc8785.dumps(self.as_json()))

    @classmethod
    def decode(cls, data: bytes) -> Entry:
        """Parse entry.json; ValueError when it is not a well-formed, canonical entry."""
        try:
            raw = json.loads(data)
        except (UnicodeDecodeError, json.JSONDecodeError) as exc:
            raise ValueError(f"entry.json is not JSON: {exc}") from None
        keys = {"seq", "type", "time", "actor", "revision", "stack", "digests", "links",
                "details", "prev"}
        if not isinstance(raw, dict) or set(raw) != keys:
            raise ValueError("entry.json does not have exactly the entry fields")
        if not isinstance(raw["seq"], int) or raw["type"] not in TYPES:
            raise ValueError("entry.json has a bad seq or type")
        text_or_null = ("revision", "stack", "prev")
        if not all(isinstance(raw[k], str) for k in ("time", "actor")) or not all(
                raw[k] is None or isinstance(raw[k], str) for k in text_or_null):
            raise ValueError("entry.json has a field of the wrong type")
        for k in ("digests", "links"):
            if not isinstance(raw[k], dict) or not all(
                    isinstance(v, str) for v in raw[k].values()):
                raise ValueError(f"entry.json {k} must map names to strings")
        if not isinstance(raw["details"], dict):
            raise ValueError("entry.json details must be an object")
        entry = cls(raw["seq"], raw["type"], raw["time"], raw["actor"], raw["revision"],
                    raw["stack"], raw["digests"], raw["links"], raw["details"], raw["prev"])
        # Sorted compact JSON equals RFC 8785 for entries without floats and is 5x faster to
        # produce; only when it differs is the (slower) exact encoder asked.
        quick = json.dumps(raw, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
        if quick.encode("utf-8") != data and entry.encode() != data:
            raise ValueError("entry.json is not in canonical form (RFC 8785)")
        return entry


@dataclass(frozen=True)
class StoredEntry:
    """An entry as the ledger holds it: decoded, its hash, its ledger commit and its files."""

    entry: Entry
    hash: str
    commit: str
    files: dict[str, bytes]

    @property
    def recorded(self) -> dict[str, bytes]:
        """The receipts and files the entry records (not its own entry.json and receipt)."""
        return {k: v for k, v in self.files.items() if k not in (ENTRY_FILE, ENTRY_RECEIPT)}
