"""TOML lock files (pylock.toml, uv.lock): decoding with the line of a syntax error, and the
lines of repeated table headers.

tomllib gives no line numbers for values, so a package's line is found by counting its
`[[...]]` headers, which every lock writer emits one per package, in order. Must never accept
a document tomllib refuses.
"""

from __future__ import annotations

import re
import tomllib
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
