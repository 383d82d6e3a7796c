"""The renderers on hostile data (issue 19): any string in a finding, waiver, approval,
policy title, AIBOM component or stack renders without exception, and renders inert.

The contract each format is held to: JSON parses back to the same decision; SARIF is JSON
with one result per finding; JUnit is well-formed XML; GitHub workflow commands stay one per
finding; the text report holds no control character but the renderer's own colours; Markdown
(the report and the PR comment) keeps its tables' row counts and its headings, holds no raw
control character and opens no HTML comment but the PR comment's own marker."""

from __future__ import annotations

import json
import re
import xml.etree.ElementTree as ET
from collections.abc import Mapping

from hypothesis import given
from hypothesis import strategies as st

from engine.bom.diff import BomDiff, ComponentChange, ComponentRef, FieldChange
from engine.deploy.changes import Change, StackChanges
from engine.policy.decision import Decision, Result, WaivedResult
from engine.policy.metadata import PolicyMeta
from engine.policy.waivers import WaiverApproval
from engine.repo.snapshot import RevisionInfo
from engine.report import FORMAT_NAMES, bom_diff, pr_comment, renderer
from tests.properties.contract import control_characters
from tests.properties.hostile import hostile_text

REVISION = RevisionInfo("a" * 40, "b" * 40, "A <a@acme.test>", "2026-11-02T10:00:00Z", "HEAD")
BASE = RevisionInfo("e" * 40, "f" * 40, "B <b@acme.test>", "2026-11-01T10:00:00Z", "main")
POLICY_IDS = ["MDL-002", "ENV-003", "ACME-001"]
# The text report's own colours (engine.report.text._paint): the only ESC it may write.
OWN_COLOURS = re.compile(r"\x1b\[(?:1;31|33|2|1;32|0)m")
MARKDOWN_BREAK = "\n"
# What rendered text may hold besides printable characters: its own line breaks, and tabs (a
# tab moves the cursor to the next stop; it can neither repaint the screen nor hide text).
HARMLESS = "\n\t"
OPEN_COMMENT = re.compile(r"(?<!\\)<!--")  # `\<!--` is literal text, not a comment


def _results(status: bool) -> st.SearchStrategy[Result]:
    return st.builds(
        Result, file=hostile_text(), line=st.integers(min_value=-1, max_value=10**6),
        id=st.one_of(st.sampled_from(POLICY_IDS), hostile_text()), kind=hostile_text(),
        name=hostile_text(), severity=st.sampled_from(["deny", "warn"]), msg=hostile_text(),
        field=st.none() | hostile_text(), package=st.none() | hostile_text(),
        status=st.sampled_from(["new", "existing"]) if status else st.none(),
        advisory=st.none() | hostile_text(), version=st.none() | hostile_text())


def _approvals(waivers: list[str]) -> st.SearchStrategy[tuple[WaiverApproval, ...]]:
    approval = st.builds(
        WaiverApproval, waiver=st.sampled_from(waivers) if waivers else hostile_text(),
        digest=hostile_text(), needed=st.integers(min_value=0, max_value=3),
        approvers=st.lists(hostile_text(), max_size=3).map(tuple),
        refused=st.lists(hostile_text(), max_size=2).map(tuple),
        problem=st.none() | hostile_text())
    return st.lists(approval, max_size=3).map(tuple)


@st.composite
def decisions(draw: st.DrawFn) -> Decision:
    status = draw(st.booleans())  # with --base every result carries a status
    results = tuple(draw(st.lists(_results(status), max_size=4)))
    waived = tuple(draw(st.lists(st.builds(WaivedResult, _results(status), hostile_text()),
                                 max_size=3)))
    approvals = draw(_approvals([w.waiver for w in waived]))
    return Decision(REVISION, BASE if status else None, "opa", "1.0", "sha256:p", "sha256:i",
                    results, waived, (), draw(st.integers(min_value=0, max_value=10**6)),
                    approvals)


def _metadata(decision: Decision) -> st.SearchStrategy[dict[str, PolicyMeta]]:
    ids = sorted({r.id for r in decision.results} | {w.result.id for w in decision.waived})
    meta = st.builds(PolicyMeta, id=st.just(""), title=hostile_text(),
                     description=hostile_text(), severity=st.sampled_from(["deny", "warn"]),
                     remediation=hostile_text(), path=hostile_text(), package=hostile_text())
    return st.dictionaries(st.sampled_from(ids or POLICY_IDS), meta, max_size=3)


@st.composite
def reports(draw: st.DrawFn) -> tuple[Decision, dict[str, PolicyMeta]]:
    decision = draw(decisions())
    return decision, draw(_metadata(decision))


def _lines(text: str) -> list[str]:
    """Lines as CommonMark and the Actions runner read them: CR, LF and CRLF end a line."""
    return re.split(r"\r\n|\r|\n", text)


def _rows(text: str) -> int:
    return sum(1 for line in _lines(text) if line.startswith("|"))


def _headings(text: str) -> list[str]:
    """The start of every heading line (enough to tell the renderer's own apart)."""
    return [line[:6] for line in _lines(text) if line.startswith("#")]


def _assert_markdown(text: str, rows: int, headings: list[str], comments: int) -> None:
    """Markdown whose data stayed data: its tables have the rows rendered (no row injected
    by a line break), its headings are the renderer's own, no HTML comment is opened but
    `comments` of the renderer's own, and no control character is left raw. The messages are
    short, so that each kind of failure reads as one."""
    assert _rows(text) == rows, f"{_rows(text)} table rows, not {rows}"
    assert _headings(text) == headings, f"headings {_headings(text)}, not {headings}"
    opened = len(OPEN_COMMENT.findall(text))
    assert opened == comments, f"{opened} HTML comments opened, not {comments}"
    found = control_characters(text, allowed=HARMLESS)
    assert not found, f"raw control characters {found}"


def _pending(decision: Decision) -> int:
    return sum(1 for a in decision.approvals if not a.approved)


def _table(rows: int) -> int:
    """Lines of a Markdown table of `rows` rows (its header and rule too), none if empty."""
    return rows + 2 if rows else 0


# -- the Decision formats ----------------------------------------------------------------


@given(reports())
def test_machine_formats_keep_their_contract(
        report: tuple[Decision, dict[str, PolicyMeta]]) -> None:
    """Every format renders; JSON parses back to the same decision; SARIF has one result per
    finding, its message the finding's; JUnit is well-formed XML; GitHub workflow commands
    stay one per finding (the runner reads stdout as .NET's ReadLine does: CR, LF or CRLF end
    a line, and a line starting `::` is a command)."""
    decision, metadata = report
    for fmt in FORMAT_NAMES:
        for color in (False, True):
            assert renderer(fmt)(decision, metadata, color).endswith("\n"), fmt
    back = Decision.from_json(json.loads(renderer("json")(decision, metadata, False)))
    assert (back.results, back.waived, back.approvals) == (decision.results, decision.waived,
                                                           decision.approvals)
    assert back.decision_id == decision.decision_id
    run = json.loads(renderer("sarif")(decision, metadata, False))["runs"][0]
    listed = [*decision.results, *(w.result for w in decision.waived)]
    assert [r["message"]["text"] for r in run["results"]] == [r.msg for r in listed]
    root = ET.fromstring(renderer("junit")(decision, metadata, False).encode("utf-8"))
    assert root.tag == "testsuites"
    lines = _lines(renderer("github")(decision, metadata, False))[:-1]
    assert len(lines) == len(listed) + 1, f"{len(lines)} lines for {len(listed)} findings"
    assert sum(1 for line in lines if line.startswith("::")) == len(listed)


@given(reports(), st.booleans())
def test_text_report_holds_no_control_character(
        report: tuple[Decision, dict[str, PolicyMeta]], color: bool) -> None:
    decision, metadata = report
    text = OWN_COLOURS.sub("", renderer("text")(decision, metadata, color))
    found = control_characters(text, allowed=HARMLESS)
    assert not found, f"raw control characters {found}"


@given(reports())
def test_markdown_keeps_its_tables_and_headings(
        report: tuple[Decision, dict[str, PolicyMeta]]) -> None:
    decision, metadata = report
    text = renderer("markdown")(decision, metadata, False)
    _assert_markdown(text, _table(len(decision.results)) + _table(len(decision.waived))
                     + _table(_pending(decision)),
                     ["## ✅ g" if decision.verdict == "pass" else "## ❌ g",
                      *(["### Wa"] if decision.waived else []),
                      *(["### Wa"] if _pending(decision) else [])], comments=0)


# -- the AIBOM diff and the PR comment ---------------------------------------------------


def _refs() -> st.SearchStrategy[ComponentRef]:
    return st.builds(ComponentRef, type=hostile_text(), name=hostile_text(),
                     version=st.none() | hostile_text(), ref=hostile_text(),
                     within=st.none() | hostile_text())


def _field_changes() -> st.SearchStrategy[FieldChange]:
    hashes = st.lists(st.fixed_dictionaries({"alg": hostile_text(), "content": hostile_text()}),
                      max_size=2)
    licences = st.lists(st.fixed_dictionaries({"license": st.fixed_dictionaries(
        {"id": hostile_text()})}), max_size=2)
    value = st.none() | hostile_text() | st.lists(hostile_text(), max_size=2)
    return st.one_of(
        st.builds(FieldChange, st.just("version"), value, value),
        st.builds(FieldChange, st.just("hashes"), hashes, hashes),
        st.builds(FieldChange, st.just("licenses"), licences, licences),
        st.builds(FieldChange, hostile_text().map(lambda f: "properties.govops:" + f), value,
                  value))


@st.composite
def aibom_diffs(draw: st.DrawFn) -> BomDiff:
    changed = st.builds(ComponentChange, _refs(), _refs(),
                        st.lists(_field_changes(), min_size=1, max_size=2).map(tuple))
    return BomDiff({"commit": "e" * 40}, {"commit": "a" * 40},
                   tuple(draw(st.lists(_refs(), max_size=3))),
                   tuple(draw(st.lists(_refs(), max_size=3))),
                   tuple(draw(st.lists(changed, max_size=3))),
                   tuple(draw(st.lists(hostile_text(), max_size=2))),
                   tuple(draw(st.lists(hostile_text(), max_size=2))))


def _diff_rows(diff: BomDiff) -> int:
    return _table(len(diff.added) + len(diff.removed) + len(diff.changed))


@given(aibom_diffs())
def test_aibom_diff_renders_inert(diff: BomDiff) -> None:
    assert json.loads(bom_diff.render_json(diff)) == json.loads(json.dumps(diff.as_json()))
    found = control_characters(bom_diff.render_text(diff), allowed=HARMLESS)
    assert not found, f"raw control characters {found} in the text diff"
    _assert_markdown(bom_diff.render_markdown(diff), _diff_rows(diff), ["### AI"], comments=0)


def _stacks() -> st.SearchStrategy[tuple[StackChanges, ...]]:
    file = st.tuples(hostile_text(), hostile_text(), hostile_text()).map(
        lambda parts: ".".join(parts) + ".yaml")
    change = st.builds(Change, st.sampled_from(["create", "update", "delete"]), file)
    stack = st.builds(StackChanges, hostile_text(), st.lists(change, max_size=3).map(tuple),
                      st.integers(min_value=0, max_value=5), st.none() | hostile_text())
    return st.lists(stack, max_size=2).map(tuple)


def _comment_rows(decision: Decision, diff: BomDiff) -> int:
    new = sum(1 for r in decision.results if r.status == "new")
    return (_table(new) + _table(len(decision.waived)) + _table(_pending(decision))
            + _diff_rows(diff))


@given(reports(), aibom_diffs(), _stacks())
def test_pr_comment_keeps_its_structure(report: tuple[Decision, Mapping[str, PolicyMeta]],
                                        diff: BomDiff, stacks: tuple[StackChanges, ...]) -> None:
    decision, metadata = report
    text = pr_comment.render(decision, metadata, diff, stacks, "govops pr comment --dry-run")
    assert text.startswith(pr_comment.MARKER + "\n")
    cut = "\n> ⚠️ Truncated to fit" in text  # cut at a line: the counts hold for all only
    _assert_markdown(text, _comment_rows(decision, diff) if not cut else _rows(text),
                     ["## ✅ g" if decision.verdict == "pass" else "## ❌ g", "### Ne",
                      *(["### Wa"] if decision.waived else []),
                      *(["### Wa"] if _pending(decision) else []), "### AI", "### Pl"]
                     if not cut else _headings(text), comments=1)
