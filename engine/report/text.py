"""The Decision for people: one table per object, file:line first, and a one-line verdict.

Drawn here rather than with rich: rich took 0.2 s to lay out the 50 small tables of a
1,000-object repo's warnings (4 ms each), most of the pre-commit hook's budget (and no rich
markup can be read into a licence or a path that holds `[/x]` or `[link=...]`).

Every string of the Decision and METADATA comes from a governed repository, so each goes
through `escape.terminal` before it is measured or wrapped: a control character (ESC, CR, a
bidi override, U+2028) is shown as its escape, never sent, and a newline in a name or a path
cannot start a line of its own. Only a message or a remediation keeps its newlines, which wrap
inside the message column. The only escape sequences written are this module's own colours.
"""

from __future__ import annotations

import shutil
import textwrap
from collections.abc import Mapping, Sequence
from itertools import groupby

from engine.policy.decision import Decision, Result
from engine.policy.metadata import PolicyMeta
from engine.report.escape import terminal

_STYLE = {"deny": "1;31", "warn": "33", "waived": "2", "pass": "1;32", "fail": "1;31"}
_HEADER = ("where", "id", "severity", "message")


def _paint(text: str, style: str, color: bool) -> str:
    return f"\x1b[{_STYLE[style]}m{text}\x1b[0m" if color else text


def _message(result: Result, waiver: str, metadata: Mapping[str, PolicyMeta]) -> str:
    meta = metadata.get(result.id)
    msg = terminal(result.msg, lines=True)
    if waiver:
        return f"{msg}\n(waived by {terminal(waiver)})"
    if meta and meta.remediation:
        return f"{msg}\n→ {terminal(meta.remediation, lines=True)}"
    return msg


def _wrap(text: str, width: int) -> list[str]:
    lines: list[str] = []
    for paragraph in text.split("\n"):
        lines += textwrap.wrap(paragraph, width, break_on_hyphens=False) or [""]
    return lines


def _table(title: str, rows: Sequence[tuple[Result, str, str]],
           metadata: Mapping[str, PolicyMeta], width: int, color: bool) -> list[str]:
    # With --base a result is marked new or existing, as in the markdown Status column.
    cells = [(terminal(f"{r.file}:{r.line}"), terminal(r.id),
              terminal(f"{label} ({r.status})" if r.status and not waiver else label),
              _message(r, waiver, metadata)) for r, label, waiver in rows]
    styles = [label for _, label, _ in rows]
    widths = [max(len(_HEADER[i]), *(len(c[i]) for c in cells)) for i in range(3)]
    text_width = max(20, width - sum(widths) - 9)
    out = [terminal(title),
           " ┃ ".join(h.ljust(w) for h, w in zip(_HEADER[:3], widths, strict=True))
           + " ┃ " + _HEADER[3],
           "━╇━".join("━" * w for w in widths) + "━╇━" + "━" * text_width]
    for (where, policy, label, message), style in zip(cells, styles, strict=True):
        for n, line in enumerate(_wrap(message, text_width)):
            first = (where, policy, label) if n == 0 else ("", "", "")
            left = [first[0].ljust(widths[0]), first[1].ljust(widths[1]),
                    _paint(first[2].ljust(widths[2]), style, color) if n == 0
                    else "".ljust(widths[2])]
            out.append((" │ ".join(left) + " │ " + line).rstrip())
    return out


def _waiver(decision: Decision, waiver: str) -> str:
    who = decision.approved_by(waiver)
    return f"{waiver}, approved by {who}" if who else waiver


def render_text(decision: Decision, metadata: Mapping[str, PolicyMeta], color: bool) -> str:
    width = max(80, shutil.get_terminal_size((120, 24)).columns)
    rows: list[tuple[Result, str, str]] = [(r, r.severity, "") for r in decision.results]
    rows += [(w.result, "waived", _waiver(decision, w.waiver)) for w in decision.waived]
    rows.sort(key=lambda row: (row[0].kind, row[0].name, row[0].file, row[0].line, row[0].id))
    lines: list[str] = []
    for (kind, name), group in groupby(rows, key=lambda row: (row[0].kind, row[0].name)):
        lines += _table(f"{kind} {name}", list(group), metadata, width, color)
        lines.append("")
    counts = decision.counts
    head = terminal(decision.revision.commit[:12]) if decision.revision.commit \
        else "staged changes"
    verdict = _paint("PASS" if decision.verdict == "pass" else "FAIL", decision.verdict, color)
    lines.append(
        f"{verdict} {head}: {counts.denied} denied, {counts.warnings} warnings, "
        f"{counts.waived} waived; {decision.objects} objects, engine "
        f"{terminal(decision.engine)}, decision {terminal(decision.decision_id[:19])}")
    return "\n".join(lines) + "\n"
