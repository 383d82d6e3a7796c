"""The Decision as JUnit XML, for CI systems that chart test reports (GitLab, Jenkins, Azure).

Why it exists: many CI servers show JUnit reports natively, so each policy becomes a test suite
and each object it failed on a test case. It renders the Decision and METADATA titles only; it
must never evaluate or drop a result.

Layout, fixed so the same Decision gives the same bytes:
- <testsuites name="govops"> holds one <testsuite name="<policy id>"> per id in METADATA or in
  any result (sorted), with properties decision_id, verdict, commit ("staged" for the index),
  engine and engine_version (which engine answered) and, when known, the policy's title.
- One <testcase name="<Kind>/<name>" classname="<policy id>"> per (policy, object) pair that
  has results, sorted by kind then name; `file` and `line` are those of the pair's first result
  by (file, line).
  - any deny: one <failure type="deny">; its message is the first deny's msg (with "(and N
    more)"), its text one "file:line: msg" line per deny;
  - warnings only: passes, warnings listed in <system-out>;
  - waived results only: <skipped message="waived by X[, Y]">;
  - warnings and waived results beside a failure or a skip are listed in <system-out>.
- A policy with no result gets one passing <testcase name="all objects">, or a skipped one
  when its METADATA says it `needs: base` and the decision compared with no base (CHG-001
  judges a change: without --base it did not run, and did not pass either).
- Counts: tests = test cases, failures = cases with <failure>, skipped = cases with
  <skipped>, errors = 0; the root sums its suites.
Characters XML 1.0 cannot carry (most C0 controls) are replaced by U+FFFD; ElementTree escapes
the rest.
"""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from engine.policy.decision import Decision, Result
from engine.policy.metadata import PolicyMeta

_NOT_XML = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff\ufffe\uffff]")


def _xml(text: str) -> str:
    return _NOT_XML.sub("\ufffd", text)


@dataclass(frozen=True)
class _Entry:
    result: Result
    waiver: str | None


def _where(result: Result) -> str:
    return f"{result.file}:{result.line}"


def _out_lines(entries: Sequence[_Entry]) -> list[str]:
    """Warnings, and waived results unless a <skipped> already lists them all."""
    if all(e.waiver is not None for e in entries):
        return []
    lines = [f"warning: {_where(e.result)}: {e.result.msg}" for e in entries
             if e.waiver is None and e.result.severity == "warn"]
    return lines + [f"waived by {e.waiver}: {_where(e.result)}: {e.result.msg}"
                    for e in entries if e.waiver is not None]


def _testcase(policy: str, kind: str, name: str, entries: Sequence[_Entry]) -> ET.Element:
    first = min(entries, key=lambda e: (e.result.file, e.result.line)).result
    case = ET.Element("testcase", {"name": _xml(f"{kind}/{name}"), "classname": _xml(policy),
                                   "file": _xml(first.file), "line": str(first.line)})
    denies = [e.result for e in entries if e.waiver is None and e.result.severity == "deny"]
    waivers = sorted({e.waiver for e in entries if e.waiver is not None})
    if denies:
        more = f" (and {len(denies) - 1} more)" if len(denies) > 1 else ""
        failure = ET.SubElement(case, "failure", {"message": _xml(denies[0].msg + more),
                                                  "type": "deny"})
        failure.text = _xml("\n".join(f"{_where(r)}: {r.msg}" for r in denies))
    elif all(e.waiver is not None for e in entries):
        skipped = ET.SubElement(case, "skipped",
                                {"message": _xml("waived by " + ", ".join(waivers))})
        skipped.text = _xml("\n".join(f"{_where(e.result)}: {e.result.msg}" for e in entries))
    out = _out_lines(entries)
    if out:
        ET.SubElement(case, "system-out").text = _xml("\n".join(out))
    return case


def _counts(element: ET.Element, cases: Sequence[ET.Element]) -> tuple[int, int, int]:
    failures = sum(1 for c in cases if c.find("failure") is not None)
    skipped = sum(1 for c in cases if c.find("skipped") is not None)
    element.set("tests", str(len(cases)))
    element.set("failures", str(failures))
    element.set("errors", "0")
    element.set("skipped", str(skipped))
    return len(cases), failures, skipped


def _suite(policy: str, entries: Sequence[_Entry], decision: Decision,
           meta: PolicyMeta | None) -> ET.Element:
    suite = ET.Element("testsuite", {"name": _xml(policy)})
    properties = ET.SubElement(suite, "properties")
    values = [("decision_id", decision.decision_id), ("verdict", decision.verdict),
              ("commit", decision.revision.commit or "staged"), ("engine", decision.engine),
              ("engine_version", decision.engine_version)]
    if meta is not None and meta.title:
        values.append(("title", meta.title))
    for key, value in values:
        ET.SubElement(properties, "property", {"name": key, "value": _xml(value)})
    objects: dict[tuple[str, str], list[_Entry]] = {}
    for entry in entries:
        objects.setdefault((entry.result.kind, entry.result.name), []).append(entry)
    cases = [_testcase(policy, kind, name, objects[(kind, name)])
             for kind, name in sorted(objects)]
    if not cases:
        case = ET.Element("testcase", {"name": "all objects", "classname": _xml(policy)})
        if meta is not None and meta.needs_base and decision.base is None:
            ET.SubElement(case, "skipped", {"message": f"not evaluated: {policy} judges a "
                                            "change, and no base revision was given (--base)"})
        cases = [case]
    _counts(suite, cases)
    suite.extend(cases)
    return suite


def render_junit(decision: Decision, metadata: Mapping[str, PolicyMeta], color: bool) -> str:
    entries = [_Entry(r, None) for r in decision.results]
    entries += [_Entry(w.result, w.waiver) for w in decision.waived]
    by_policy: dict[str, list[_Entry]] = {policy: [] for policy in metadata}
    for entry in entries:
        by_policy.setdefault(entry.result.id, []).append(entry)
    root = ET.Element("testsuites", {"name": "govops"})
    suites = [_suite(policy, by_policy[policy], decision, metadata.get(policy))
              for policy in sorted(by_policy)]
    cases = [case for suite in suites for case in suite.iter("testcase")]
    _counts(root, cases)
    root.extend(suites)
    ET.indent(root)
    body: bytes = ET.tostring(root, encoding="utf-8", xml_declaration=True)
    return body.decode("utf-8") + "\n"
