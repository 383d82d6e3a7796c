"""What parsing one blob gives, as typed outcomes, and their plain-data form in the parse cache.

The cache keeps plain data (marshal); everything above it reads these records instead, so a
loader never tests a dict for a tag key. A failure is cached like a success (the same bytes
fail the same way) and raised again as an input error at whatever path the blob sits.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from engine.catalog.lockfiles import LockFile
from engine.errors import InputError


@dataclass(frozen=True)
class ParsedObject:
    """A govops YAML document that passed structural validation, with the line of each field."""

    doc: dict[str, Any]
    lines: dict[str, int]


@dataclass(frozen=True)
class ParsedLock:
    lock: LockFile


@dataclass(frozen=True)
class Skipped:
    """YAML that is not govops's (it never mentions govops.dev/): neither parsed nor refused."""


@dataclass(frozen=True)
class Failed:
    message: str
    line: int | None

    def at(self, path: str) -> InputError:
        return InputError(path, self.line, self.message)



Outcome = ParsedObject | ParsedLock | Skipped | Failed
SKIPPED = Skipped()


def failed(exc: InputError) -> Failed:
    return Failed(exc.message, exc.line)


def encode(outcome: Outcome) -> dict[str, Any]:
    """The cache's plain-data form."""
    if isinstance(outcome, ParsedObject):
        return {"doc": outcome.doc, "lines": outcome.lines}
    if isinstance(outcome, ParsedLock):
        return {"lock": outcome.lock.as_json()}
    if isinstance(outcome, Failed):
        return {"error": outcome.message, "line": outcome.line}
    return {"skip": True}


def decode(raw: dict[str, Any]) -> Outcome:
    """The outcome a cached row holds; ValueError for a row no parser of this version wrote."""
    if "doc" in raw:
        return ParsedObject(raw["doc"], raw["lines"])
    if "lock" in raw:
        return ParsedLock(LockFile.from_json(raw["lock"]))
    if "error" in raw:
        return Failed(str(raw["error"]), raw["line"])
    if raw.get("skip") is True:
        return SKIPPED
    raise ValueError("not a parse outcome")
