"""The evidence pack's `report.html`: one deployment (or any entry) for an auditor who does not
use a terminal. Self-contained (inline CSS, no script, no link, image or font from anywhere:
it renders offline and cannot call out), every value escaped. It is a rendering of the pack's
signed files, not evidence itself: `govops verify --pack` checks the files it was drawn from.
"""

from __future__ import annotations

import html
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from engine.ledger.answers import DiffResult
from engine.ledger.entry import StoredEntry
from engine.policy.decision import Decision
from engine.report.audit_diff import render_diff_text

_CSS = """body{font:14px/1.45 system-ui,sans-serif;margin:2em auto;max-width:70em;color:#222}
h1{font-size:1.5em}h2{font-size:1.15em;margin-top:1.8em;border-bottom:1px solid #ccc}
table{border-collapse:collapse;width:100%}td,th{border:1px solid #ddd;padding:.3em .5em;
text-align:left;vertical-align:top}th{background:#f4f4f4}code,pre{font-family:monospace;
font-size:.92em}.pass{color:#176b26;font-weight:bold}.fail{color:#a11;font-weight:bold}"""


@dataclass(frozen=True)
class ReportFacts:
    entry: StoredEntry
    linked: tuple[tuple[str, StoredEntry], ...]  # (role, entry) it links to
    signer: str | None
    trust_pin: str
    keys: tuple[tuple[str, str], ...]  # (file in the pack, sha256 fingerprint)
    decision: Decision | None
    aibom_counts: Mapping[str, int]  # component type -> how many
    models: tuple[tuple[str, str], ...]  # (name, digest or version) from the AIBOM
    diff: DiffResult | None  # against the stack's previous deployment
    previous: str | None  # what the diff compares with, in words


def _e(value: Any) -> str:
    return html.escape("" if value is None else str(value), quote=True)


def _table(header: Sequence[str], rows: Sequence[Sequence[Any]], id_: str) -> str:
    head = "".join(f"<th>{_e(h)}</th>" for h in header)
    body = "".join("<tr>" + "".join(f"<td>{_e(c)}</td>" for c in row) + "</tr>"
                   for row in rows)
    return f'<table id="{id_}"><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>'


def render_report(facts: ReportFacts) -> str:
    entry = facts.entry.entry
    title = f"govops evidence: ledger entry #{entry.seq} ({entry.type})"
    parts = [f"<h1>{_e(title)}</h1>", _table(
        ("field", "value"),
        [("entry hash", facts.entry.hash), ("type", entry.type), ("time", entry.time),
         ("actor", entry.actor), ("revision", entry.revision), ("stack", entry.stack),
         ("signed by", facts.signer or "(unsigned)"), ("trust root", facts.trust_pin)],
        "entry")]
    parts += ["<h2>The chain it rests on</h2>", _table(
        ("role", "seq", "type", "time", "revision", "hash"),
        [("this entry", entry.seq, entry.type, entry.time, entry.revision, facts.entry.hash)]
        + [(role, item.entry.seq, item.entry.type, item.entry.time, item.entry.revision,
            item.hash) for role, item in facts.linked], "chain")]
    parts += ["<h2>Keys trusted at its time</h2>",
              "<p>Compare each fingerprint with the one you were given out of band.</p>",
              _table(("key", "sha256 fingerprint"), facts.keys, "keys")]
    parts += _decision(facts.decision)
    parts += ["<h2>AIBOM summary</h2>",
              _table(("component type", "count"), sorted(facts.aibom_counts.items()), "aibom"),
              _table(("model", "digest"), facts.models, "models")]
    parts.append("<h2>Changes since the previous deployment</h2>")
    if facts.diff is None:
        parts.append(f"<p id=\"diff\">{_e(facts.previous or 'no previous deployment')}</p>")
    else:
        parts += [f"<p>Compared with {_e(facts.previous)}.</p>",
                  f'<pre id="diff">{_e(render_diff_text(facts.diff))}</pre>']
    body = "\n".join(parts)
    return (f"<!doctype html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
            f"<meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none'; "
            f"style-src 'unsafe-inline'\"><title>{_e(title)}</title><style>{_CSS}</style>"
            f"</head><body>\n{body}\n</body></html>\n")


def _decision(decision: Decision | None) -> list[str]:
    if decision is None:
        return ["<h2>Policy decision</h2>", '<p id="verdict">no decision in this pack</p>']
    approvals = {a.waiver: a for a in decision.approvals}
    verdict = decision.verdict
    rows = [(r.id, r.severity, f"{r.kind} {r.name}", r.msg, f"{r.file}:{r.line}", "", "")
            for r in decision.results]
    for waived in decision.waived:
        r = waived.result
        approval = approvals.get(waived.waiver)
        approvers = ", ".join(approval.approvers) if approval else "(no approval record)"
        rows.append((r.id, r.severity, f"{r.kind} {r.name}", r.msg, f"{r.file}:{r.line}",
                     waived.waiver, approvers))
    return ["<h2>Policy decision</h2>",
            f'<p>Verdict: <span id="verdict" class="{_e(verdict)}">{_e(verdict)}</span>, '
            f"decision <code>{_e(decision.decision_id)}</code>, policies "
            f"<code>{_e(decision.policy_digest)}</code>.</p>",
            _table(("policy", "severity", "object", "message", "where", "waived by",
                    "approved by"), rows, "results")]
