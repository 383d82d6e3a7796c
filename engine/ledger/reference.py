"""ENTRY: how people name a ledger entry, parsed in one place for every command.

A seq number (`12`), or a prefix of at least 4 hex digits of the entry hash (`9f3c07`,
`sha256:9f3c07`); a prefix made only of digits needs the `sha256:` to be read as a hash.
`audit show`, `audit verify --from`, `audit export` and `rollback --to` all read it so, and
say the same thing when it names no entry or several.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol, TypeVar

from engine.errors import GovopsError

MAX_SEQ_DIGITS = 18  # seq numbers are SQLite integers in the index: below 2**63


class QueryError(GovopsError):
    """A question the ledger cannot answer as asked: a bad ENTRY, TIME or search term."""


@dataclass(frozen=True)
class EntryRef:
    """Exactly one of: an entry number, or hex digits its hash starts with."""

    seq: int | None = None
    prefix: str | None = None

    @property
    def low(self) -> str:
        """The smallest entry hash with this prefix (`sha256:<prefix>`)."""
        return f"sha256:{self.prefix}"


def is_hex(text: str) -> bool:
    return bool(text) and all(c in "0123456789abcdef" for c in text)


def parse_entry_ref(reference: str) -> EntryRef:
    text = reference.strip().lower()
    as_hash = text.startswith("sha256:")
    text = text.removeprefix("sha256:")
    if text.isascii() and text.isdigit() and not as_hash:
        if len(text) > MAX_SEQ_DIGITS:  # int() refuses 4,300 digits; no ledger is that long
            raise QueryError(f"ENTRY {text[:20]}... has {len(text)} digits: no ledger entry "
                             "has such a number")
        return EntryRef(seq=int(text))
    if len(text) < 4 or not is_hex(text):
        raise QueryError(f"ENTRY {reference!r} is neither an entry number nor a hash prefix of "
                         "at least 4 hex digits")
    return EntryRef(prefix=text)


def no_such_seq(seq: int, count: int) -> QueryError:
    return QueryError(f"no ledger entry #{seq} (the ledger has {count})")


def not_one_match(ref: EntryRef, found: int) -> QueryError:
    if found == 0:
        return QueryError(f"no ledger entry has a hash starting with {ref.prefix!r}")
    return QueryError(f"hash prefix {ref.prefix!r} matches {found} entries: give more digits")


class Hashed(Protocol):
    @property
    def hash(self) -> str: ...


E = TypeVar("E", bound=Hashed)


def with_prefix(entries: Sequence[E], ref: EntryRef) -> list[E]:
    """The entries whose hash starts with the reference's prefix."""
    return [e for e in entries if e.hash.startswith(ref.low)]


def pick(entries: Sequence[E], reference: str) -> E:
    """The entry ENTRY names among `entries` (first to last, seq 1 first)."""
    ref = parse_entry_ref(reference)
    if ref.seq is not None:
        if 1 <= ref.seq <= len(entries):
            return entries[ref.seq - 1]
        raise no_such_seq(ref.seq, len(entries))
    found = with_prefix(entries, ref)
    if len(found) != 1:
        raise not_one_match(ref, len(found))
    return found[0]
