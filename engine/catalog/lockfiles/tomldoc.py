"""TOML lock files (pylock.toml, uv.lock): decoding with the line of a syntax error, and the
lines of repeated table headers.

tomllib gives no line numbers for values, so a package's line is found by counting its
`[[...]]` headers, which every lock writer emits one per package, in order. Must never accept
a document tomllib refuses.
"""

from __future__ import annotations

import re
import tomllib
from collections.abc import Iterator
from typing import Any

from engine.errors import InputError

_TOML_LINE = re.compile(r"at line (\d+)")


def load_toml(path: str, text: str) -> dict[str, Any]:
    try:
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        match = _TOML_LINE.search(str(exc))
        raise InputError(path, int(match.group(1)) if match else None,
                         f"malformed TOML: {str(exc).split(' (at')[0]}") from None
    except RecursionError:
        # tomllib descends once per nested array or inline table: thousands of `[` exhaust
        # Python's stack. No lock format nests more than a few levels.
        raise InputError(path, None, "malformed TOML: arrays or inline tables nested too "
                         "deeply") from None


def header_lines(text: str, table: str) -> list[int]:
    """Line numbers of every `[[table]]` header, in order."""
    header = re.compile(rf"^\s*\[\[\s*{re.escape(table)}\s*\]\]\s*(#.*)?$")
    return [n for n, line in enumerate(text.splitlines(), start=1) if header.match(line)]


def key_line(text: str, key: str) -> int:
    """The line of a top-level `key = ...` (before the first table), or 1."""
    assignment = re.compile(rf"^\s*{re.escape(key)}\s*=")
    for n, line in enumerate(text.splitlines(), start=1):
        if line.lstrip().startswith("["):
            break
        if assignment.match(line):
            return n
    return 1


def package_tables(path: str, text: str, doc: dict[str, Any], table: str
                   ) -> Iterator[tuple[int, str, str | None, dict[str, Any]]]:
    """(line, name, version, table) of each `[[table]]` package entry, in order; an input error
    when the array, an entry's name or the type of its version is not what a lock holds."""
    raw = doc.get(table, [])
    if not isinstance(raw, list):
        raise InputError(path, key_line(text, table),
                         f"{table} must be an array of [[{table}]] tables")
    lines = header_lines(text, table)
    for i, package in enumerate(raw):
        line = lines[i] if i < len(lines) else 1
        if not isinstance(package, dict) or not isinstance(package.get("name"), str):
            raise InputError(path, line, f"each [[{table}]] entry needs a name")
        name = package["name"]
        version = package.get("version")
        if version is not None and not isinstance(version, str):
            raise InputError(path, line, f"{name}: version must be a string")
        yield line, name, version, package
