"""`audit diff` in text, JSON and markdown: what changed between two deployments, grouped as
an auditor reads it (models, environments with their packages and images, waivers, manifests).
Names, versions and manifest values come from governed repositories: each text line goes
through `escape.terminal`, each Markdown value through `escape.markdown` (the escaping every
govops table shares).
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from engine.ledger.answers import DiffResult, EntrySummary, FieldChange, ItemChange
from engine.report.escape import markdown, terminal

_GROUPS = (("model", "models"), ("dataset", "datasets"), ("environment", "environments"),
           ("image", "images"), ("package", "packages"), ("driver", "drivers"))


def _entry(entry: EntrySummary) -> dict[str, Any]:
    return {"seq": entry.seq, "hash": entry.hash, "type": entry.type, "time": entry.time,
            "revision": entry.revision, "stack": entry.stack}


def _item(change: ItemChange) -> dict[str, Any]:
    return {"kind": change.kind, "name": change.name, "environment": change.environment,
            "change": change.change, "before": change.before, "after": change.after,
            "fields": list(change.fields),
            "old": None if change.old is None else {"version": change.old[0],
                                                    "digest": change.old[1]},
            "new": None if change.new is None else {"version": change.new[0],
                                                    "digest": change.new[1]}}


def diff_json(result: DiffResult) -> dict[str, Any]:
    out: dict[str, Any] = {"before": _entry(result.before), "after": _entry(result.after)}
    for kind, plural in _GROUPS:
        out[plural] = [_item(c) for c in result.items if c.kind == kind]
    out["waivers"] = {"added": list(result.waivers_added),
                      "removed": list(result.waivers_removed)}
    out["manifests"] = {"recorded": result.manifests_recorded,
                        "changes": [{"manifest": c.manifest, "field": c.field,
                                     "before": c.before, "after": c.after,
                                     "follows": c.follows} for c in result.manifests]}
    return out


def render_diff_json(result: DiffResult) -> str:
    return json.dumps(diff_json(result), indent=2, sort_keys=True) + "\n"


def _heading(result: DiffResult) -> str:
    a, b = result.before, result.after
    return (f"{a.type} #{a.seq} ({a.stack}, {(a.revision or '')[:12]}, {a.time}) -> "
            f"{b.type} #{b.seq} ({b.stack}, {(b.revision or '')[:12]}, {b.time})")


def _item_line(change: ItemChange) -> str:
    where = f" ({change.environment})" if change.environment else ""
    if change.change == "added":
        return f"+ {change.name} {change.after or ''}{where}".rstrip()
    if change.change == "removed":
        return f"- {change.name} {change.before or ''}{where}".rstrip()
    fields = f" [{', '.join(change.fields)}]" if change.fields else ""
    return f"~ {change.name} {change.before} -> {change.after}{where}{fields}"


def _value(value: Any) -> str:
    if value is None:
        return "(none)"
    return value if isinstance(value, str) else json.dumps(value)


def _field_line(change: FieldChange) -> str:
    if not change.field:
        return f"{'+' if change.after else '-'} {change.manifest}"
    follows = f" (follows {change.follows})" if change.follows else ""
    return (f"~ {change.manifest} {change.field}: {_value(change.before)} -> "
            f"{_value(change.after)}{follows}")


def render_diff_text(result: DiffResult) -> str:
    lines = [_heading(result)]
    sections: list[tuple[str, Sequence[str]]] = [
        (plural, [_item_line(c) for c in result.items if c.kind == kind])
        for kind, plural in _GROUPS]
    sections.append(("waivers", [f"+ {w}" for w in result.waivers_added]
                     + [f"- {w}" for w in result.waivers_removed]))
    manifests = [_field_line(c) for c in result.manifests]
    if not result.manifests_recorded:
        manifests = ["(not compared: an entry records no manifests.json)"]
    sections.append(("manifests", manifests))
    changed = [(name, rows) for name, rows in sections if rows]
    if not changed:
        lines.append("no changes")
    for name, rows in changed:
        lines.append(f"{name}:")
        lines += [f"  {row}" for row in rows]
    return "\n".join(terminal(line) for line in lines) + "\n"


def _md(value: Any) -> str:
    """A table cell: nothing in it can end the cell, the row or start markup."""
    return markdown(_value(value))


def render_diff_markdown(result: DiffResult) -> str:
    lines = [f"### Deployment diff: {_md(_heading(result))}", ""]
    if result.items:
        lines += ["| kind | name | environment | change | before | after |",
                  "|---|---|---|---|---|---|"]
        lines += [f"| {c.kind} | {_md(c.name)} | {_md(c.environment or '')} | {c.change} | "
                  f"{_md(c.before)} | {_md(c.after)} |" for c in result.items]
        lines.append("")
    if result.waivers_added or result.waivers_removed:
        lines += [f"- waiver added: {_md(w)}" for w in result.waivers_added]
        lines += [f"- waiver no longer used: {_md(w)}" for w in result.waivers_removed]
        lines.append("")
    if result.manifests:
        lines += ["| manifest | field | before | after | follows |", "|---|---|---|---|---|"]
        lines += [f"| {_md(c.manifest)} | {_md(c.field or '(whole manifest)')} | "
                  f"{_md(c.before)} | {_md(c.after)} | {_md(c.follows or '')} |"
                  for c in result.manifests]
        lines.append("")
    elif not result.manifests_recorded:
        lines += ["Manifests not compared: an entry records no manifests.json.", ""]
    if len(lines) == 2:
        lines += ["No changes.", ""]
    return "\n".join(lines)
