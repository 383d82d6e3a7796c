"""Making data inert in what govops prints: the one place that decides how a string taken from
a governed repository (a licence, an image reference, a path, a policy message), a ledger or
the GitHub API is written into a terminal or into Markdown.

Why it exists: every such string is hostile until shown otherwise. Written raw, `\\x1b]0;...`
retitles the terminal and `\\x1b[2K` erases what came before; `\\r` overwrites a line; U+202E
reverses what follows; in Markdown, `|` ends a table cell, a newline ends the row, `<img>` and
`<!--` are HTML, a backtick opens code, and a copy of the PR bot's marker would make another
comment look like the bot's. Each renderer passes data through these functions and nothing
else, so there is one answer to "is this output safe" and one place to test it.

What counts as a control (`CONTROLS`): C0 (U+0000-U+001F), DEL and C1 (U+007F-U+009F), the
line and paragraph separators U+2028 and U+2029, the bidirectional formatting characters
(U+061C, U+200E, U+200F, U+202A-U+202E, U+2066-U+2069) and unpaired surrogates (a path that
is not UTF-8, which no terminal or encoder can take). A control is never dropped silently:
it is shown as its Python escape (`\\x1b`, `\\r`, `\\u2028`), so a reader sees that the data
holds one. A backslash already in the data is left as it is, so `\\x1b` in the output means the
data held either that control or those four characters, never that a control was sent.

This module must never decide what is shown, only how: callers pick the strings.
"""

from __future__ import annotations

import re

from engine.errors import CONTROLS, one_line

# Line breaks as str.splitlines knows them: in Markdown each becomes <br>, inside the cell.
_BREAKS = re.compile("\r\n|[\n\r\x0b\x0c\x1c\x1d\x1e\x85\u2028\u2029]")
# Markdown and HTML that a backslash makes literal (CommonMark: any ASCII punctuation).
_MARKDOWN = re.compile(r"([\\|`*_\[\]<>~])")
# What a `code span` may hold as it is: no backtick (it ends the span), no pipe (it ends a
# table cell even inside code), no backslash (GFM tables unescape `\|` inside code), no angle
# bracket (so no comment marker can appear in the body), no control.
_PLAIN_CODE = re.compile("[^`|\\\\<>" + CONTROLS.pattern[1:-1] + "]+")


def terminal(text: str, *, lines: bool = False) -> str:
    """Data for a terminal. With `lines`, a newline stays a line break (for text that is
    wrapped into a column, never at the start of an output line); every other control, and
    every newline without `lines`, is shown as its escape."""
    if not lines:
        return one_line(text)
    return "\n".join(one_line(part) for part in text.split("\n"))


def markdown(text: str) -> str:
    """Data for Markdown (a table cell, a list item, a heading): literal, one line.

    Each line break (CR, LF, CRLF, U+2028, U+2029 and the rest str.splitlines knows) becomes
    `<br>`; any other control is shown as its escape; `&` becomes `&amp;` (no entity can be
    spelt); backslash, `|`, backtick, `*`, `_`, `[`, `]`, `<`, `>` and `~` get a backslash, so
    nothing opens a link, an HTML tag or comment (`<!--`, the PR bot's marker), code or
    emphasis, or ends a table cell."""
    parts = _BREAKS.split(text)
    return "<br>".join(_MARKDOWN.sub(r"\\\1", one_line(part).replace("&", "&amp;"))
                       for part in parts)


def code(text: str) -> str:
    """Data shown as code: a `code span` when the text can sit in one as it is, otherwise
    <code> around the text escaped by `markdown` (GitHub renders both in monospace)."""
    if text and _PLAIN_CODE.fullmatch(text) and not text.startswith(" ") \
            and not text.endswith(" "):
        return f"`{text}`"
    return f"<code>{markdown(text)}</code>"


__all__ = ["CONTROLS", "code", "markdown", "terminal"]
