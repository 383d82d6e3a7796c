"""Rego that rego-cpp evaluates differently from OPA, without any error, found before it runs.

`A == B` where both sides index a collection by a variable nothing before it binds
(`some i, j; xs[i] == ys[j]`, or the same with i and j implicit): OPA iterates both sides and
compares, rego-cpp finds no match, so a deny written that way never fires there and the two
engines decide differently in silence (issue 20). Unification (`xs[i] = ys[j]`), the other
comparisons and `==` with one side bound are evaluated alike (tests/policy/
test_regocpp_gaps.py holds both engines to that), so only this form is refused, with the
rewrite that works on both.

A scan of the source text, kept conservative: a variable counts as bound when any earlier
statement of the same body mentions it (other than a bare `some` declaring it), and only a
comparison that is a statement of its own is looked at.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass

from engine.policy.backends.calls import code_only
from engine.policy.library import PolicyModule

_EQUALS = re.compile(r"(?<![=!<>:])==(?!=)")
_INDEX = re.compile(r"\[\s*([A-Za-z_]\w*)\s*\]")
_DECLARATION = re.compile(r"^\s*some\s+[A-Za-z_]\w*(?:\s*,\s*[A-Za-z_]\w*)*\s*$")
_KEYWORDS = {"true", "false", "null", "input", "data"}


@dataclass(frozen=True)
class Gap:
    path: str
    line: int
    statement: str


def _body_start(text: str, at: int) -> int:
    """Just after the `{` opening the innermost braces around `at`."""
    depth = 0
    for i in range(at - 1, -1, -1):
        if text[i] == "}":
            depth += 1
        elif text[i] == "{":
            if depth == 0:
                return i + 1
            depth -= 1
    return 0


def _statement(text: str, at: int, start: int) -> tuple[int, int]:
    """(start, end) of the statement around offset `at`: newline, `;` or braces end one."""
    begin = max(text.rfind("\n", start, at), text.rfind(";", start, at), start - 1) + 1
    ends = [i for i in (text.find("\n", at), text.find(";", at), text.find("}", at)) if i >= 0]
    return begin, min(ends) if ends else len(text)


def _balanced(text: str) -> bool:
    return all(text.count(o) == text.count(c) for o, c in ("()", "[]", "{}"))


def _unbound(variables: Iterable[str], earlier: str) -> bool:
    for name in variables:
        if name in _KEYWORDS:
            continue
        if name == "_":
            return True
        mentions = [s for s in re.split(r"[\n;]", earlier)
                    if re.search(rf"\b{re.escape(name)}\b", s) and not _DECLARATION.match(s)]
        if not mentions:
            return True
    return False


def unbound_comparisons(modules: Iterable[PolicyModule]) -> list[Gap]:
    """Every `A == B` statement whose two sides both index by an unbound variable."""
    gaps: list[Gap] = []
    for module in modules:
        text = code_only(module.source)
        for match in _EQUALS.finditer(text):
            body = _body_start(text, match.start())
            begin, end = _statement(text, match.start(), body)
            left, right = text[begin:match.start()], text[match.end():end]
            if ":=" in left or not _balanced(left) or not _balanced(right):
                continue  # a value (`x := a == b`, an argument), not a statement of its own
            earlier = text[body:begin]
            if _unbound(_INDEX.findall(left), earlier) and _unbound(_INDEX.findall(right),
                                                                    earlier):
                gaps.append(Gap(module.path, text.count("\n", 0, begin) + 1,
                                module.source[begin:end].strip()))
    return gaps
