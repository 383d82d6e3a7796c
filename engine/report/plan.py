"""A plan for people: the stack, its provenance, the manifests and what they change. Stack
names and manifest paths come from a governed repository: each line goes through
`escape.terminal`, so no control character in them reaches the terminal."""

from __future__ import annotations

from pathlib import Path

from engine.deploy.plan import Plan
from engine.report.escape import terminal


def render_plan_text(plan: Plan, output: Path | None) -> str:
    lines = [f"stack {plan.spec.name} at {plan.spec.revision}",
             f"decision {plan.spec.decision_id}",
             f"aibom {plan.spec.aibom_serial}",
             f"digest {plan.digest}",
             f"{len(plan.manifests)} manifests" + (f" written to {output}" if output else ""),
             f"changes against {plan.against.description}: {len(plan.changes)}"]
    lines += [f"  {c.action:<6} {c.file}" for c in plan.changes]
    return "\n".join(terminal(line) for line in lines) + "\n"
