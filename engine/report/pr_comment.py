"""The pull-request comment's body: one per pull request, found again by its hidden marker.

It says what a reviewer must know about the change, in this order: the verdict of the head
revision, the failures the change introduces (not those it inherits), the waivers it relies
on (with who approved them) and the approvals still pending, the AIBOM diff, and the plan
changes of every stack it touches. GitHub refuses comments over 65,536 characters; the comment
is cut line by line at the end (never inside a <details> block) and says so, with the command
that prints everything.

Every string from the governed repository (licences, images, paths, names, messages) goes
through `escape.markdown` or `escape.code`, the escaping every table shares, so none can end a
cell or a row, make a heading, open HTML or a comment, or carry a copy of MARKER: the marker
appears once, on the first line, where this module writes it.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from engine.bom.diff import BomDiff
from engine.deploy.changes import StackChanges
from engine.policy.decision import Decision
from engine.policy.metadata import PolicyMeta
from engine.report import bom_diff
from engine.report.escape import code
from engine.report.escape import markdown as cell
from engine.report.markdown import (
    fixes,
    pending_approvals,
    results_table,
    waivers_table,
)

MARKER = "<!-- govops:pr-comment -->"
LIMIT = 65_536
_RESERVE = 600  # the truncation note and the footer always fit in this


@dataclass(frozen=True)
class Section:
    lines: tuple[str, ...]
    whole: bool = False  # all or nothing (an HTML block must not be cut open)


def _heading(decision: Decision, new: int, existing: int) -> list[str]:
    passed = decision.verdict == "pass"
    head = (decision.revision.commit or "")[:12]
    base = (decision.base.commit or "")[:12] if decision.base else "?"
    introduced = ("introduces no policy failures" if new == 0
                  else f"introduces **{new}** policy failure{'s' if new != 1 else ''}")
    inherited = (f"; {existing} failure{'s' if existing != 1 else ''} already on the base "
                 "(not listed)" if existing else "")
    return [MARKER, f"## {'✅' if passed else '❌'} govops: {'PASS' if passed else 'FAIL'}", "",
            f"`{head}` against `{base}`: this pull request {introduced}{inherited}. "
            f"Decision `{decision.decision_id[:19]}`, {decision.objects} objects, "
            f"engine {decision.engine}.", ""]


def _failures(decision: Decision, metadata: Mapping[str, PolicyMeta]) -> list[Section]:
    new = [r for r in decision.results if r.status == "new"]
    if not new:
        return [Section(("### New failures", "", "None.", ""))]
    table = Section(("### New failures", "", *results_table(new, with_status=False), ""))
    how = fixes(new, metadata)
    return [table, Section((*how, ""), whole=True)] if how else [table]


def _waivers(decision: Decision) -> list[Section]:
    out = [Section((*waivers_table(decision, with_status=True), ""))] if decision.waived else []
    pending = pending_approvals(decision)
    return [*out, Section((*pending, ""))] if pending else out


def _stacks(stacks: Sequence[StackChanges]) -> list[Section]:
    lines = ["### Plan changes", ""]
    if not stacks:
        return [Section((*lines, "No stack is built from a file this pull request changes.", ""))]
    for item in stacks:
        if item.error is not None:
            lines += [f"- **{cell(item.stack)}**: the plan could not be made: {cell(item.error)}"]
            continue
        counts = {a: sum(1 for c in item.changes if c.action == a)
                  for a in ("create", "update", "delete")}
        said = ", ".join(f"{n} {a}" for a, n in counts.items() if n) or "no object changes"
        quiet = (f"; {item.provenance_only} more only change their govops revision, decision "
                 "and AIBOM labels" if item.provenance_only else "")
        lines += [f"- **{cell(item.stack)}**: {said}{quiet}"]
        lines += [f"  - {cell(c.action)} {cell(c.kind)} "
                  f"{code(f'{c.namespace}/{c.name}' if c.namespace else c.name)}"
                  for c in item.changes]
    return [Section((*lines, ""))]


def sections(decision: Decision, metadata: Mapping[str, PolicyMeta], diff: BomDiff,
             stacks: Sequence[StackChanges]) -> list[Section]:
    aibom = bom_diff.render_markdown(diff).rstrip("\n").splitlines()
    return [*_failures(decision, metadata), *_waivers(decision),
            Section((*aibom, "")), *_stacks(stacks)]


def render(decision: Decision, metadata: Mapping[str, PolicyMeta], diff: BomDiff,
           stacks: Sequence[StackChanges], command: str, limit: int = LIMIT) -> str:
    """The comment body, at most `limit` characters; `command` prints the full report."""
    counts = decision.counts
    lines = _heading(decision, counts.new, counts.existing)
    budget = limit - _RESERVE - sum(len(line) + 1 for line in lines)
    left_out = 0
    for section in sections(decision, metadata, diff, stacks):
        size = sum(len(line) + 1 for line in section.lines)
        if left_out == 0 and size <= budget:
            lines += section.lines
            budget -= size
            continue
        if section.whole or left_out:
            left_out += len(section.lines)
            continue
        for position, line in enumerate(section.lines):
            if len(line) + 1 > budget:
                left_out += len(section.lines) - position
                break
            lines.append(line)
            budget -= len(line) + 1
    if left_out:
        lines += ["", f"> ⚠️ Truncated to fit GitHub's {LIMIT:,}-character limit: {left_out} "
                  f"more lines left out. The full report: {code(command)}", ""]
    lines.append(f"<sub>govops · updated for `{decision.revision.commit}`</sub>")
    return "\n".join(lines) + "\n"
