"""`make demo`: a governed repo with a three-commit story, checked commit by commit.

Builds the repo from fixtures/acme-ml in a temporary folder (dates relative to today, so the
waivers in it are always current), then shows a passing commit, a failing one and the waiver
that fixes it, with what a newcomer needs to read each verdict.
"""

from __future__ import annotations

import datetime as dt
import re
import sys
import tempfile
from pathlib import Path

from rich.console import Console
from rich.panel import Panel

from engine.check import CheckOptions, run_check
from engine.repo.scripted import Step, build_history, fixture_files
from engine.report import renderer

FIXTURE = Path(__file__).resolve().parents[1] / "fixtures" / "acme-ml"

GEMMA = """apiVersion: govops.dev/v1
kind: Model
metadata:
  name: gemma-2-9b-it
  owners:
    - ml-platform@acme.test
spec:
  source: hf://google/gemma-2-9b-it
  revision: 11c9b309abf73637e4b6f9a3fa1e92e615547819
  digest: sha256:{digest}
  format: safetensors
  license: gemma
  parameters: 9.2e9
  precision: bf16
  task: text-generation
  risk: limited
"""

ASSISTANT = """apiVersion: govops.dev/v1
kind: Stack
metadata:
  name: prod-assistant
  labels:
    tier: production
spec:
  cluster:
    name: gpu-east-1
    context: gpu-east-1
  namespace: assistant
  gpu:
    type: nvidia-h100-80gb
    quota: 4
  workloads:
    - name: assistant
      kind: inference
      model: gemma-2-9b-it
      environment: {environment}
      replicas: 2
      gpusPerReplica: 1
"""

WAIVER = """apiVersion: govops.dev/v1
kind: Waiver
metadata:
  name: gemma-license-ok
spec:
  policy: MDL-002
  target:
    kind: Model
    name: gemma-2-9b-it
  reason: Legal reviewed the Gemma terms of use for internal serving (LEGAL-231)
  approvedBy:
    - alice@acme.test
  expires: {expires}
"""

STORY = [
    ("The team's platform repo as it stands: every object passes, one licence is waived.",
     "Exit code 0. Waived results are listed, not hidden: an auditor sees what was let in."),
    ("A developer adds Gemma 2 and a production stack serving it. Its licence is not on the "
     "allowed list (MDL-002).",
     "Exit code 1: a deny blocks the change. Each row gives file:line, the policy id and what "
     "to do about it; in CI or pre-commit this is where the commit or merge stops."),
    ("Legal approves the licence; the change adds a Waiver with a reason, an approver and an "
     "expiry within 90 days (WVR-001).",
     "Exit code 0 again. The waiver moved the result into 'waived'; when it expires the result "
     "comes back by itself and WVR-001 reports the stale waiver."),
]


def _today_relative(files: dict[str, bytes], today: dt.date) -> dict[str, bytes]:
    """Move every waiver expiry in the fixture to 60 days from today (fixtures use fixed dates)."""
    expires = (today + dt.timedelta(days=60)).isoformat()
    out = {}
    for path, data in files.items():
        if path.startswith("waivers/"):
            data = re.sub(rb"expires: *\d{4}-\d{2}-\d{2}", f"expires: {expires}".encode(), data)
        out[path] = data
    return out


def _environment_name(files: dict[str, bytes]) -> str:
    """The environment the fixture's production stack serves with (the new stack reuses it)."""
    for path, data in sorted(files.items()):
        if path.startswith("stacks/") and b"tier: production" in data:
            match = re.search(rb"environment: *([\w.-]+)", data)
            if match:
                return match.group(1).decode()
    raise SystemExit("fixtures/acme-ml has no production stack")


def build_demo_repo(root: Path, now: dt.datetime, public_key: bytes | None = None) -> None:
    """The three-commit story; `public_key` replaces the fixture's trusted CI key (whose
    private half nobody has) so the demo can sign receipts that verify."""
    files = _today_relative(fixture_files(FIXTURE), now.date())
    if public_key is not None:
        files["keys/ci.pub"] = public_key
    digest = "9" * 64

    def stamp(days_ago: int) -> str:
        return (now - dt.timedelta(days=days_ago)).strftime("%Y-%m-%dT%H:%M:%SZ")

    build_history(root, [
        Step("Platform repo: models, datasets, environments, stacks", files, time=stamp(3)),
        Step("Serve Gemma 2 in a new production stack", {
            "models/gemma-2-9b-it.yaml": GEMMA.format(digest=digest),
            "stacks/prod-assistant.yaml": ASSISTANT.format(environment=_environment_name(files)),
        }, time=stamp(2)),
        Step("Waive the Gemma licence (LEGAL-231)", {
            "waivers/gemma-license-ok.yaml": WAIVER.format(
                expires=(now.date() + dt.timedelta(days=30)).isoformat()),
        }, time=stamp(1)),
    ])


def _show_aibom(console: Console, root: Path) -> None:
    """The AIBOM of the approved revision, and what the story changed in it."""
    from engine.aibom import BomOptions, run_bom, run_bom_diff
    from engine.report.bom_diff import render_text
    from engine.report.write import write_atomically

    console.rule("the AIBOM of the approved revision")
    aibom = run_bom(BomOptions(repo=root), "HEAD")
    path = root.parent / "aibom.cdx.json"
    write_atomically(path, aibom.text)
    counts: dict[str, int] = {}
    for component in aibom.document()["components"]:
        counts[component["type"]] = counts.get(component["type"], 0) + 1
    console.print(f"CycloneDX 1.6 ML-BOM, validated, written to {path}\n"
                  f"serial {aibom.serial_number} (derived from commit {aibom.commit[:12]})\n"
                  + ", ".join(f"{n} {kind}" for kind, n in sorted(counts.items())) + "\n")
    console.file.write(render_text(run_bom_diff(BomOptions(repo=root), "HEAD~2", "HEAD")))
    console.print("\n[bold]What it means:[/bold] auditors get every model, dataset, package and "
                  "image of a revision in the format their tools read; reviewers get the diff.\n")


def _show_receipts(console: Console, root: Path, key: Path) -> None:
    """Sign the approved revision, record it in the ledger and verify the ledger."""
    from engine.audit import run_audit_verify
    from engine.receipts import AttestOptions, SignerOptions, run_attest

    console.rule("receipts and the ledger")
    out = root.parent / "receipts"
    done = run_attest(AttestOptions(repo=root, output=out, signer=SignerOptions(key=key),
                                    record=True))
    console.print(f"Signed the decision ({done.verdict}) and the AIBOM of {done.commit[:12]} "
                  f"as in-toto statements in Sigstore bundles: {out}/*.sigstore.json\n"
                  "and appended both to the ledger (refs/govops/ledger in the demo repo).")
    report = run_audit_verify(root, None, None)
    verdict = "holds" if report.problem is None else f"REFUSED: {report.problem}"
    console.print(f"audit verify: {report.verified} entries, {report.signatures} signatures: "
                  f"{verdict}\n")
    console.print("[bold]What it means:[/bold] anyone with the public key can check, offline, "
                  "that this revision was evaluated and described exactly so, and when.\n")


def _show_pull_request(console: Console, root: Path) -> None:
    """What a reviewer of the whole story would read: the PR comment, and the stack's plan."""
    from engine.deploy.plan import PlanOptions, run_plan
    from engine.pr.comment import PrOptions, compose

    console.rule("the pull request comment (govops pr comment --dry-run)")
    console.file.write(compose(PrOptions(repo=root, base="HEAD~2", head="HEAD")))
    console.print("\n[bold]What it means:[/bold] the reviewer sees only what the pull request "
                  "introduces, the waiver it relies on, what it adds to the AIBOM and what it "
                  "would deploy; the bot edits this one comment on every push.\n")
    console.rule("the deployment plan (govops plan --stack prod-assistant)")
    planned = run_plan(PlanOptions(repo=root, stack="prod-assistant"))
    console.print(f"{len(planned.manifests)} Kubernetes manifests from the Pulumi program in "
                  f"mock mode, desired-state digest {planned.digest}\n"
                  f"changes against {planned.against.description}:")
    for change in planned.changes:
        console.print(f"  {change.action:<6} {change.file}")
    console.print("\n[bold]What it means:[/bold] `govops apply` deploys exactly this, and only "
                  "once the decision and AIBOM receipts above verify.\n")


def main() -> int:
    from engine.attest.keys import generate

    console = Console(highlight=False)
    now = dt.datetime.now(dt.UTC).replace(microsecond=0)
    root = Path(tempfile.mkdtemp(prefix="govops-demo-")) / "acme-ml"
    key, public = generate(root.parent / "demo-ci")
    build_demo_repo(root, now, public.read_bytes())
    console.print(Panel.fit(
        f"govops demo: a governed repo with three commits at {root}\n"
        "Each commit is checked the way CI would: govops check --rev <commit>",
        title="govops"))
    codes = []
    for i, (story, lesson) in enumerate(STORY):
        rev = f"HEAD~{len(STORY) - 1 - i}"
        console.rule(f"commit {i + 1} of {len(STORY)} ({rev})")
        console.print(story + "\n")
        checked = run_check(CheckOptions(repo=root, rev=rev, base=f"{rev}~1" if i else None))
        decision = checked.decision
        console.file.write(renderer("text")(decision, checked.metadata, console.is_terminal))
        code = 1 if decision.verdict == "fail" else 0
        codes.append(code)
        console.print(f"\n[bold]What it means:[/bold] {lesson}\n")
    _show_aibom(console, root)
    _show_receipts(console, root, key)
    _show_pull_request(console, root)
    console.rule("try it yourself")
    console.print(f"  .venv/bin/govops check --repo {root} --rev HEAD~1 --base HEAD~2\n"
                  f"  .venv/bin/govops check --repo {root} --format json\n"
                  f"  .venv/bin/govops bom --repo {root} --output aibom.cdx.json\n"
                  f"  .venv/bin/govops bom diff --repo {root} --format markdown HEAD~2 HEAD\n"
                  f"  .venv/bin/govops verify --repo {root} "
                  f"{root.parent}/receipts/*.sigstore.json\n"
                  f"  .venv/bin/govops audit log --repo {root}\n"
                  f"  .venv/bin/govops check --repo {root} --base HEAD~2 --format sarif\n"
                  f"  .venv/bin/govops pr comment --repo {root} --base HEAD~2 --pr 1 --dry-run\n"
                  f"  .venv/bin/govops plan --repo {root} --stack prod-assistant --output m/\n"
                  "  .venv/bin/govops policy test --engine regopy")
    expected = [0, 1, 0]
    if codes != expected:
        console.print(f"[bold red]demo: expected exit codes {expected}, got {codes}[/bold red]")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
