"""Lock files of Environments, one parser per format, all producing `LockFile`.

The same parse feeds the policy input (ENV-001, ENV-003) and, later, the AIBOM, so the two can
never disagree about what an environment contains.
"""

from __future__ import annotations

from pathlib import PurePosixPath

from engine.catalog.lockfiles.model import LockedPackage, LockFile
from engine.errors import InputError

__all__ = ["LockFile", "LockedPackage", "lockfile_format", "parse_lockfile",
           "require_lockfile_format"]


def lockfile_format(path: str) -> str | None:
    name = PurePosixPath(path).name
    if name == "pylock.toml" or (name.startswith("pylock.") and name.endswith(".toml")):
        return "pylock"
    if name.endswith((".txt", ".in")):
        return "requirements"
    return None


def require_lockfile_format(path: str) -> str:
    fmt = lockfile_format(path)
    if fmt is None:
        raise InputError(path, None, "unknown lock file format "
                         "(expected pip requirements *.txt or pylock.toml)")
    return fmt


def parse_lockfile(path: str, text: str) -> LockFile:
    # Parsers are imported on use: with a warm cache the check path never parses a lock file.
    fmt = require_lockfile_format(path)
    if fmt == "pylock":
        from engine.catalog.lockfiles.pylock import parse_pylock

        return parse_pylock(path, text)
    if fmt == "requirements":
        from engine.catalog.lockfiles.requirements import parse_requirements

        return parse_requirements(path, text)
    raise AssertionError(fmt)
