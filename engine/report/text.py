"""The Decision for people: one table per object, file:line first, and a one-line verdict."""

from __future__ import annotations

import io
import shutil
from collections.abc import Mapping
from itertools import groupby

from rich.console import Console
from rich.table import Table
from rich.text import Text

from engine.policy.decision import Decision, Result
from engine.policy.metadata import PolicyMeta

_STYLE = {"deny": "bold red", "warn": "yellow", "waived": "dim"}


def _table(title: str, rows: list[tuple[Result, str, str]],
           metadata: Mapping[str, PolicyMeta]) -> Table:
    table = Table(title=title, title_justify="left", show_edge=False, expand=False, pad_edge=False)
    table.add_column("where", no_wrap=True)
    table.add_column("id", no_wrap=True)
    table.add_column("severity", no_wrap=True)
    table.add_column("message")
    for result, label, waiver in rows:
        message = result.msg
        meta = metadata.get(result.id)
        if waiver:
            message = f"{message}\n(waived by {waiver})"
        elif meta and meta.remediation:
            message += f"\n→ {meta.remediation}"
        table.add_row(f"{result.file}:{result.line}", result.id,
                      Text(label, style=_STYLE[label]), message)
    return table


def _waiver(decision: Decision, waiver: str) -> str:
    who = decision.approved_by(waiver)
    return f"{waiver}, approved by {who}" if who else waiver


def render_text(decision: Decision, metadata: Mapping[str, PolicyMeta], color: bool) -> str:
    buffer = io.StringIO()
    width = max(80, shutil.get_terminal_size((120, 24)).columns)
    console = Console(file=buffer, force_terminal=color, no_color=not color, width=width,
                      highlight=False)
    rows: list[tuple[Result, str, str]] = [(r, r.severity, "") for r in decision.results]
    rows += [(w.result, "waived", _waiver(decision, w.waiver)) for w in decision.waived]
    rows.sort(key=lambda row: (row[0].kind, row[0].name, row[0].file, row[0].line, row[0].id))
    for (kind, name), group in groupby(rows, key=lambda row: (row[0].kind, row[0].name)):
        console.print(_table(f"{kind} {name}", list(group), metadata))
        console.print()
    counts = decision.counts
    head = decision.revision.commit[:12] if decision.revision.commit else "staged changes"
    verdict = Text("PASS" if decision.verdict == "pass" else "FAIL",
                   style="bold green" if decision.verdict == "pass" else "bold red")
    line = Text.assemble(
        verdict,
        f" {head}: {counts.denied} denied, {counts.warnings} warnings, {counts.waived} waived; "
        f"{decision.objects} objects, engine {decision.engine}, "
        f"decision {decision.decision_id[:19]}",
    )
    console.print(line)
    return buffer.getvalue()
