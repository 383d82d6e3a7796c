"""engine.report.escape: each hostile string, exactly as a terminal and as Markdown get it; then
the same promises over any string (hypothesis, fixed seed)."""

from __future__ import annotations

import re

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from engine.report.escape import CONTROLS, code, markdown, terminal
from engine.report.pr_comment import MARKER

# (data, terminal, terminal with lines kept, markdown)
CASES = [
    ("[/x]", "[/x]", "[/x]", r"\[/x\]"),
    ("[link=https://evil.test]click[/link]", "[link=https://evil.test]click[/link]",
     "[link=https://evil.test]click[/link]", r"\[link=https://evil.test\]click\[/link\]"),
    ("\x1b[31mRED\x1b]0;title\x07", r"\x1b[31mRED\x1b]0;title\x07",
     r"\x1b[31mRED\x1b]0;title\x07", r"\\x1b\[31mRED\\x1b\]0;title\\x07"),
    ("a\rb", r"a\rb", r"a\rb", "a<br>b"),
    ("a\r\nb", r"a\r\nb", "a\\r\nb", "a<br>b"),
    ("<img src=x onerror=alert(1)>", "<img src=x onerror=alert(1)>",
     "<img src=x onerror=alert(1)>", r"\<img src=x onerror=alert(1)\>"),
    ("\n## PASS\n", r"\n## PASS\n", "\n## PASS\n", "<br>## PASS<br>"),
    ("<!-- ", "<!-- ", "<!-- ", r"\<!-- "),
    (MARKER, MARKER, MARKER, r"\<!-- govops:pr-comment --\>"),
    ("`code` and ``two``", "`code` and ``two``", "`code` and ``two``",
     r"\`code\` and \`\`two\`\`"),
    ("a|b", "a|b", "a|b", r"a\|b"),
    ("a\u2028b\u2029c", r"a\u2028b\u2029c", r"a\u2028b\u2029c", "a<br>b<br>c"),
    ("abc\u202edcba", r"abc\u202edcba", r"abc\u202edcba", r"abc\\u202edcba"),
    ("\u2066x\u2069 \u200f", r"\u2066x\u2069 \u200f", r"\u2066x\u2069 \u200f",
     r"\\u2066x\\u2069 \\u200f"),
    ("tab\there\x00\x7f\x9b", r"tab\there\x00\x7f\x9b", r"tab\there\x00\x7f\x9b",
     r"tab\\there\\x00\\x7f\\x9b"),
    ("&lt;b&gt; *em* _u_ ~s~ \\", "&lt;b&gt; *em* _u_ ~s~ \\", "&lt;b&gt; *em* _u_ ~s~ \\",
     r"&amp;lt;b&amp;gt; \*em\* \_u\_ \~s\~ \\"),
    ("café ✅ 模型", "café ✅ 模型", "café ✅ 模型", "café ✅ 模型"),  # printable stays as is
    ("bge\udcff.yaml", r"bge\udcff.yaml", r"bge\udcff.yaml", r"bge\\udcff.yaml"),
]


@pytest.mark.parametrize(("data", "shown", "with_lines", "md"), CASES)
def test_each_hostile_string_exactly(data: str, shown: str, with_lines: str, md: str) -> None:
    assert terminal(data) == shown
    assert terminal(data, lines=True) == with_lines
    assert markdown(data) == md


@pytest.mark.parametrize(("data", "expected"), [
    ("ghcr.io/acme/vllm:v1", "`ghcr.io/acme/vllm:v1`"),
    ("inference/chat", "`inference/chat`"),
    ("llama 3 (in model x)", "`llama 3 (in model x)`"),
    ("a`b", r"<code>a\`b</code>"),
    ("a|b", r"<code>a\|b</code>"),
    ("C:\\x", r"<code>C:\\x</code>"),
    (MARKER, r"<code>\<!-- govops:pr-comment --\></code>"),
    ("a\rb", "<code>a<br>b</code>"),
    ("\x1b[2K", r"<code>\\x1b\[2K</code>"),
    (" padded ", "<code> padded </code>"),
    ("", "<code></code>"),
])
def test_code_is_a_span_only_when_the_text_can_sit_in_one(data: str, expected: str) -> None:
    assert code(data) == expected


def _live(rendered: str) -> str:
    """Markdown with every backslash escape and the renderer's own <br> taken out: what a
    Markdown or HTML parser could still act on."""
    return re.sub(r"\\.", "", rendered.replace("<br>", ""))


@settings(derandomize=True, max_examples=400, deadline=None, database=None)
@given(st.text(st.characters(exclude_categories=())))  # surrogates too
def test_no_string_reaches_a_terminal_with_a_control_in_it(data: str) -> None:
    assert CONTROLS.search(terminal(data)) is None
    assert CONTROLS.search(terminal(data, lines=True).replace("\n", "")) is None
    assert terminal(terminal(data)) == terminal(data)  # escaping twice changes nothing more


@settings(derandomize=True, max_examples=400, deadline=None, database=None)
@given(st.text(alphabet=st.sampled_from(list("ab |`<>[]*_~\\&!-#\r\n\x1b\u2028\u202e"))
               | st.characters(exclude_categories=())))
def test_no_string_becomes_markdown_or_html(data: str) -> None:
    rendered = markdown(data)
    assert CONTROLS.search(rendered) is None and MARKER not in rendered
    assert not set(_live(rendered)) & set("|`<>[]*_~\\")
    span = code(data)
    assert CONTROLS.search(span) is None and MARKER not in span
    if span.startswith("<code>"):
        assert span == f"<code>{rendered}</code>"
    else:  # a code span: a backtick each side, and inside nothing that ends it or the cell
        assert span == f"`{data}`" and not set(data) & set("`|\\<>")
