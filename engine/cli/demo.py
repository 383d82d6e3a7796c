"""`make demo` (`python -m engine.cli.demo`): tell the story `engine.commands.demo` runs, with
what a newcomer needs to read each step. Everything shown is computed there; this only prints.
"""

from __future__ import annotations

import datetime as dt
import shutil
import sys
from pathlib import Path

from rich.console import Console
from rich.panel import Panel

from engine.commands.demo import COMMITS, LEGAL, DemoRun, run_demo
from engine.report import renderer
from engine.report.bom_diff import render_text
from engine.statedir import private_folder, state_base

STORY = [
    ("The team's platform repo as it stands: every object passes, one licence is waived, and "
     "Legal approved that waiver with a signature (above).",
     "Exit code 0. Waived results are listed with who approved them, verified: an auditor sees "
     "what was let in, and on whose signature."),
    ("A developer adds Gemma 2 and a production stack serving it. Its licence is not on the "
     "allowed list (MDL-002).",
     "Exit code 1: a deny blocks the change. Each row gives file:line, the policy id and what "
     "to do about it; in CI or pre-commit this is where the commit or merge stops."),
    ("The developer adds a Waiver with a reason and an expiry within 90 days. Typing a name "
     "into approvedBy approves nothing.",
     "Exit code 1: WVR-001 says the waiver is not approved. Only a signature by an approver "
     "of the trust root counts, and not the waiver's author's own."),
    ("Legal, holding the approver key, runs `govops approve gemma-license-ok --key legal.key`: "
     "a signed approval in the ledger. The same commit is checked again.",
     "Exit code 0. The waiver's clock starts at that approval; changing it (its expiry "
     "included) needs a new one; when it expires the result comes back by itself."),
]
EXPECTED_CODES = [0, 1, 1, 0]


def _show_approval(console: Console, run: DemoRun, index: int) -> None:
    done = run.approvals[index]
    status = done.status
    console.print(f"govops approve {status.waiver} --key demo-legal.key: ledger entry "
                  f"#{done.entry.entry.seq}, approved by {', '.join(status.approvers)} "
                  f"({len(status.approvers)} of {status.needed}), verified from trust root "
                  f"{done.trust_root[:23]}...\n")


def _show_commits(console: Console, run: DemoRun) -> None:
    console.rule("the trust root")
    console.print(f"A trust root on refs/govops/trust (TUF metadata signed by a root key kept "
                  f"off the repo) names who may sign ledger entries (the CI key) and who may "
                  f"approve waivers (Legal's key, owner {LEGAL}). Its fingerprint "
                  f"{run.trust.pin} is what verifiers pin, out of band.\n")
    _show_approval(console, run, 0)
    for i, ((story, lesson), done) in enumerate(zip(STORY, run.commits, strict=True)):
        label = f"commit {min(i, COMMITS - 1) + 1} of {COMMITS} ({done.rev})"
        console.rule(label + (", approved" if i == COMMITS else ""))
        console.print(story + "\n")
        if i == COMMITS:
            _show_approval(console, run, 1)
        checked = done.checked
        console.file.write(renderer("text")(checked.decision, checked.metadata,
                                            console.is_terminal))
        console.print(f"\n[bold]What it means:[/bold] {lesson}\n")


def _show_aibom(console: Console, run: DemoRun) -> None:
    """The AIBOM of the approved revision, and what the story changed in it."""
    console.rule("the AIBOM of the approved revision")
    aibom = run.aibom
    counts: dict[str, int] = {}
    for component in aibom.document()["components"]:
        counts[component["type"]] = counts.get(component["type"], 0) + 1
    console.print(f"CycloneDX 1.6 ML-BOM, validated, written to {run.aibom_path}\n"
                  f"serial {aibom.serial_number} (derived from commit {aibom.commit[:12]})\n"
                  + ", ".join(f"{n} {kind}" for kind, n in sorted(counts.items())) + "\n")
    console.file.write(render_text(run.aibom_diff))
    console.print("\n[bold]What it means:[/bold] auditors get every model, dataset, package and "
                  "image of a revision in the format their tools read; reviewers get the diff.\n")


def _show_receipts(console: Console, run: DemoRun) -> None:
    """The approved revision signed, recorded in the ledger, and the ledger verified."""
    console.rule("receipts and the ledger")
    done = run.attested
    console.print(f"Signed the decision ({done.verdict}) and the AIBOM of {done.commit[:12]} "
                  f"as in-toto statements in Sigstore bundles: {run.receipts}/*.sigstore.json\n"
                  "and appended both to the ledger (refs/govops/ledger in the demo repo).")
    report = run.ledger.report
    verdict = "holds" if report.problem is None else f"REFUSED: {report.problem}"
    console.print(f"audit verify: {report.verified} entries, {report.signatures} signatures: "
                  f"{verdict}")
    same = all(r.matches for r in run.replayed)
    console.print(f"audit verify --replay: {len(run.replayed)} decision(s) evaluated again "
                  "with the policies they recorded: "
                  + ("every decision_id as recorded\n" if same else "MISMATCH\n"))
    clone = run.clone
    cloned = clone.ledger.report
    verdict = "holds" if cloned.problem is None else f"REFUSED: {cloned.problem}"
    console.print(f"On a fresh clone ({clone.path}: the refs, no .git/govops), pinned only by "
                  f"the fingerprint: audit verify {cloned.verified} entries: {verdict}; check "
                  f"HEAD: {clone.checked.decision.verdict.upper()}, waivers approved by "
                  + ", ".join(f"{a.waiver}: {', '.join(a.approvers) or 'nobody'}"
                              for a in clone.checked.decision.approvals) + "\n")
    console.print("[bold]What it means:[/bold] anyone holding the root fingerprint can check, "
                  "offline and on any clone, that this revision was evaluated and described "
                  "exactly so, when, and whose signature let its waivers in.\n")


def _show_pull_request(console: Console, run: DemoRun) -> None:
    """What a reviewer of the whole story would read: the PR comment, and the stack's plan."""
    console.rule("the pull request comment (govops pr comment --dry-run)")
    console.file.write(run.pr_comment)
    console.print("\n[bold]What it means:[/bold] the reviewer sees only what the pull request "
                  "introduces, the waiver it relies on, what it adds to the AIBOM and what it "
                  "would deploy; the bot edits this one comment on every push.\n")
    console.rule("the deployment plan (govops plan --stack prod-assistant)")
    planned = run.plan
    console.print(f"{len(planned.manifests)} Kubernetes manifests from the Pulumi program in "
                  f"mock mode, desired-state digest {planned.digest}\n"
                  f"changes against {planned.against.description}:")
    for change in planned.changes:
        console.print(f"  {change.action:<6} {change.file}")
    console.print("\n[bold]What it means:[/bold] `govops apply` deploys exactly this, and only "
                  "once the decision and AIBOM receipts above verify.\n")


def _show_next_steps(console: Console, root: Path) -> None:
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


def demo_folder() -> Path:
    """Where the demo builds its repositories: one folder under govops's state folder, emptied
    at the start of every run, so the "try it yourself" commands still find it afterwards and
    repeated runs do not pile up temporary directories."""
    folder = private_folder(state_base() / "demo")
    for child in folder.iterdir():
        if child.is_dir() and not child.is_symlink():
            shutil.rmtree(child)
        else:
            child.unlink()
    return folder


def main() -> int:
    console = Console(highlight=False)
    now = dt.datetime.now(dt.UTC).replace(microsecond=0)
    folder = demo_folder()
    console.print(Panel.fit(
        f"govops demo: a governed repo with three commits at {folder / 'acme-ml'}\n"
        "Each commit is checked the way CI would: govops check --rev <commit>",
        title="govops"))
    run = run_demo(folder, now)
    _show_commits(console, run)
    _show_aibom(console, run)
    _show_receipts(console, run)
    _show_pull_request(console, run)
    _show_next_steps(console, run.root)
    codes = [done.exit_code for done in run.commits]
    if codes != EXPECTED_CODES:
        console.print(f"[bold red]demo: expected exit codes {EXPECTED_CODES}, got {codes}"
                      "[/bold red]")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
