"""The check report formats (sarif, junit, github, markdown): each renders the real Decision
of a committed fixture, and each check has a failing input beside the passing one."""

from __future__ import annotations

import dataclasses
import json
import xml.etree.ElementTree as ET
from collections import Counter
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import jsonschema_rs
import pytest

from engine.commands.check import Checked, CheckOptions, run_check
from engine.policy.decision import Decision, Result, WaivedResult
from engine.policy.metadata import PolicyMeta
from engine.repo import RevisionInfo
from engine.repo.scripted import Step
from engine.report import FORMAT_NAMES, renderer
from engine.report.sarif import FINGERPRINT_KEY, fingerprint
from tests.support.approvals import approve_all
from tests.support.repos import NOW, ROOT, fixture, make_repo

# A copy of ../shared/schemas/sarif-schema-2.1.0.json (OASIS SARIF 2.1.0), so a clone tests alone.
SCHEMA = json.loads((ROOT / "tests" / "schemas" / "sarif-schema-2.1.0.json").read_text())
NEW_FORMATS = ("markdown", "sarif", "junit", "github")
REV = RevisionInfo("a" * 40, "b" * 40, "A <a@acme.test>", "2026-11-02T10:00:00Z", "HEAD")
META = {"MDL-005": PolicyMeta("MDL-005", "No pickles", "Pickles run code.", "deny",
                              "Use safetensors.", "@govops/mdl_005.rego",
                              "govops.policies.mdl_005")}


def _checked(root: Path, name: str) -> Checked:
    make_repo(root, Step(name, fixture(name)))
    if name == "acme-ml":
        approve_all(root, root.parent / "keys")
    return run_check(CheckOptions(repo=root, engine="opa", now=NOW))


@pytest.fixture(scope="module")
def violations(tmp_path_factory: pytest.TempPathFactory) -> Checked:
    return _checked(tmp_path_factory.mktemp("violations") / "repo", "violations")


@pytest.fixture(scope="module")
def acme_ml(tmp_path_factory: pytest.TempPathFactory) -> Checked:
    return _checked(tmp_path_factory.mktemp("acme") / "repo", "acme-ml")


def render(fmt: str, checked: Checked | Decision,
           metadata: Mapping[str, PolicyMeta] | None = None) -> str:
    if isinstance(checked, Checked):
        return renderer(fmt)(checked.decision, checked.metadata, False)
    return renderer(fmt)(checked, metadata if metadata is not None else META, False)


def hand_decision(*results: Result, waived: tuple[WaivedResult, ...] = ()) -> Decision:
    return Decision(REV, None, "opa", "1", "sha256:p", "sha256:i", results, waived, (), 1)


def result(msg: str = "pickle", **changes: Any) -> Result:
    base = Result("models/m.yaml", 7, "MDL-005", "Model", "m", "deny", msg, "spec.format")
    return dataclasses.replace(base, **changes)


def sarif_errors(document: Any) -> list[str]:
    """Schema errors from two independent validators, jsonschema_rs and jsonschema."""
    errors = [str(e) for e in jsonschema_rs.validator_for(SCHEMA).iter_errors(document)]
    import jsonschema  # installed by the dev extra (cyclonedx-python-lib[json-validation])

    cls = jsonschema.validators.validator_for(SCHEMA)  # the draft the schema declares
    validator = cls(SCHEMA, format_checker=cls.FORMAT_CHECKER)
    return errors + [e.message for e in validator.iter_errors(document)]


def test_the_four_formats_are_registered_renderers(acme_ml: Checked) -> None:
    assert set(NEW_FORMATS) <= set(FORMAT_NAMES)
    for fmt in NEW_FORMATS:
        assert render(fmt, acme_ml) == render(fmt, acme_ml)  # same Decision, same bytes
    with pytest.raises(KeyError):
        renderer("yaml")


# --- SARIF ---------------------------------------------------------------------------------


def test_sarif_of_violations_is_valid_and_maps_every_result(violations: Checked) -> None:
    decision = violations.decision
    assert decision.verdict == "fail" and len(decision.results) > 20
    document = json.loads(render("sarif", violations))
    assert sarif_errors(document) == []
    (run,) = document["runs"]
    assert run["tool"]["driver"]["name"] == "govops"
    assert run["automationDetails"]["id"] == "govops/" + decision.decision_id
    rules = run["tool"]["driver"]["rules"]
    ids = [rule["id"] for rule in rules]
    assert ids == sorted(ids)
    for policy, meta in violations.metadata.items():
        (rule,) = [r for r in rules if r["id"] == policy]
        assert rule["shortDescription"]["text"] == meta.title
        assert rule["fullDescription"]["text"] == meta.description
        assert rule["help"]["text"] == meta.remediation
        assert rule["defaultConfiguration"]["level"] == "error"  # every default policy denies
    assert len(run["results"]) == len(decision.results)
    for got, want in zip(run["results"], decision.results, strict=True):
        (location,) = got["locations"]
        assert location["physicalLocation"]["artifactLocation"] == {
            "uri": want.file, "uriBaseId": "%SRCROOT%"}
        assert location["physicalLocation"]["region"]["startLine"] == want.line
        assert rules[got["ruleIndex"]]["id"] == got["ruleId"] == want.id
        assert got["level"] == "error"
        assert got["message"]["text"] == want.msg
        assert got["partialFingerprints"][FINGERPRINT_KEY] == fingerprint(want)
        assert "baselineState" not in got and "suppressions" not in got
    assert len({r["partialFingerprints"][FINGERPRINT_KEY] for r in run["results"]}) == len(
        {r.fingerprint for r in decision.results})


def test_broken_sarif_does_not_validate(violations: Checked) -> None:
    document = json.loads(render("sarif", violations))
    without_version = {k: v for k, v in document.items() if k != "version"}
    assert sarif_errors(without_version)
    line_zero = json.loads(render("sarif", violations))
    line_zero["runs"][0]["results"][0]["locations"][0]["physicalLocation"]["region"][
        "startLine"] = 0
    assert sarif_errors(line_zero)
    bad_level = json.loads(render("sarif", violations))
    bad_level["runs"][0]["results"][0]["level"] = "deny"
    assert sarif_errors(bad_level)


def test_sarif_of_acme_has_no_unsuppressed_error(acme_ml: Checked,
                                                 violations: Checked) -> None:
    document = json.loads(render("sarif", acme_ml))
    assert sarif_errors(document) == []
    (run,) = document["runs"]
    errors = [r for r in run["results"] if r["level"] == "error" and not r.get("suppressions")]
    assert errors == []
    # The waived result is there, suppressed, naming its waiver.
    (waived,) = acme_ml.decision.waived
    (shown,) = [r for r in run["results"] if r.get("suppressions")]
    assert shown["ruleId"] == waived.result.id
    assert shown["suppressions"] == [{"kind": "external",
                                      "justification": f"waived by {waived.waiver}"}]
    assert {r["id"] for r in run["tool"]["driver"]["rules"]} >= {"ACME-001"}
    # The failing fixture: one unsuppressed error per deny.
    (bad,) = json.loads(render("sarif", violations))["runs"]
    denies = sum(1 for r in violations.decision.results if r.severity == "deny")
    assert sum(1 for r in bad["results"] if r["level"] == "error"
               and not r.get("suppressions")) == denies > 0


def test_sarif_rule_for_result_without_metadata_and_warn_level() -> None:
    decision = hand_decision(result(), result("soft", id="ORG-9", severity="warn",
                                              file="dir with space/x.yaml", line=0))
    document = json.loads(render("sarif", decision))
    assert sarif_errors(document) == []
    run = document["runs"][0]
    assert [r["id"] for r in run["tool"]["driver"]["rules"]] == ["MDL-005", "ORG-9"]
    pickle, soft = run["results"]
    assert pickle["level"] == "error" and soft["level"] == "warning"
    assert soft["ruleIndex"] == 1
    physical = soft["locations"][0]["physicalLocation"]
    assert physical["artifactLocation"]["uri"] == "dir%20with%20space/x.yaml"
    assert physical["region"]["startLine"] == 1


# --- JUnit ---------------------------------------------------------------------------------


def _pairs(decision: Decision) -> tuple[set[tuple[str, str, str]], set[tuple[str, str, str]]]:
    every = {(r.id, r.kind, r.name) for r in decision.results}
    every |= {(w.result.id, w.result.kind, w.result.name) for w in decision.waived}
    denied = {(r.id, r.kind, r.name) for r in decision.results if r.severity == "deny"}
    return every, denied


def _assert_counts_consistent(root: ET.Element) -> None:
    totals = Counter[str]()
    for suite in root.iter("testsuite"):
        cases = suite.findall("testcase")
        assert int(suite.get("tests", "-1")) == len(cases)
        assert int(suite.get("failures", "-1")) == sum(
            1 for c in cases if c.find("failure") is not None)
        assert int(suite.get("skipped", "-1")) == sum(
            1 for c in cases if c.find("skipped") is not None)
        assert suite.get("errors") == "0"
        for key in ("tests", "failures", "skipped"):
            totals[key] += int(suite.get(key, "0"))
    for key in ("tests", "failures", "skipped"):
        assert int(root.get(key, "-1")) == totals[key]


def test_junit_one_testcase_per_policy_and_object(violations: Checked,
                                                  acme_ml: Checked) -> None:
    text = render("junit", violations)
    assert text.startswith("<?xml version='1.0' encoding='utf-8'?>")
    root = ET.fromstring(text.encode())
    assert root.tag == "testsuites" and root.get("name") == "govops"
    _assert_counts_consistent(root)
    every, denied = _pairs(violations.decision)
    cases = {(c.get("classname"), *str(c.get("name")).split("/", 1)): c
             for c in root.iter("testcase") if c.get("name") != "all objects"}
    assert set(cases) == every
    assert len(list(root.iter("testcase"))) == len(cases) + len(
        set(violations.metadata) - {policy for policy, _, _ in every})
    assert int(root.get("failures", "-1")) == len(denied) > 0
    suites = {s.get("name") for s in root.iter("testsuite")}
    assert suites == set(violations.metadata) | {p for p, _, _ in every}
    # CHG-001 judges a change and no --base was given: its one "all objects" case is skipped
    # (it did not run), not passed (issue 17).
    (chg,) = [s for s in root.iter("testsuite") if s.get("name") == "CHG-001"]
    assert [c.get("name") for c in chg.iter("testcase")] == ["all objects"]
    assert chg.find("testcase/failure") is None
    assert chg.find("testcase/skipped").get("message") == (  # type: ignore[union-attr]
        "not evaluated: CHG-001 judges a change, and no base revision was given (--base)")
    properties = {p.get("name"): p.get("value") for p in chg.iter("property")}
    assert properties["decision_id"] == violations.decision.decision_id
    assert properties["verdict"] == "fail"
    assert properties["commit"] == violations.decision.revision.commit
    assert properties["engine"] == violations.decision.engine == "opa"
    assert properties["engine_version"] == violations.decision.engine_version
    # One failure lists every deny of the pair, file:line first.
    serve = cases[("ENV-001", "Environment", "serve-legacy")]
    assert serve.get("file") == "environments/serve-legacy.txt"
    lines = str(serve.findtext("failure")).splitlines()
    want = [f"{r.file}:{r.line}: {r.msg}" for r in violations.decision.results
            if (r.id, r.name) == ("ENV-001", "serve-legacy")]
    assert lines == want and len(want) > 1
    # The passing fixture: no failure, its waived pair is skipped.
    good = ET.fromstring(render("junit", acme_ml).encode())
    _assert_counts_consistent(good)
    assert good.get("failures") == "0" and good.get("skipped") == "2"  # a waiver, CHG-001
    skipped = [s.get("message") for s in good.iter("skipped")]
    assert skipped[1] == f"waived by {acme_ml.decision.waived[0].waiver}"
    assert str(skipped[0]).startswith("not evaluated: CHG-001")
    # With a base CHG-001 ran: its clean suite passes.
    with_base = dataclasses.replace(acme_ml.decision, base=acme_ml.decision.revision)
    based = ET.fromstring(render("junit", with_base, acme_ml.metadata).encode())
    assert based.get("skipped") == "1"


def test_junit_warnings_pass_with_system_out() -> None:
    warn = result("soft", severity="warn")
    root = ET.fromstring(render("junit", hand_decision(warn)).encode())
    (case,) = [c for c in root.iter("testcase") if c.get("classname") == "MDL-005"]
    assert case.find("failure") is None and case.find("skipped") is None
    assert case.findtext("system-out") == "warning: models/m.yaml:7: soft"
    denied = ET.fromstring(render("junit", hand_decision(result(), warn)).encode())
    (case,) = list(denied.iter("testcase"))
    assert case.find("failure") is not None and denied.get("failures") == "1"
    assert case.findtext("system-out") == "warning: models/m.yaml:7: soft"


def test_junit_escapes_xml_special_characters() -> None:
    nasty = 'a <b> & "c" \x01 ]]> end'
    text = render("junit", hand_decision(result(nasty, name="m<&>")))
    assert nasty not in text and "<b>" not in text
    root = ET.fromstring(text.encode())
    (failure,) = list(root.iter("failure"))
    expected = nasty.replace("\x01", "\ufffd")
    assert failure.get("message") == expected
    assert failure.text == f"models/m.yaml:7: {expected}"
    assert [c.get("name") for c in root.iter("testcase")] == ["Model/m<&>"]
    # The same text spliced in raw is not XML at all: escaping is what makes it parse.
    with pytest.raises(ET.ParseError):
        ET.fromstring(f"<failure message=\"{nasty}\">{nasty}</failure>")


# --- GitHub workflow commands ----------------------------------------------------------------


def _unescape(text: str) -> str:
    for code, char in (("%0D", "\r"), ("%0A", "\n"), ("%3A", ":"), ("%2C", ","), ("%25", "%")):
        text = text.replace(code, char)
    return text


def parse_command(line: str) -> tuple[str, dict[str, str], str]:
    """A workflow command read the way the Actions runner reads it."""
    assert line.startswith("::")
    head, _, data = line[2:].partition("::")
    command, _, props = head.partition(" ")
    properties = {}
    for item in props.split(","):
        key, _, value = item.partition("=")
        properties[key] = _unescape(value)
    return command, properties, _unescape(data)


def test_github_one_error_per_deny(violations: Checked, acme_ml: Checked) -> None:
    lines = render("github", violations).splitlines()
    denies = [r for r in violations.decision.results if r.severity == "deny"]
    errors = [line for line in lines if line.startswith("::error ")]
    assert len(errors) == len(denies) > 0
    for line, want in zip(errors, denies, strict=True):
        assert line.startswith(f"::error file={want.file},line={want.line},title={want.id} ")
        command, properties, message = parse_command(line)
        assert command == "error"
        assert properties["title"] == f"{want.id} {want.kind}/{want.name}"
        assert message == want.msg
    assert lines[-1].startswith(f"govops: FAIL {len(denies)} denied, 0 warnings, 0 waived")
    assert violations.decision.decision_id in lines[-1]
    good = render("github", acme_ml).splitlines()
    assert not [line for line in good if line.startswith("::error")]
    (notice,) = [line for line in good if line.startswith("::notice ")]
    waived = acme_ml.decision.waived[0]
    assert parse_command(notice)[2] == f"waived by {waived.waiver}: {waived.result.msg}"
    assert good[-1].startswith("govops: PASS 0 denied, 0 warnings, 1 waived")


def test_github_escapes_like_actions_toolkit() -> None:
    msg = "100% broken:\r\nline two, a::b"
    nasty = result(msg, file="odd,dir/a:b%.yaml", name="x,y")
    soft = result("50%", severity="warn", line=3)
    line, warn_line, _summary = render("github", hand_decision(nasty, soft)).splitlines()
    assert line == ("::error file=odd%2Cdir/a%3Ab%25.yaml,line=7,title=MDL-005 Model/x%2Cy"
                    "::100%25 broken:%0D%0Aline two, a::b")
    command, properties, message = parse_command(line)
    assert command == "error"
    assert properties == {"file": "odd,dir/a:b%.yaml", "line": "7", "title": "MDL-005 Model/x,y"}
    assert message == msg
    assert warn_line == "::warning file=models/m.yaml,line=3,title=MDL-005 Model/m::50%25"
    # Unescaped, the runner would read a different file and a truncated message.
    naive = f"::error file={nasty.file},line=7,title=t::{msg}"
    _, naive_properties, naive_message = parse_command(naive.splitlines()[0])
    assert naive_properties.get("file") != nasty.file and naive_message != msg


# --- Markdown --------------------------------------------------------------------------------


def _table_rows(text: str) -> list[str]:
    """The rows of the results and waivers tables (not of the pending approvals)."""
    results = text.split("### Waiver approvals pending", 1)[0]
    return [line for line in results.splitlines()
            if line.startswith("| ") and not line.startswith(("|  |", "| ---", "| Waiver"))]


def test_markdown_verdict_rows_and_waivers(violations: Checked, acme_ml: Checked) -> None:
    bad = render("markdown", violations)
    assert bad.splitlines()[0] == "## ❌ govops check: FAIL"
    rows = _table_rows(bad)
    assert len(rows) == len(violations.decision.results)
    assert all(row.startswith("| ❌ deny | ") for row in rows)
    assert "Waivers used" not in bad
    pending = bad.split("### Waiver approvals pending", 1)[1]
    assert [row.split(" | ")[0] for row in pending.splitlines() if row.startswith("| ")][2:] == [
        "| customer-chats-pii", "| legacy-image-ok", "| open-ended-pickle",
        "| research-license-long"]
    assert "| no trust root" not in pending and "cannot be verified" in pending
    assert f"commit `{str(violations.decision.revision.commit)[:12]}`" in bad
    assert f" · engine `{violations.decision.engine}` · decision `" in bad  # who answered
    meta = violations.metadata["MDL-005"]
    assert "<details><summary>How to fix</summary>" in bad
    assert f"- **MDL-005** {meta.title}: {meta.remediation}" in bad
    good = render("markdown", acme_ml)
    assert good.splitlines()[0] == "## ✅ govops check: PASS"
    assert "No policy failures." in good and "How to fix" not in good
    section = good.split("### Waivers used", 1)[1]
    (waived,) = acme_ml.decision.waived
    (row,) = _table_rows(section)
    assert row.startswith(f"| {waived.waiver} | legal@acme.test | {waived.result.id} | Model/")
    assert "Waiver approvals pending" not in good
    assert f"{waived.result.file}:{waived.result.line}" in row


def test_markdown_escapes_pipes_and_newlines() -> None:
    text = render("markdown", hand_decision(result("a|b\nc <img> `x`")))
    (row,) = _table_rows(text)
    assert "a\\|b<br>c \\<img\\> \\`x\\`" in row
    unescaped = row.replace("\\|", "")
    assert unescaped.count("|") == 6  # five columns, so six real separators
    assert "staged changes" not in text
    staged = dataclasses.replace(hand_decision(result()),
                                 revision=dataclasses.replace(REV, commit=None))
    assert "staged changes" in render("markdown", staged)


# --- status (--base) -------------------------------------------------------------------------


def test_status_shows_as_baseline_state_and_status_column(violations: Checked) -> None:
    plain = violations.decision
    marked = dataclasses.replace(plain, results=tuple(
        dataclasses.replace(r, status="new" if i % 2 == 0 else "existing")
        for i, r in enumerate(plain.results)))
    document = json.loads(render("sarif", marked, violations.metadata))
    assert sarif_errors(document) == []
    states = [r["baselineState"] for r in document["runs"][0]["results"]]
    assert states == ["new" if i % 2 == 0 else "unchanged" for i in range(len(plain.results))]
    text = render("markdown", marked, violations.metadata)
    assert "|  | Status | Policy | Object | Where | Message |" in text
    statuses = [row.split(" | ")[1] for row in _table_rows(text)]
    assert statuses == sorted(statuses, key=lambda s: s != "new") and set(statuses) == {
        "new", "existing"}
    table = render("text", marked, violations.metadata)
    assert "deny (new)" in table and "deny (existing)" in table
    titles = [parse_command(line)[1]["title"] for line in render(
        "github", marked, violations.metadata).splitlines()[:2]]
    assert titles[0].endswith(" (new)") and titles[1].endswith(" (existing)")
    # Without --base: no baselineState, no Status column, no suffix.
    unmarked = render("sarif", violations)
    assert "baselineState" not in unmarked
    assert "Status" not in render("markdown", violations)
    assert "(new)" not in render("github", violations)
    assert "(new)" not in render("text", violations)


def test_real_base_marks_only_the_added_failure_new(tmp_path: Path) -> None:
    files = fixture("violations")
    added = files["models/pickled-classifier.yaml"].replace(b"name: pickled-classifier",
                                                            b"name: pickled-two")
    make_repo(tmp_path / "r", Step("base", files),
              Step("head", {**files, "models/pickled-two.yaml": added}))
    checked = run_check(CheckOptions(repo=tmp_path / "r", base="HEAD~1", engine="opa", now=NOW))
    results = json.loads(render("sarif", checked))["runs"][0]["results"]
    new = [r for r in results if r["baselineState"] == "new"]
    assert [r["locations"][0]["physicalLocation"]["artifactLocation"]["uri"] for r in new] == [
        "models/pickled-two.yaml"]
    assert len(results) - 1 == sum(1 for r in results if r["baselineState"] == "unchanged") > 0
    rows = _table_rows(render("markdown", checked))
    assert rows[0].startswith("| ❌ deny | new | MDL-005 | Model/pickled-two |")
    assert all(" | existing | " in row for row in rows[1:])
