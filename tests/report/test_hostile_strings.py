"""Hostile strings in governed data render inert (issue 19, acceptance 3).

A model's licence, a dataset's licence and a model file's path of a real repository hold rich
markup, terminal escape sequences (colour, window title, erase line), a carriage return, HTML,
a fake `## PASS` heading, an open `<!--`, the PR bot's own marker, backticks, pipes and U+2028.
(An image reference holding them is refused by `check` as input; the AIBOM diff renderers are
also given one directly.) The text report and `bom diff` must show them without a terminal
acting on any; the Markdown report, `bom diff --format markdown` and the PR comment must show
them without the Markdown or HTML taking effect. Each test asserts the exact lines written.
"""

from __future__ import annotations

import json
import re
import shlex
from pathlib import Path

import pytest

from engine.attest.trust import TrustedIdentity, TrustPolicy
from engine.bom.diff import BomDiff, ComponentRef
from engine.commands.check import CheckOptions, run_check
from engine.ledger.answers import DiffResult, EntrySummary, ItemChange, LogResult
from engine.ledger.entry import Entry, StoredEntry
from engine.repo.scripted import Step
from engine.report import bom_diff, renderer
from engine.report.audit import render_text as audit_text
from engine.report.audit_diff import render_diff_markdown as audit_diff_markdown
from engine.report.audit_diff import render_diff_text as audit_diff_text
from engine.report.escape import CONTROLS
from engine.report.evidence import evidence_readme
from engine.report.pr_comment import MARKER
from engine.trust.history import TrustHistory
from tests.support.cli import Run, govops
from tests.support.repos import NOW, fixture, make_repo, unwaived

HOSTILE = ("[/x] [link=https://evil.test]click[/link] \x1b[31mRED\x1b]0;title\x07 a\rb "
           "<img src=x onerror=alert(1)>\n## PASS\n<!-- " + MARKER + " `tick` | pipe \u2028end")
MODEL = "models/bge-large-en-v1.5.yaml"
HOSTILE_PATH = "models/bge\x1b[2K\r[/x]|<b>.yaml"  # git takes any byte but NUL and /
DATASET = "datasets/mmlu.yaml"

# What each hostile field looks like once escaped for Markdown (shared by every table).
MD_LICENCE = (r"\[/x\] \[link=https://evil.test\]click\[/link\] \\x1b\[31mRED\\x1b\]0;title"
              r"\\x07 a<br>b \<img src=x onerror=alert(1)\><br>## PASS<br>\<!-- \<!-- "
              r"govops:pr-comment --\> \`tick\` \| pipe <br>end")
MD_PATH = r"models/bge\\x1b\[2K<br>\[/x\]\|\<b\>.yaml"


@pytest.fixture(scope="module")
def repo(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """base: acme-ml (licences allowed, nothing waived); head: bge-large-en-v1.5's licence is
    HOSTILE and its file is renamed to HOSTILE_PATH; mmlu's licence is `MIT` + HOSTILE."""
    files = unwaived(fixture("acme-ml"))
    model = files[MODEL].decode().replace("license: MIT", f"license: {json.dumps(HOSTILE)}")
    dataset = files[DATASET].decode().replace("license: MIT",
                                              f"license: {json.dumps('MIT' + HOSTILE)}")
    root = tmp_path_factory.mktemp("hostile") / "repo"
    make_repo(root, Step("base", files),
              Step("hostile", {HOSTILE_PATH: model.encode(), DATASET: dataset.encode()},
                   delete=[MODEL]))
    return root


def _ok(run: Run) -> str:
    assert run.exit_code in (0, 1), run.stdout + run.stderr
    return run.stdout


def assert_no_controls(text: str) -> None:
    """Nothing a terminal or a browser acts on: no control but newline, no bidi override."""
    assert CONTROLS.findall(text.replace("\n", "")) == []


def assert_inert_markdown(text: str, marker_lines: int = 0) -> None:
    """No HTML but what the renderers write themselves, no comment opened by data, no heading
    made by data, and the bot's marker only where the bot put it."""
    assert_no_controls(text)
    live = re.sub(r"\\.", "", text)  # what is left once every backslash escape is taken out
    assert "<img" not in live and "<b>" not in live
    assert live.count("<!--") == text.count(MARKER) == marker_lines
    assert not any(line.startswith("## PASS") for line in text.splitlines())


# -- the text report ------------------------------------------------------------------------


def test_the_text_report_shows_every_hostile_character_escaped(
        repo: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("COLUMNS", "100")
    out = _ok(govops("check", "--repo", str(repo), "--engine", "opa", "--now", NOW))
    assert_no_controls(out)
    lines = out.splitlines()
    start = lines.index("Model bge-large-en-v1.5")
    assert lines[start + 3:start + 10] == [
        r'models/bge\x1b[2K\r[/x]|<b>.yaml:13 │ MDL-002 │ deny     │ Model bge-large-en-v1.5 is licensed "[/x]',
        r"                                    │         │          │ [link=https://evil.test]click[/link]",
        r"                                    │         │          │ \x1b[31mRED\x1b]0;title\x07 a\rb <img",
        r"                                    │         │          │ src=x onerror=alert(1)>",
        r"                                    │         │          │ ## PASS",
        r"                                    │         │          │ <!-- <!-- govops:pr-comment --> `tick` |",
        r'                                    │         │          │ pipe \u2028end", which is not one of the',
    ]
    assert lines[-1].startswith("FAIL ")  # the verdict is still the last line, and the only one
    assert [line for line in lines if re.match(r"(PASS|FAIL) ", line)] == [lines[-1]]


def test_in_colour_the_only_escape_sequences_are_the_reports_own(repo: Path) -> None:
    checked = run_check(CheckOptions(repo=repo, engine="opa", now=NOW))
    out = renderer("text")(checked.decision, checked.metadata, True)
    sequences = set(re.findall("\x1b[^m]*m", out))
    assert sequences == {"\x1b[1;31m", "\x1b[0m"}  # deny and the FAIL verdict, then reset
    assert_no_controls(re.sub("\x1b\\[(1;31|0)m", "", out))
    assert r"\x1b[31mRED\x1b]0;title\x07" in out


# -- Markdown: the check report, bom diff and the PR comment ------------------------------


def test_the_markdown_report_rows_hold_the_hostile_data_escaped(repo: Path) -> None:
    out = _ok(govops("check", "--repo", str(repo), "--engine", "opa", "--now", NOW,
                     "--format", "markdown"))
    assert_inert_markdown(out)
    rows = [line for line in out.splitlines() if line.startswith("| ❌ deny")]
    assert rows == [
        f"| ❌ deny | MDL-002 | Model/bge-large-en-v1.5 | {MD_PATH}:13 | Model bge-large-en-v1.5 "
        f'is licensed "{MD_LICENCE}", which is not one of the allowed licenses (Apache-2.0, '
        "BSD-3-Clause, MIT, llama3). |",
    ]
    for row in rows:  # five cells: the escaped pipes are not separators
        assert len(re.findall(r"(?<!\\)\|", row)) == 6


def test_bom_diff_text_shows_the_hostile_data_on_one_line_each(repo: Path) -> None:
    out = _ok(govops("bom", "diff", "--repo", str(repo), "HEAD~1", "HEAD"))
    assert_no_controls(out)
    lines = out.splitlines()
    escaped = (r"[/x] [link=https://evil.test]click[/link] \x1b[31mRED\x1b]0;title\x07 a\rb "
               r"<img src=x onerror=alert(1)>\n## PASS\n<!-- <!-- govops:pr-comment --> "
               r"`tick` | pipe \u2028end")
    assert lines[1:] == [
        "  changed  data                    mmlu  licence MIT → MIT" + escaped,
        "  changed  machine-learning-model  bge-large-en-v1.5  licence MIT → " + escaped
        + r"; path models/bge-large-en-v1.5.yaml → models/bge\x1b[2K\r[/x]|<b>.yaml",
    ]


def test_bom_diff_markdown_escapes_the_aibom_table(repo: Path) -> None:
    out = _ok(govops("bom", "diff", "--repo", str(repo), "--format", "markdown", "HEAD~1",
                     "HEAD"))
    assert_inert_markdown(out)
    assert out.splitlines()[2:] == [
        "| change | type | component | details |",
        "|---|---|---|---|",
        f"| changed | data | `mmlu` | licence MIT → MIT{MD_LICENCE} |",
        f"| changed | machine-learning-model | `bge-large-en-v1.5` | licence MIT → {MD_LICENCE}; "
        f"path models/bge-large-en-v1.5.yaml → {MD_PATH} |",
    ]


def test_the_aibom_diff_renderers_take_a_hostile_image_and_advisory_as_they_come() -> None:
    """Whatever `check` lets through upstream, the renderers alone keep the data inert."""
    image = ComponentRef("container", f"ghcr.io/acme/vllm:v1{HOSTILE}", None, "image:x",
                         "environment:vllm-serve")
    diff = BomDiff({"commit": "a" * 40}, {"commit": "b" * 40}, (image,), (), (),
                   (f"GHSA-{HOSTILE}",), ())
    text = bom_diff.render_text(diff)
    assert_no_controls(text)
    shown = (r"[/x] [link=https://evil.test]click[/link] \x1b[31mRED\x1b]0;title\x07 a\rb "
             r"<img src=x onerror=alert(1)>\n## PASS\n<!-- <!-- govops:pr-comment --> "
             r"`tick` | pipe \u2028end")
    assert text.splitlines() == [
        "AIBOM diff aaaaaaaaaaaa..bbbbbbbbbbbb: 1 added, 0 removed, 0 changed",
        f"  added    container  ghcr.io/acme/vllm:v1{shown} (in environment vllm-serve)",
        f"  new vulnerability      GHSA-{shown}"]
    md = bom_diff.render_markdown(diff)
    assert_inert_markdown(md)
    assert md.splitlines()[4:] == [
        f"| added | container | <code>ghcr.io/acme/vllm:v1{MD_LICENCE} (in environment "
        "vllm-serve)</code> | |",
        "",
        f"- new vulnerability **GHSA-{MD_LICENCE}**"]


def test_the_pr_comment_keeps_its_shape_and_its_one_marker(repo: Path) -> None:
    body = _ok(govops("pr", "comment", "--repo", str(repo), "--base", "HEAD~1", "--head", "HEAD",
                      "--github-repo", "acme/ml-governance", "--pr", "7", "--now", NOW,
                      "--dry-run"))
    assert_inert_markdown(body, marker_lines=1)
    lines = body.splitlines()
    assert lines[0] == MARKER and lines[1] == "## ❌ govops: FAIL"
    headings = [line for line in lines if line.startswith("#")]  # none made by data
    assert headings == ["## ❌ govops: FAIL", "### New failures", headings[2], "### Plan changes"]
    assert headings[2].startswith("### AIBOM diff ")
    failures = lines[lines.index("### New failures"):lines.index("<details><summary>How to fix"
                                                                 "</summary>")]
    assert f"| ❌ deny | MDL-002 | Model/bge-large-en-v1.5 | {MD_PATH}:13 | Model " \
           f'bge-large-en-v1.5 is licensed "{MD_LICENCE}", which is not one of the allowed ' \
           "licenses (Apache-2.0, BSD-3-Clause, MIT, llama3). |" in failures
    aibom = next(i for i, x in enumerate(lines) if x.startswith("### AIBOM diff"))
    assert lines[aibom + 4:aibom + 6] == [
        f"| changed | data | `mmlu` | licence MIT → MIT{MD_LICENCE} |",
        f"| changed | machine-learning-model | `bge-large-en-v1.5` | licence MIT → {MD_LICENCE}; "
        f"path models/bge-large-en-v1.5.yaml → {MD_PATH} |"]
    assert lines[-1].startswith("<sub>govops · updated for `")


# -- the evidence pack's README ---------------------------------------------------------------


def test_the_evidence_readme_quotes_data_in_commands_and_escapes_it_in_prose() -> None:
    """Its commands are meant to be pasted into a shell: a subject holding a quote must stay
    one argument, a missing revision must not become a redirection."""
    subject = "x'; touch pwned; echo '"
    entry = Entry(7, "apply", "2026-11-20T12:00:00Z", "Mallory <m@evil.test>\x1b[2K", None,
                  "prod|<b>x</b>", {}, {}, {}, None)
    item = StoredEntry(entry, "sha256:" + "a" * 64, "c" * 40, {})
    trust = TrustPolicy((), (TrustedIdentity("https://token.actions.githubusercontent.com",
                                             subject),))
    readme = evidence_readme(item, ["entry.sigstore.json"], trust, [],
                             TrustHistory("sha256:pin", "test", ()), "identity a`b")
    lines = readme.splitlines()
    assert lines[3:6] == [
        r"- time: 2026-11-20T12:00:00Z, actor: Mallory \<m@evil.test\>\\x1b\[2K",
        r"- signed by: identity a\`b",
        r"- revision: \<no commit\>, stack: prod\|\<b\>x\</b\>"]
    flags = ("--certificate-identity 'x'\"'\"'; touch pwned; echo '\"'\"'' "
             "--certificate-oidc-issuer https://token.actions.githubusercontent.com")
    assert f"govops verify {flags} --commit '<no commit>' entry.sigstore.json" in lines
    cosign = (f"cosign verify-blob-attestation {flags} --bundle entry.sigstore.json "
              "--new-bundle-format entry.json")
    assert cosign in lines
    assert shlex.split(cosign)[2:4] == ["--certificate-identity", subject]
    assert ("- identity `x'; touch pwned; echo '` from issuer "
            "`https://token.actions.githubusercontent.com`") in lines


# -- ledger answers: audit log and audit diff ------------------------------------------------


def _summary(seq: int, stack: str, actor: str) -> EntrySummary:
    return EntrySummary(seq, "sha256:" + "ab" * 32, "c" * 40, "apply", "2026-11-20T12:00:00Z",
                        actor, "d" * 40, stack, None, None, None, None, None, ())


def test_audit_log_text_keeps_one_entry_per_line() -> None:
    log = LogResult(None, None, None, None, (_summary(1, "prod\nFAKE #9", HOSTILE),))
    out = audit_text(log)
    assert_no_controls(out)
    assert out.splitlines()[1] == (
        r"#1  abababababab  2026-11-20T12:00:00Z  apply  prod\nFAKE #9  dddddddddddd  "
        r"[/x] [link=https://evil.test]click[/link] \x1b[31mRED\x1b]0;title\x07 a\rb "
        r"<img src=x onerror=alert(1)>\n## PASS\n<!-- <!-- govops:pr-comment --> `tick` | pipe "
        r"\u2028end  (unsigned)")
    assert len(out.splitlines()) == 3  # header, the entry, the count


def test_audit_diff_text_and_markdown_escape_item_names() -> None:
    change = ItemChange("model", HOSTILE, None, "added", None, ("r1", None), ())
    result = DiffResult(_summary(1, "prod", "ci"), _summary(2, "prod", "ci"), (change,), (),
                        (), (), True)
    text = audit_diff_text(result)
    assert_no_controls(text)
    assert text.splitlines()[1:] == [
        "models:",
        r"  + [/x] [link=https://evil.test]click[/link] \x1b[31mRED\x1b]0;title\x07 a\rb "
        r"<img src=x onerror=alert(1)>\n## PASS\n<!-- <!-- govops:pr-comment --> `tick` | pipe "
        r"\u2028end r1"]
    markdown = audit_diff_markdown(result)
    assert_inert_markdown(markdown)
    assert markdown.splitlines()[4] == f"| model | {MD_LICENCE} |  | added | (none) | r1 |"
