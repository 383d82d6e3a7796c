"""`# METADATA` annotations of policy modules: the title, severity and remediation of each id.

Read from the source text rather than through a backend, because rego-cpp has no annotation
support and reports (SARIF rules, the text table) need them whichever backend evaluated.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from engine.errors import InputError

# A package path as Rego writes it, quoted parts included (`package acme["k8s-rules"]`): used
# as it is in a query, `data.acme["k8s-rules"].test_x` names the same document.
_PACKAGE = re.compile(r'^package\s+([A-Za-z_]\w*(?:\.[A-Za-z_]\w*|\["[^"\n]*"\])*)', re.M)


@dataclass(frozen=True)
class PolicyMeta:
    id: str
    title: str
    description: str
    severity: str
    remediation: str
    path: str
    package: str
    needs_base: bool = False  # `needs: base`: evaluated only against a base revision


def package_of(source: str) -> str | None:
    match = _PACKAGE.search(source)
    return match.group(1) if match else None


def _blocks(source: str) -> list[tuple[int, str]]:
    """(line, yaml text) of each METADATA comment block."""
    blocks: list[tuple[int, str]] = []
    lines = source.splitlines()
    i = 0
    while i < len(lines):
        if lines[i].strip() == "# METADATA":
            start = i + 1
            body: list[str] = []
            i += 1
            while i < len(lines) and lines[i].lstrip().startswith("#"):
                text = lines[i].lstrip()[1:]
                body.append(text[1:] if text.startswith(" ") else text)
                i += 1
            blocks.append((start, "\n".join(body)))
        else:
            i += 1
    return blocks


def read_metadata(path: str, source: str) -> list[PolicyMeta]:
    from ruamel.yaml import YAML
    from ruamel.yaml.error import YAMLError

    package = package_of(source) or ""
    found: list[PolicyMeta] = []
    for line, text in _blocks(source):
        try:
            raw: Any = YAML(typ="safe", pure=False).load(text) or {}
        except YAMLError as exc:
            raise InputError(path, line, f"malformed METADATA block: {exc}") from None
        if not isinstance(raw, dict):
            raise InputError(path, line, "METADATA must be a YAML mapping")
        custom = raw.get("custom") or {}
        if not isinstance(custom, dict) or "id" not in custom:
            continue
        found.append(PolicyMeta(
            id=str(custom["id"]),
            title=str(raw.get("title", "")),
            description=" ".join(str(raw.get("description", "")).split()),
            severity=str(custom.get("severity", "deny")),
            remediation=" ".join(str(custom.get("remediation", "")).split()),
            path=path,
            package=package,
            needs_base=custom.get("needs") == "base",
        ))
    return found
