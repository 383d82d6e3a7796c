"""Errors every stage may raise, and how they are shown to people.

A bad input must end in exactly one line naming the file and line (or the revision), so each
error carries its location instead of leaving the CLI to guess it from a traceback.
"""

from __future__ import annotations


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
        return f"{where}: {self.message}"


class RevisionError(GovopsError):
    """A revision, ref or repository that git cannot resolve."""


class EngineError(GovopsError):
    """A Rego backend that cannot load, or cannot evaluate what it was given."""


class Refused(GovopsError):
    """A receipt, entry or recorded file that does not verify; the message is the reason.

    Lives here rather than in engine.attest.verify so that readers of the ledger (plan's
    baseline) can refuse without importing the Sigstore stack."""

    exit_code = 3
