"""Every text file govops reads from a repository is UTF-8; anything else is an input error
naming the file, never a file read as something else or silently skipped.

UTF-16 and UTF-32 are the trap: a YAML file saved as UTF-16 by an editor on Windows holds
`g\\0o\\0v\\0...`, so a byte search for `govops.dev/` misses it and the file (a failing Model,
or govops.yaml itself) would vanish from the check. Without a byte order mark, UTF-16 text of
ASCII characters is even valid UTF-8 (every other byte NUL), so decoding alone does not catch it.
"""

from __future__ import annotations

import codecs

from engine.errors import InputError

# UTF-32 LE first: its mark begins with UTF-16 LE's.
_MARKS = ((codecs.BOM_UTF32_LE, "UTF-32"), (codecs.BOM_UTF32_BE, "UTF-32"),
          (codecs.BOM_UTF16_LE, "UTF-16"), (codecs.BOM_UTF16_BE, "UTF-16"))
_CODECS = ("utf-16-le", "utf-16-be", "utf-32-le", "utf-32-be")


def wide_encoding(data: bytes) -> str | None:
    """'UTF-16' or 'UTF-32' when `data` looks like text in one of them (a byte order mark,
    or NUL bytes where ASCII text in them has them), else None."""
    for mark, name in _MARKS:
        if data.startswith(mark):
            return name
    head = data[:64]
    if len(head) >= 4 and b"\0" in head:
        if head[1:4] == b"\0\0\0" or head[0:3] == b"\0\0\0":
            return "UTF-32"
        odd, even = head[1::2], head[0::2]
        if odd.count(0) * 2 >= len(odd) or even.count(0) * 2 >= len(even):
            return "UTF-16"
    return None


def mentions(data: bytes, marker: str) -> bool:
    """Whether `data` holds `marker` in UTF-8, or in UTF-16 or UTF-32 (either byte order)."""
    if marker.encode("utf-8") in data:
        return True
    if wide_encoding(data) is None:
        return False
    return any(marker.encode(codec) in data for codec in _CODECS)


def decode_utf8(path: str, data: bytes) -> str:
    """The text of a repository file, or an InputError naming it (and the line of the first
    byte that is not UTF-8)."""
    wide = wide_encoding(data)
    if wide is not None:
        raise InputError(path, None, f"encoded as {wide}; govops reads UTF-8 text "
                         "(save the file as UTF-8)")
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = data[: exc.start].count(b"\n") + 1
        raise InputError(path, line, f"not UTF-8 text (byte 0x{data[exc.start]:02x})") from None


def require_utf8_name(path: str) -> None:
    """A file govops reads must have a UTF-8 name: git stores names as bytes, and one that is
    not UTF-8 (read here with surrogates in place of its bad bytes) cannot be written into
    the policy input, a report or a signed statement."""
    try:
        path.encode("utf-8")
    except UnicodeEncodeError:
        raise InputError(path, None, "the file name is not UTF-8; rename the file") from None
