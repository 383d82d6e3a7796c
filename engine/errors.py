"""Errors every stage may raise, and how they are shown to people.

A bad input must end in exactly one line naming the file and line (or the revision), so each
error carries its location instead of leaving the CLI to guess it from a traceback.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

# What no message may send to a terminal or into Markdown as it is: C0 (U+0000-U+001F), DEL
# and C1 (U+007F-U+009F), the line and paragraph separators, the bidirectional formatting
# characters and unpaired surrogates (a path that is not UTF-8). engine.report.escape builds
# every renderer's escaping on this same set.
CONTROLS = re.compile("[\x00-\x1f\x7f-\x9f\u061c\u200e\u200f\u2028\u2029\u202a-\u202e"
                      "\u2066-\u2069\ud800-\udfff]")
_SHORT = {"\t": "\\t", "\n": "\\n", "\r": "\\r"}


def _shown(control: str) -> str:
    code = ord(control)
    return _SHORT.get(control) or (f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}")


def one_line(text: str) -> str:
    """`text` with every control shown as its escape (`\\x1b`, `\\n`, `\\u2028`): data quoted
    in a message (a key, a path, a value) must not add a line, move the cursor or reorder
    what the terminal shows, and a reader still sees that it held one."""
    return CONTROLS.sub(lambda m: _shown(m.group()), text)


class GovopsError(Exception):
    """Base of the errors the CLI turns into one line and an exit code."""

    exit_code = 2


class InputError(GovopsError):
    """Something in the governed repo (or a policy) cannot be used as input."""

    def __init__(self, path: str, line: int | None, message: str) -> None:
        self.path = path
        self.line = line
        self.message = message
        super().__init__(str(self))

    def __str__(self) -> str:
        where = f"{self.path}:{self.line}" if self.line else self.path
        return one_line(f"{where}: {self.message}")


class InputErrors(InputError):
    """Every input of a revision that cannot be used, each with its file and line: two typos in
    two files are reported in one run, not one per run. Reads as the first (path, line,
    message) where one error is expected; shown one line each."""

    def __init__(self, errors: Sequence[InputError]) -> None:
        self.errors = tuple(sorted(errors, key=lambda e: (e.path, e.line or 0, e.message)))
        first = self.errors[0]
        super().__init__(first.path, first.line, first.message)

    def __str__(self) -> str:
        return "\n".join(InputError.__str__(e) for e in self.errors)

    @staticmethod
    def raise_all(errors: Sequence[InputError]) -> None:
        """Raise nothing, the one error, or all of them."""
        if len(errors) == 1:
            raise errors[0]
        if errors:
            raise InputErrors(errors)


class RevisionError(GovopsError):
    """A revision, ref or repository that git cannot resolve."""


class EngineError(GovopsError):
    """A Rego backend that cannot load, or cannot evaluate what it was given."""


class Refused(GovopsError):
    """A receipt, entry or recorded file that does not verify; the message is the reason.

    Lives here rather than in engine.attest.verify so that readers of the ledger (plan's
    baseline) can refuse without importing the Sigstore stack."""

    exit_code = 3
