"""pip requirements files as `pip-compile --generate-hashes` and `uv pip compile` write them.

Handles continuation lines, `--hash` options, extras, environment markers and comments. A line
pip would refuse is an input error naming its line; options that would make the file depend on
other files (`-r`, `-c`, `-e`) are refused because a lock must be self-contained.
"""

from __future__ import annotations

import re

from packaging.requirements import InvalidRequirement, Requirement

from engine.catalog.lockfiles.model import LockedPackage, LockFile, normalize_name
from engine.errors import InputError

_COMMENT = re.compile(r"(^|\s)#.*$")
_HASH = re.compile(r"--hash(?:=|\s+)(\S+)")
_IGNORED_OPTIONS = ("--index-url", "-i ", "--extra-index-url", "--find-links", "-f ",
                    "--trusted-host", "--prefer-binary", "--only-binary", "--no-binary", "--pre")
_IGNORED_NAMES = {o.strip() for o in _IGNORED_OPTIONS}
_REFUSED_OPTIONS = ("-r", "--requirement", "-c", "--constraint", "-e", "--editable")
_HASH_VALUE = re.compile(r"^(sha256|sha384|sha512):[0-9a-fA-F]+$")


def _logical_lines(text: str) -> list[tuple[int, str]]:
    """Join backslash continuations; each logical line keeps the number of its first line."""
    out: list[tuple[int, str]] = []
    start = 0
    parts: list[str] = []
    for number, raw in enumerate(text.splitlines(), start=1):
        line = _COMMENT.sub("", raw).rstrip()
        if not parts:
            start = number
        if line.endswith("\\"):
            parts.append(line[:-1])
            continue
        parts.append(line)
        joined = " ".join(p.strip() for p in parts).strip()
        parts = []
        if joined:
            out.append((start, joined))
    if parts:
        joined = " ".join(p.strip() for p in parts).strip()
        if joined:
            out.append((start, joined))
    return out


def _exact_version(req: Requirement) -> str | None:
    specs = list(req.specifier)
    if len(specs) != 1 or specs[0].operator not in ("==", "===") or "*" in specs[0].version:
        return None
    return specs[0].version


def parse_requirements(path: str, text: str) -> LockFile:
    packages: list[LockedPackage] = []
    for number, line in _logical_lines(text):
        if line.startswith("-"):
            option = line.split("=", 1)[0].split()[0]
            if option in _REFUSED_OPTIONS:
                raise InputError(path, number, f"{option} is not allowed in a lock file: "
                                 "list every package here, pinned and hashed")
            if line.startswith(_IGNORED_OPTIONS) or option in _IGNORED_NAMES:
                continue
            raise InputError(path, number, f"unknown pip option {option}")
        hashes = tuple(_HASH.findall(line))
        for value in hashes:
            if not _HASH_VALUE.match(value):
                raise InputError(path, number,
                                 f"malformed --hash {value!r} (expected sha256:<hex>)")
        requirement_text = _HASH.sub("", line).strip()
        if " --" in f" {requirement_text}":
            bad = requirement_text[requirement_text.index("--"):].split()[0]
            raise InputError(path, number, f"unknown per-requirement option {bad}")
        try:
            req = Requirement(requirement_text)
        except InvalidRequirement as exc:
            raise InputError(path, number, f"invalid requirement: {exc}") from None
        packages.append(LockedPackage(
            name=normalize_name(req.name),
            version=_exact_version(req),
            specifier=str(req.specifier) if not req.url else f"@ {req.url}",
            extras=tuple(sorted(req.extras)),
            marker=str(req.marker) if req.marker else "",
            hashes=hashes,
            line=number,
        ))
    return LockFile.of("requirements", packages)
