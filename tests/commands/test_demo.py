"""`make demo` end to end: the story's exit codes, the trust root and Legal's approvals, receipts,
the fresh-clone verification, the PR comment and the plan all appear (issue 13, acceptance 4)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from tests.support.repos import ROOT


def _pythonpath() -> dict[str, str]:
    return {"PYTHONPATH": os.environ["PYTHONPATH"]} if "PYTHONPATH" in os.environ else {}


def test_the_demo_runs_its_whole_story(tmp_path: Path) -> None:
    """Also: it leaves no temporary directory behind (issue 17); its repositories are in the
    state folder's `demo/`, which the next run empties first."""
    temp, state = tmp_path / "tmp", tmp_path / "state"
    temp.mkdir()
    (state / "demo" / "from-an-earlier-run").mkdir(parents=True)
    run = subprocess.run([sys.executable, "-m", "engine.cli.demo"], cwd=ROOT, capture_output=True,
                         text=True, timeout=600,
                         env={"PATH": "/usr/bin:/bin", "COLUMNS": "200", "TMPDIR": str(temp),
                              "GOVOPS_STATE_DIR": str(state), **_pythonpath()})
    assert run.returncode == 0, run.stdout[-2000:] + run.stderr[-2000:]
    assert list(temp.iterdir()) == []
    assert not (state / "demo" / "from-an-earlier-run").exists()  # emptied first
    assert (state / "demo" / "acme-ml" / ".git").is_dir()  # kept for "try it yourself"
    assert f"{state / 'demo' / 'acme-ml'}" in " ".join(run.stdout.split())
    out = run.stdout
    assert "demo: expected exit codes" not in out
    assert out.count("PASS") >= 2 and "FAIL" in out
    flat = " ".join(out.split())
    assert "Waiver gemma-license-ok is not approved: it has 0 of the 1 approvals" in flat
    assert "govops approve gemma-license-ok --key demo-legal.key: ledger entry #2, approved " \
           "by legal@acme.test (1 of 1)" in flat
    assert "(waived by gemma-license-ok, approved by legal@acme.test)" in flat
    assert "audit verify: 4 entries, 6 signatures: holds" in out
    assert "pinned only by the fingerprint: audit verify 4 entries: holds; check HEAD: PASS, " \
           "waivers approved by gemma-license-ok: legal@acme.test, llama-license-ok: " \
           "legal@acme.test" in flat
    assert "audit verify --replay: 1 decision(s) evaluated again with the policies they " \
           "recorded: every decision_id as recorded" in " ".join(out.split())
    assert "Its fingerprint sha256:" in " ".join(out.split())
    assert "<!-- govops:pr-comment -->" in out and "this pull request introduces no policy" in out
    assert "| gemma-license-ok | legal@acme.test | new | MDL-002 |" in out
    assert "7 Kubernetes manifests from the Pulumi program in mock mode" in out
    assert "create assistant.deployment.assistant.yaml" in out
