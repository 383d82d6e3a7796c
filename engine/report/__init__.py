"""Output formats. Each renders a data model of a stage (a Decision here; an AIBOM diff, the
ledger's answers, a plan, the PR comment in their own modules) and computes nothing of its own.

A new Decision format is one new module registered in _FORMATS; nothing else changes.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Mapping

from engine.policy.decision import Decision
from engine.policy.metadata import PolicyMeta

Renderer = Callable[[Decision, Mapping[str, PolicyMeta], bool], str]

# format name -> (module, function); imported on use so `--format json` never loads rich.
_FORMATS = {
    "text": ("engine.report.text", "render_text"),
    "json": ("engine.report.json_format", "render_json"),
    "markdown": ("engine.report.markdown", "render_markdown"),
    "sarif": ("engine.report.sarif", "render_sarif"),
    "junit": ("engine.report.junit", "render_junit"),
    "github": ("engine.report.github", "render_github"),
}
FORMAT_NAMES = tuple(_FORMATS)


def renderer(name: str) -> Renderer:
    module, function = _FORMATS[name]
    found: Renderer = getattr(importlib.import_module(module), function)
    return found


__all__ = ["FORMAT_NAMES", "Renderer", "renderer"]
