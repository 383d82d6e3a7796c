"""Renderings of a BomDiff: text for terminals, JSON for machines, Markdown for pull requests.
They only format what `engine.bom.diff` computed.

Every name, version, licence and image reference in a diff comes from a governed repository,
so none is written raw: the text passes each through `escape.terminal` (no control character
reaches the terminal) and the Markdown through `escape.markdown` and `escape.code` (nothing
ends a cell or a row, opens HTML or a comment, or copies the PR bot's marker)."""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from typing import Any

from engine.bom.diff import BomDiff, ComponentChange, ComponentRef, FieldChange
from engine.report.escape import code, markdown, terminal


def _short(value: Any) -> str:
    if value is None:
        return "-"
    text = str(value)
    if text.startswith("sha256:") and len(text) > 19:
        return text[:19] + "…"
    if len(text) > 16 and re.fullmatch(r"[0-9a-f]+", text):  # a git revision
        return text[:12] + "…"
    return text


def _hashes(value: Any) -> str:
    if not value:
        return "-"
    first = value[0]
    return f"{first['alg']}:{first['content'][:12]}…" + (f" (+{len(value) - 1})"
                                                          if len(value) > 1 else "")


def _licences(value: Any) -> str:
    names = [str(item.get("license", {}).get("id") or item.get("license", {}).get("name")
                 or item.get("expression") or "?") for item in value or []]
    return ", ".join(names) or "-"


def _value(value: Any) -> str:
    if isinstance(value, list):
        return "[" + ", ".join(_short(v) for v in value) + "]"
    if isinstance(value, dict):
        return "{…}"
    return _short(value)


def describe(change: FieldChange) -> str:
    """One field's change in a few words."""
    if change.field == "version":
        return f"version {_short(change.before)} → {_short(change.after)}"
    if change.field == "hashes":
        return f"hashes {_hashes(change.before)} → {_hashes(change.after)}"
    if change.field == "licenses":
        return f"licence {_licences(change.before)} → {_licences(change.after)}"
    name = change.field.removeprefix("properties.").removeprefix("govops:")
    return f"{name} {_value(change.before)} → {_value(change.after)}"


def _within(component: ComponentRef) -> str:
    if not component.within:
        return ""
    kind, _, name = component.within.partition(":")
    return f" (in {kind} {name})"


def _label(component: ComponentRef) -> str:
    label = f"{component.name} {_short(component.version)}" if component.version \
        else component.name
    return label + _within(component)


def _change_line(change: ComponentChange) -> str:
    return "; ".join(describe(f) for f in change.fields)


def _header(diff: BomDiff) -> str:
    return (f"AIBOM diff {str(diff.base.get('commit'))[:12]}..{str(diff.head.get('commit'))[:12]}"
            f": {len(diff.added)} added, {len(diff.removed)} removed, "
            f"{len(diff.changed)} changed")


def render_text(diff: BomDiff) -> str:
    lines = [terminal(_header(diff))]
    rows: list[tuple[str, str, str, str]] = []
    rows += [("added", c.type, _label(c), "") for c in diff.added]
    rows += [("removed", c.type, _label(c), "") for c in diff.removed]
    rows += [("changed", c.after.type, c.after.name + _within(c.after), _change_line(c))
             for c in diff.changed]
    rows = [(what, terminal(kind), terminal(label), terminal(detail))
            for what, kind, label, detail in rows]
    type_width = max((len(r[1]) for r in rows), default=0)
    for what, kind, label, detail in rows:
        lines.append(f"  {what:8} {kind:{type_width}}  {label}" + (f"  {detail}" if detail else ""))
    lines += [f"  new vulnerability      {terminal(v)}" for v in diff.vulnerabilities_added]
    lines += [f"  resolved vulnerability {terminal(v)}" for v in diff.vulnerabilities_removed]
    if diff.empty:
        lines.append("  no component changed")
    return "\n".join(lines) + "\n"


def render_json(diff: BomDiff) -> str:
    return json.dumps(diff.as_json(), indent=2, ensure_ascii=False) + "\n"


def render_markdown(diff: BomDiff) -> str:
    lines = [f"### {markdown(_header(diff))}", ""]
    if diff.empty:
        return "\n".join([*lines, "No component changed.", ""])
    if diff.added or diff.removed or diff.changed:  # no empty table when only advisories moved
        lines += ["| change | type | component | details |", "|---|---|---|---|"]
    lines += [f"| added | {markdown(c.type)} | {code(_label(c))} | |" for c in diff.added]
    lines += [f"| removed | {markdown(c.type)} | {code(_label(c))} | |" for c in diff.removed]
    lines += [f"| changed | {markdown(c.after.type)} | {code(c.after.name)}"
              f"{markdown(_within(c.after))} | {markdown(_change_line(c))} |"
              for c in diff.changed]
    if diff.vulnerabilities_added or diff.vulnerabilities_removed:
        lines.append("")
        lines += [f"- new vulnerability **{markdown(v)}**" for v in diff.vulnerabilities_added]
        lines += [f"- resolved vulnerability {markdown(v)}" for v in diff.vulnerabilities_removed]
    return "\n".join(lines) + "\n"


RENDERERS: dict[str, Callable[[BomDiff], str]] = {
    "text": render_text, "json": render_json, "markdown": render_markdown,
}
