"""pip requirements files as `pip-compile --generate-hashes` and `uv pip compile` write them.

Handles continuation lines, `--hash` options, extras, environment markers, comments, direct
URL requirements and `-r FILE` / `--requirement FILE` includes. A parser sees one file only, so
includes are recorded as (line, target as written) in `LockFile.includes`; the catalog loader
resolves them in the same git revision. A line pip would refuse is an input error naming its
line. `-c` and `-e` stay refused: a constraint pins nothing by itself and an editable install is
unpinned source, so neither belongs in a lock.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from typing import Any
from urllib.parse import unquote, urlsplit

from packaging.requirements import InvalidRequirement, Requirement

from engine.catalog.lockfiles.model import (
    LockedPackage,
    LockFile,
    hash_problem,
    normalize_name,
    without_credentials,
)
from engine.errors import InputError

_COMMENT = re.compile(r"(^|\s)#.*$")
_HASH = re.compile(r"--hash(?:=|\s+)(\S+)")
_IGNORED_OPTIONS = ("--index-url", "-i ", "--extra-index-url", "--find-links", "-f ",
                    "--trusted-host", "--prefer-binary", "--only-binary", "--no-binary", "--pre",
                    "--require-hashes")
_IGNORED_NAMES = {o.strip() for o in _IGNORED_OPTIONS}
_REFUSED_OPTIONS = ("-c", "--constraint", "-e", "--editable")
_INCLUDE = re.compile(r"^(?:--requirement(?=$|[\s=])[\s=]*|-r\s*)(?P<target>.*)$")
# pip's --hash takes only these (its STRONG_HASHES).
_PIP_HASHES = ("sha256", "sha384", "sha512")
# `name==version`, as pip-compile and uv write nearly every line: a name and a lowercase PEP 440
# version that packaging reads exactly as written. Parsed without packaging (15 us a line, and a
# large repo locks 100,000 packages); anything else takes packaging's full grammar.
_PINNED = re.compile(
    r"(?P<name>[A-Za-z0-9](?:[A-Za-z0-9._-]*[A-Za-z0-9])?)=="
    r"(?P<version>[0-9]+(?:\.[0-9]+)*(?:(?:a|b|rc)[0-9]+)?(?:\.post[0-9]+)?(?:\.dev[0-9]+)?"
    r"(?:\+[a-z0-9]+(?:\.[a-z0-9]+)*)?)")


# A whole hashed entry as pip-compile and uv write it, read in one match: `name==version`, then
# one or more ` \` + newline + indented `--hash=sha256:<64 lowercase hex>`. A 200-package lock
# is 200 matches instead of 800 lines joined, stripped and searched (the cold check of a
# 500-lock repo spent half its lock time there). What lies between matches (comments, options,
# `-r`, any other requirement) goes through the line parser, so the records are identical.
_BLOCK = re.compile(
    r"^(?P<name>[A-Za-z0-9](?:[A-Za-z0-9._-]*[A-Za-z0-9])?)=="
    r"(?P<version>[0-9]+(?:\.[0-9]+)*(?:(?:a|b|rc)[0-9]+)?(?:\.post[0-9]+)?(?:\.dev[0-9]+)?"
    r"(?:\+[a-z0-9]+(?:\.[a-z0-9]+)*)?)"
    r"(?P<hashes>(?:[ \t]*\\\n[ \t]+--hash=sha256:[0-9a-f]{64})+)[ \t]*$", re.MULTILINE)
_BLOCK_HASH = re.compile(r"sha256:[0-9a-f]{64}")
_QUIET = re.compile(r"(?:[ \t]*(?:#[^\n]*)?\n)*[ \t]*(?:#[^\n]*)?")  # blank and comment lines


def _logical_lines(text: str) -> list[tuple[int, str]]:
    """Join backslash continuations; each logical line keeps the number of its first line."""
    out: list[tuple[int, str]] = []
    start = 0
    parts: list[str] = []
    for number, raw in enumerate(text.splitlines(), start=1):
        line = (_COMMENT.sub("", raw) if "#" in raw else raw).rstrip()
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


def _include_target(path: str, number: int, line: str) -> str | None:
    """The file a `-r`/`--requirement` line names; None for any other line."""
    match = _INCLUDE.match(line)
    if match is None:
        return None
    option = "--requirement" if line.startswith("--") else "-r"
    target = match.group("target").strip()
    if not target:
        raise InputError(path, number, f"{option} needs a file name")
    if len(target.split()) > 1:
        raise InputError(path, number, f"{option} takes one file name, got {target!r}")
    if "://" in target:
        raise InputError(path, number, f"{option} {target}: govops reads included files from "
                         "the repository, not from a URL")
    return target


def parse_requirements(path: str, text: str) -> LockFile:
    lock = _by_blocks(path, text)
    if lock is None:
        packages: list[dict[str, Any]] = []
        includes: list[tuple[int, str]] = []
        _parse_lines(path, text, 0, packages, includes)
        lock = LockFile("requirements", tuple(packages), tuple(includes))
    _refuse_conflicting_pins(path, lock.records)
    return lock


def _refuse_conflicting_pins(path: str, records: Sequence[Mapping[str, Any]]) -> None:
    """One package pinned twice, differently, under the same marker: pip refuses such a file
    ("Double requirement given"), and a policy result would point at one of the two lines
    while the other is what gets installed."""
    seen: dict[tuple[str, str, tuple[str, ...]], Mapping[str, Any]] = {}
    for record in records:
        key = (record["name"], record["marker"], tuple(record["extras"]))
        first = seen.setdefault(key, record)
        if first is not record and first["specifier"] != record["specifier"]:
            raise InputError(path, record["line"], f"{record['name']} is pinned twice: "
                             f"{first['specifier'] or 'unpinned'} on line {first['line']} and "
                             f"{record['specifier'] or 'unpinned'} here; a lock file pins each "
                             "package once")


def _by_blocks(path: str, text: str) -> LockFile | None:
    """The lock read block by block (see _BLOCK), the rest line by line; None when a line
    between blocks continues into the next one, or the text has carriage returns (the line
    parser alone then reads it)."""
    if "\r" in text:
        return None
    packages: list[dict[str, Any]] = []
    includes: list[tuple[int, str]] = []
    position, line = 0, 1  # where the text not yet read starts, and its line number
    for match in _BLOCK.finditer(text):
        if not _gap(path, text, position, match.start(), line, packages, includes):
            return None
        line += text.count("\n", position, match.start())
        hashes = tuple(_BLOCK_HASH.findall(match.group("hashes")))
        packages.append(_pinned(match.group("name"), match.group("version"), hashes, line))
        position = match.end()
        line += text.count("\n", match.start(), position)
    if not _gap(path, text, position, len(text), line, packages, includes):
        return None
    return LockFile("requirements", tuple(packages), tuple(includes))


def _gap(path: str, text: str, start: int, end: int, line: int,
         packages: list[dict[str, Any]], includes: list[tuple[int, str]]) -> bool:
    """Read text[start:end] (starting at `line`) with the line parser; False when its last
    line continues (ends with a backslash) into what follows."""
    if _QUIET.fullmatch(text, start, end):
        return True
    gap = text[start:end]
    if end < len(text):  # a block starts at `end`, on a line of its own unless this continues
        last = gap.removesuffix("\n").rsplit("\n", 1)[-1]
        if (_COMMENT.sub("", last) if "#" in last else last).rstrip().endswith("\\"):
            return False
    _parse_lines(path, gap, line - 1, packages, includes)
    return True


def _parse_lines(path: str, text: str, offset: int, packages: list[dict[str, Any]],
                 includes: list[tuple[int, str]]) -> None:
    """Parse `text` line by line into `packages` and `includes`; line numbers + `offset`."""
    for number, line in _logical_lines(text):
        number += offset
        if line == "@EXPLICIT":
            raise InputError(path, number, "@EXPLICIT marks a conda explicit file, which is not "
                             "a pip requirements file (and cannot be included with -r)")
        if line.startswith("-"):
            target = _include_target(path, number, line)
            if target is not None:
                includes.append((number, target))
                continue
            option = line.split("=", 1)[0].split()[0]
            if option in _REFUSED_OPTIONS:
                raise InputError(path, number, f"{option} is not allowed in a lock file: "
                                 "list every package here, pinned and hashed")
            if line.startswith(_IGNORED_OPTIONS) or option in _IGNORED_NAMES:
                continue
            raise InputError(path, number, f"unknown pip option {option}")
        hashes = tuple(_HASH.findall(line))
        for value in hashes:
            problem = hash_problem(value, _PIP_HASHES)
            if problem:
                raise InputError(path, number, f"malformed --hash {value!r}: {problem}")
        requirement_text = _HASH.sub("", line).strip()
        if " --" in f" {requirement_text}":
            bad = requirement_text[requirement_text.index("--"):].split()[0]
            raise InputError(path, number, f"unknown per-requirement option {bad}")
        pinned = _PINNED.fullmatch(requirement_text)
        if pinned is not None:
            packages.append(_pinned(pinned.group("name"), pinned.group("version"), hashes,
                                    number))
            continue
        try:
            req = Requirement(requirement_text)
        except InvalidRequirement as exc:
            # packaging's message points at the column on further lines; errors are one line.
            reason = str(exc).splitlines()[0] if str(exc) else "cannot parse"
            raise InputError(path, number, f"invalid requirement {requirement_text!r}: "
                             f"{reason}") from None
        packages.append(LockedPackage(
            name=normalize_name(req.name),
            version=_exact_version(req),
            specifier=str(req.specifier) if not req.url else f"@ {req.url}",
            extras=tuple(sorted(req.extras)),
            marker=str(req.marker) if req.marker else "",
            hashes=hashes,
            line=number,
            ecosystem="pypi",
            url=req.url or "",
            source=_direct_source(req.url) if req.url else "",
        ).as_json())


def _direct_source(url: str) -> str:
    """LockedPackage.source of a direct reference (`name @ URL`), as uv.lock's are written:
    `git+<repo>@<commit>` (pip writes the ref after the last `@` of the path), a local path, or
    the URL itself, never with credentials; so the AIBOM names where the package came from,
    not PyPI."""
    if url.startswith(("git+", "hg+", "svn+", "bzr+")):
        return without_credentials(url.split("#", 1)[0])
    if url.startswith("file:"):
        return f"path+{unquote(urlsplit(url).path)}"  # file:///x, file://localhost/x, file:/x
    return f"url+{without_credentials(url)}"


def _pinned(name: str, version: str, hashes: tuple[str, ...], line: int) -> dict[str, Any]:
    """The record packaging's path gives a `name==version` line (LockedPackage.as_json)."""
    return {"name": normalize_name(name), "version": version, "specifier": f"=={version}",
            "extras": [], "marker": "", "hashes": list(hashes), "line": line,
            "ecosystem": "pypi", "url": "", "build": "", "path": ""}
