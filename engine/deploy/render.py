"""Render a StackSpec: run its Pulumi program in mock mode, normalise what it registers into
manifests, and compare them with a baseline.

The same spec gives the same bytes on every run. Must never deploy anything: `plan`, `apply`
and `rollback` all render through here, and only apply and rollback then call the engine.
"""

from __future__ import annotations

from pathlib import Path

from engine.deploy.changes import compare
from engine.deploy.manifests import check_unique, manifest_of
from engine.deploy.plan import NOTHING_APPLIED, Baseline, Plan
from engine.deploy.spec import StackSpec
from engine.shipped import programs_dir


def build_plan(spec: StackSpec, previous: Baseline | None = None,
               programs: Path | None = None) -> Plan:
    """Run the spec's program in mock mode and normalise what it registers."""
    from engine.deploy.mock import capture, load_program, without_overhead  # imports pulumi

    program = load_program((programs or programs_dir()) / spec.program)
    registered = capture(program, spec, project=spec.program, stack=spec.name)
    with without_overhead():
        manifests = check_unique([manifest_of(r.type, r.name, r.inputs)
                                  for r in registered if r.custom and not r.is_provider])
    baseline = previous or NOTHING_APPLIED
    changes = compare(baseline.files, {m.file: m.text for m in manifests})
    return Plan(spec, tuple(manifests), tuple(changes), baseline)
