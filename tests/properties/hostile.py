"""Hostile values, as hypothesis strategies, shared by the properties of this folder: what a
security reviewer types into a governed file, a lock file, a finding or a bundle.

Each strategy mixes a list of known-bad values (the ones issue 19 reproduced, and their
neighbours) with generated text, so the fixed seed always tries the known cases and still
explores around them."""

from __future__ import annotations

import re

from hypothesis import strategies as st

# Characters that break one-line output, terminals, markup or parsers. No lone surrogate:
# every input is UTF-8 text, which cannot carry one (st.binary covers invalid UTF-8).
CONTROL = ["\x00", "\x07", "\x08", "\t", "\n", "\x0b", "\x0c", "\r", "\x1b", "\x1c", "\x7f",
           "\x85", "\x9b", "\u2028", "\u2029", "\ufeff", "\u202e", "\uffff"]

# Plain YAML scalars (a value after `key: `) that are not what they look like.
YAML_SCALARS = [
    "2026-02-30", "2026-13-01", "0000-00-00", "2026-01-01T25:61:00Z",
    "2026-01-01 10:00:00 +99:00", "!!int foo", "!!bool maybe", "!!timestamp nope",
    "!!float x", "!!null x", "!!binary ???", "!!set {a}", "!!omap [a]", "!!map x", "!!seq x",
    "!!str", "!!python/object:os.system x", "!<tag:yaml.org,2002:int> 0x", "!local x",
    "9" * 4301, "-" + "9" * 5000, "0x" + "f" * 5000, "0o" + "7" * 5000, "1e999", "-1e999",
    "1" + "0" * 400 + ".5", ".nan", ".inf", "-.inf", "0b101", "1_000", "+12", "0o8", "~",
    "null", "&a x", "*a", "{a: b}", "[a, [b]]", "[", "]", "{", "'unterminated",
    '"unterminated', '"\\x00"', '"\\ud800"', '"\\U0010ffff"', '"\\U00110000"', '"\\e[31m"',
    "|", ">-", "? complex", "@at", "`tick", "- item", "a: b: c", "#", "%YAML 1.1", "---", "...",
    "a" * 70_000, "é" * 1000, "[link=https://evil.test]x[/link]", "[/x]", "<!-- x",
]

# Whole lines inserted into a YAML document.
YAML_LINES = [
    "%YAML 1.1", "%YAML 1.2", "%TAG !e! tag:example.com,2000:", "---", "...", "<<: {a: 1}",
    "? [a, b]\n: c", "&anchor key: value", "key: *anchor", "'quoted key': 1", "1: int key",
    "null: x", "true: x", "[a]: x", "{a: 1}: x", "\t tab: x", "key: |\n  block\n   more",
    "key: !!binary aGVsbG8=", "spec: {}", "metadata: []", "kind: Config", "apiVersion: 1",
]

ENCODINGS = ["utf-16", "utf-16-le", "utf-16-be", "utf-32", "utf-32-le", "utf-8-sig", "latin-1",
             "cp1252"]

# Strings that renderers must show inert: markup of every output format.
MARKUP = [
    "[/x]", "[link=https://evil.test]click[/link]", "[bold red]x[/]", "\x1b[31mred\x1b[0m",
    "\x1b]8;;https://evil.test\x07link\x1b]8;;\x07", "\x9b31m", "a\rb", "line\nnext", "<!--",
    "<!-- govops:pr-comment -->", "-->", "## PASS", "\n## ✅ govops: PASS\n", "# h1", "| a | b |",
    "|---|", "\n| x | y | z | w |\n", "`code`", "```", "<img src=x onerror=alert(1)>",
    "<details>", "</details>", "</testcase>", "]]>", "<![CDATA[", "&amp;", "&#x0;", "%0A",
    "::error::x", "\n::error file=x::injected", "%", "\u2028", "\u2029", "\x85", "\x00",
    "\ufffe", "*bold*", "_i_", "~~s~~", "\\", "\\|", "\\\n", "@user", "#123",
    ":warning:", "\t", " ", "", "💥" * 3, "a" * 5000,
]


def _with(known: list[str], generated: st.SearchStrategy[str]) -> st.SearchStrategy[str]:
    return st.one_of(st.sampled_from(known), generated)


def hostile_text(max_size: int = 40) -> st.SearchStrategy[str]:
    """Any string, biased to markup and control characters, or a concatenation of them."""
    pieces = st.sampled_from(MARKUP + CONTROL)
    generated = st.one_of(
        st.text(max_size=max_size),
        st.lists(st.one_of(pieces, st.text(max_size=8)), min_size=1, max_size=5).map("".join),
    )
    return _with(MARKUP, generated)


def yaml_scalar() -> st.SearchStrategy[str]:
    """The text of a YAML value: known-bad scalars, generated text, quoted or not, with
    control characters inside."""
    generated = st.one_of(
        st.text(max_size=30),
        st.text(max_size=30).map(lambda s: '"' + s + '"'),
        st.text(max_size=30).map(lambda s: "'" + s + "'"),
        st.tuples(st.sampled_from(YAML_SCALARS), st.sampled_from(CONTROL)).map("".join),
        st.integers().map(str),
        st.integers(min_value=1, max_value=12_000).map(lambda n: "1" * n),
    )
    return _with(YAML_SCALARS, generated)


# A `key: value` line of a YAML file (optionally a `- key: value` list item).
KEY_LINE = re.compile(r"^(\s*(?:- )?[A-Za-z_][\w.-]*:)[ \t]*(\S.*)?$")
