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


def calls_to_builtins(modules: Iterable[PolicyModule]) -> list[Call]:
    """Calls that are not to functions the modules define (directly or through imports)."""
    modules = list(modules)
    stripped = {m.path: _COMMENT.sub(_blank, _STRINGS.sub(_blank, m.source)) for m in modules}
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
            if first in aliases:
                if f"{aliases[first]}.{rest}" in defined or not rest:
                    continue
            elif f"data.{package}.{name}" in defined:
                continue
            line = text.count("\n", 0, match.start()) + 1
            calls.append(Call(name, module.path, line))
    return calls
