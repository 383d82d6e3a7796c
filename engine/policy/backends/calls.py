"""Find the functions a Rego module calls, so a missing builtin is an error, not a silent pass.

rego-cpp evaluates a call to a builtin it lacks (graphql.*, some net.cidr_*) as undefined,
which inside `deny contains v if {...}` silently produces nothing. Scanning the source for
calls and asking the backend which of them it knows closes that hole.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass

from engine.policy.library import PolicyModule
from engine.policy.metadata import package_of

_STRINGS = re.compile(r'"(?:[^"\\\n]|\\.)*"|`[^`]*`')
_COMMENT = re.compile(r"#[^\n]*")
_CALL = re.compile(r"(?<![\w.\]])([A-Za-z_]\w*(?:\.[A-Za-z_]\w*)*)\s*\(")
_HEAD = re.compile(r"^([A-Za-z_]\w*)\s*\(", re.M)
_EMPTY_SET = re.compile(r"\s*\)")
_IMPORT = re.compile(r"^import\s+(data(?:\.[\w]+)+)(?:\s+as\s+(\w+))?", re.M)
_KEYWORDS = {"if", "contains", "every", "some", "in", "not", "with", "as", "else", "default",
             "package", "import"}


@dataclass(frozen=True)
class Call:
    name: str
    path: str
    line: int


def _blank(match: re.Match[str]) -> str:
    """Keep newlines so offsets still map to the right line."""
    return "".join(ch if ch == "\n" else " " for ch in match.group(0))


def code_only(source: str) -> str:
    """`source` with its strings and comments blanked out, every offset and line kept: what
    a scan of Rego code must not read as code."""
    return _COMMENT.sub(_blank, _STRINGS.sub(_blank, source))


def calls_to_builtins(modules: Iterable[PolicyModule]) -> list[Call]:
    """Calls that are not to functions the modules define (directly or through imports)."""
    modules = list(modules)
    stripped = {m.path: code_only(m.source) for m in modules}
    defined: set[str] = set()
    for module in modules:
        package = package_of(module.source) or ""
        for head in _HEAD.findall(stripped[module.path]):
            defined.add(f"data.{package}.{head}")
    calls: list[Call] = []
    for module in modules:
        text = stripped[module.path]
        package = package_of(module.source) or ""
        aliases = {(alias or ref.rsplit(".", 1)[-1]): ref for ref, alias in _IMPORT.findall(text)}
        for match in _CALL.finditer(text):
            name = match.group(1)
            first, _, rest = name.partition(".")
            if first in _KEYWORDS and not rest:
                continue
            if first == "data":
                continue
            if name == "set" and _EMPTY_SET.match(text, match.end()):
                continue  # `set()` is the empty set literal, not a call
            if first in aliases:
                if f"{aliases[first]}.{rest}" in defined or not rest:
                    continue
            elif f"data.{package}.{name}" in defined:
                continue
            line = text.count("\n", 0, match.start()) + 1
            calls.append(Call(name, module.path, line))
    return calls


@dataclass(frozen=True)
class ArityClash:
    name: str
    path: str
    line: int
    arity: int
    other_path: str
    other_line: int
    other_arity: int


def _arity(text: str, open_paren: int) -> int:
    """Top-level arguments between the parenthesis at `open_paren` and its match."""
    depth, commas, empty = 0, 0, True
    for ch in text[open_paren:]:
        if ch in "([{":
            depth += 1
        elif ch in ")]}":
            depth -= 1
            if depth == 0:
                break
        elif ch == "," and depth == 1:
            commas += 1
        elif not ch.isspace() and depth >= 1:
            empty = False
    return 0 if empty else commas + 1


def arity_clashes(modules: Iterable[PolicyModule]) -> list[ArityClash]:
    """Function names defined with different numbers of arguments anywhere in the bundle.

    Legal Rego (different packages), but rego-cpp corrupts memory on it: crashes, wrong
    results or `bad_alloc`, depending on the run (regopy 1.5.2).
    """
    first: dict[str, tuple[str, int, int]] = {}
    clashes: list[ArityClash] = []
    for module in modules:
        text = code_only(module.source)
        for match in _HEAD.finditer(text):
            name = match.group(1)
            arity = _arity(text, match.end() - 1)
            line = text.count("\n", 0, match.start()) + 1
            seen = first.setdefault(name, (module.path, line, arity))
            if seen[2] != arity:
                clashes.append(ArityClash(name, module.path, line, arity, *seen))
    return clashes
