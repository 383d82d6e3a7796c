"""GitHub annotations keep @actions/core's escaping and, like every govops output, show other
control characters as escapes: the Actions log viewer acts on ESC sequences and bidi marks."""

from __future__ import annotations

from engine.report.github import escape_data, escape_property


def test_control_characters_in_annotation_data_are_escapes() -> None:
    hostile = "50%\r\nline two \x1b[2J\x1b]0;owned\x07 \u202egnp.exe"
    assert escape_data(hostile) == (
        "50%25%0D%0Aline two \\x1b[2J\\x1b]0;owned\\x07 \\u202egnp.exe")
    assert escape_property("models/a:b,c\x1b.yaml") == "models/a%3Ab%2Cc\\x1b.yaml"


def test_plain_messages_are_what_actions_core_writes() -> None:
    assert escape_data("a 100% match\nsecond line") == "a 100%25 match%0Asecond line"
