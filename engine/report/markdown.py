"""The Decision as GitHub-flavoured Markdown, for people: PR comments and job summaries.

Why it exists: a reviewer should see the verdict, what failed where, how to fix it and which
waivers were used without leaving the pull request. It renders the Decision and METADATA only;
it must never evaluate, filter or re-rank results beyond ordering them for reading.

Ordering (deterministic): new before existing when any result has a --base status (a Status
column then appears), deny before warn, then file, line and id. Every string from the
Decision or METADATA goes through `engine.report.escape.markdown`, the one escaping of every
Markdown table govops writes: backslash, `|`, `` ` ``, `*`, `_`, `[`, `]`, `<`, `>` and `~`
get a backslash (so a message cannot open a link, an HTML tag or comment, or a code span),
`&` becomes `&amp;`, line breaks (CR and U+2028 included) become `<br>`, and other control
characters are shown as their escapes (`\\x1b`).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from engine.policy.decision import Decision, Result
from engine.policy.metadata import PolicyMeta
from engine.report.escape import markdown as cell

_ICON = {"deny": "❌ deny", "warn": "⚠️ warn"}
_STATUS_RANK = {"new": 0, "existing": 1}


def _order(result: Result) -> tuple[int, int, str, int, str, str]:
    return (_STATUS_RANK.get(result.status or "", 2), 0 if result.severity == "deny" else 1,
            result.file, result.line, result.id, result.msg)


def _row(cells: Sequence[str]) -> str:
    return "| " + " | ".join(cells) + " |"


def _object(result: Result) -> str:
    return cell(f"{result.kind}/{result.name}")


def _where(result: Result) -> str:
    return cell(f"{result.file}:{result.line}")


def results_table(results: Sequence[Result], with_status: bool) -> list[str]:
    head = ["", *(["Status"] if with_status else []), "Policy", "Object", "Where", "Message"]
    lines = [_row(head), _row(["---"] * len(head))]
    for r in sorted(results, key=_order):
        status = [r.status or ""] if with_status else []
        lines.append(_row([_ICON[r.severity], *status, cell(r.id), _object(r), _where(r),
                           cell(r.msg)]))
    return lines


def waivers_table(decision: Decision, with_status: bool) -> list[str]:
    head = ["Waiver", "Approved by", *(["Status"] if with_status else []), "Policy", "Object",
            "Where", "Message"]
    lines = ["### Waivers used", "", _row(head), _row(["---"] * len(head))]
    for w in sorted(decision.waived, key=lambda w: (w.waiver, _order(w.result))):
        status = [w.result.status or ""] if with_status else []
        lines.append(_row([cell(w.waiver), cell(decision.approved_by(w.waiver)), *status,
                           cell(w.result.id), _object(w.result), _where(w.result),
                           cell(w.result.msg)]))
    return lines


def pending_approvals(decision: Decision) -> list[str]:
    """The waivers still waiting for approvals: how many they have, how many they need, and
    why any did not count ([] when none is waiting)."""
    waiting = [a for a in decision.approvals if not a.approved]
    if not waiting:
        return []
    lines = ["### Waiver approvals pending", "",
             _row(["Waiver", "Approvals", "Approved by", "Not counted"]),
             _row(["---"] * 4)]
    for a in waiting:
        have = a.problem or f"{len(a.approvers)} of {a.needed}"
        lines.append(_row([cell(a.waiver), cell(have), cell(", ".join(a.approvers) or "-"),
                           cell("; ".join(a.refused) or "-")]))
    return [*lines, "", "An approver who did not write a waiver approves it with "
            "`govops approve WAIVER --key KEY` (or `--keyless`)."]


def fixes(results: Sequence[Result], metadata: Mapping[str, PolicyMeta]) -> list[str]:
    denied = sorted({r.id for r in results if r.severity == "deny"})
    items = [f"- **{cell(i)}** {cell(metadata[i].title)}: {cell(metadata[i].remediation)}"
             for i in denied if i in metadata and metadata[i].remediation]
    if not items:
        return []
    return ["<details><summary>How to fix</summary>", "", *items, "", "</details>"]


def _summary(decision: Decision) -> str:
    denies, warns, waived, _, _ = decision.counts
    commit = decision.revision.commit
    head = f"commit `{commit[:12]}`" if commit else "staged changes"
    base = (f" against base `{decision.base.commit[:12]}`"
            if decision.base is not None and decision.base.commit else "")
    return (f"**{denies} denied**, {warns} warning{'' if warns == 1 else 's'}, "
            f"{waived} waived · {decision.objects} objects · {head}{base} · "
            f"engine `{decision.engine}` · decision `{decision.decision_id[:19]}`")


def render_markdown(decision: Decision, metadata: Mapping[str, PolicyMeta], color: bool) -> str:
    passed = decision.verdict == "pass"
    lines = [f"## {'✅' if passed else '❌'} govops check: {'PASS' if passed else 'FAIL'}", "",
             _summary(decision), ""]
    everything = [*decision.results, *(w.result for w in decision.waived)]
    with_status = any(r.status is not None for r in everything)
    if decision.results:
        lines += [*results_table(decision.results, with_status), ""]
        how = fixes(decision.results, metadata)
        lines += [*how, ""] if how else []
    else:
        lines += ["No policy failures.", ""]
    if decision.waived:
        lines += [*waivers_table(decision, with_status), ""]
    pending = pending_approvals(decision)
    lines += [*pending, ""] if pending else []
    return "\n".join(lines).rstrip("\n") + "\n"
