"""`make demo` end to end: the story's exit codes, receipts, PR comment and plan all appear."""

from __future__ import annotations

import subprocess
import sys

from tests.support.repos import ROOT


def test_the_demo_runs_its_whole_story() -> None:
    run = subprocess.run([sys.executable, "-m", "engine.cli.demo"], cwd=ROOT, capture_output=True,
                         text=True, timeout=600, env={"PATH": "/usr/bin:/bin", "COLUMNS": "200"})
    assert run.returncode == 0, run.stdout[-2000:] + run.stderr[-2000:]
    out = run.stdout
    assert "demo: expected exit codes" not in out
    assert out.count("PASS") >= 2 and "FAIL" in out
    assert "audit verify: 2 entries, 4 signatures: holds" in out
    assert "audit verify --replay: 1 decision(s) evaluated again with the policies they " \
           "recorded: every decision_id as recorded" in " ".join(out.split())
    assert "Its fingerprint sha256:" in " ".join(out.split())
    assert "<!-- govops:pr-comment -->" in out and "this pull request introduces no policy" in out
    assert "| gemma-license-ok | new | MDL-002 |" in out
    assert "5 Kubernetes manifests from the Pulumi program in mock mode" in out
    assert "create assistant.deployment.assistant.yaml" in out
