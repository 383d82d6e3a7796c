"""The Decision as GitHub Actions workflow commands: annotations on the pull request's files.

Why it exists: in a GitHub workflow, `::error file=...,line=...::msg` lines printed to stdout
become annotations on the diff without uploading anything. It renders the Decision only; it
must never evaluate or drop a result.

One line per result, in the Decision's order: `::error` for each deny, `::warning` for each
warn, then `::notice` for each waived result ("waived by X: msg"). The title is
"<id> <Kind>/<name>", plus " (new)" or " (existing)" when the result carries a --base status.
Escaping is exactly that of @actions/core (toCommandValue, escapeData, escapeProperty), so no
message or path can end a command early or inject another one:
- data: % -> %25, CR -> %0D, LF -> %0A;
- properties: the same, plus : -> %3A and , -> %2C.
Before that, every other control character in data (ESC, bidi overrides: engine.errors.CONTROLS)
is shown as its escape, as in every govops output: the log viewer would act on them.
The last line is a plain summary, which GitHub prints as-is in the log.
"""

from __future__ import annotations

import re
from collections.abc import Mapping

from engine.errors import one_line
from engine.policy.decision import Decision, Result
from engine.policy.metadata import PolicyMeta

_COMMAND = {"deny": "error", "warn": "warning"}
_LINE_BREAKS = re.compile("([\r\n])")


def escape_data(text: str) -> str:
    # CR and LF stay (as %0D and %0A, which the runner turns back into line breaks).
    inert = "".join(part if part in "\r\n" else one_line(part)
                    for part in _LINE_BREAKS.split(text))
    return inert.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")


def escape_property(text: str) -> str:
    return escape_data(text).replace(":", "%3A").replace(",", "%2C")


def _title(result: Result) -> str:
    status = f" ({result.status})" if result.status else ""
    return f"{result.id} {result.kind}/{result.name}{status}"


def annotation(command: str, result: Result, message: str) -> str:
    properties = {"file": result.file, "line": str(max(1, result.line)),
                  "title": _title(result)}
    joined = ",".join(f"{key}={escape_property(value)}" for key, value in properties.items())
    return f"::{command} {joined}::{escape_data(message)}"


def _plural(count: int, word: str) -> str:
    return f"{count} {word}" + ("" if count == 1 else "s")


def render_github(decision: Decision, metadata: Mapping[str, PolicyMeta], color: bool) -> str:
    lines = [annotation(_COMMAND[r.severity], r, r.msg) for r in decision.results]
    lines += [annotation("notice", w.result, f"waived by {w.waiver}: {w.result.msg}")
              for w in decision.waived]
    counts = decision.counts
    verdict = "PASS" if decision.verdict == "pass" else "FAIL"
    lines.append(f"govops: {verdict} {counts.denied} denied, "
                 f"{_plural(counts.warnings, 'warning')}, {counts.waived} waived "
                 f"(decision {decision.decision_id})")
    return "\n".join(lines) + "\n"
