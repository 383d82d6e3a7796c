"""Render a StackSpec: run its Pulumi program in mock mode, normalise what it registers into
manifests, and compare them with a baseline.

The same spec gives the same bytes on every run. Must never deploy anything: `plan`, `apply`
and `rollback` all render through here, and only apply and rollback then call the engine.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path

from engine.deploy.changes import compare
from engine.deploy.manifests import Manifest, ManifestError, check_unique, file_name, manifest_of
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
    require_admission(spec, manifests)
    baseline = previous or NOTHING_APPLIED
    changes = compare(baseline.files, {m.file: m.text for m in manifests})
    return Plan(spec, tuple(manifests), tuple(changes), baseline)


def require_admission(spec: StackSpec, manifests: Sequence[Manifest]) -> None:
    """Refuse a plan whose program does not register the stack's admission policy and binding
    exactly as govops wrote them (spec.admission): a program of the repo's own cannot deploy
    GPUs with the guard left out or loosened."""
    found = {m.file: m.doc for m in manifests}
    for doc in json.loads(spec.admission):
        file = file_name(doc["kind"], None, doc["metadata"]["name"])
        if file not in found:
            raise ManifestError(f"stacks/{spec.program}: the program does not register the "
                                f"stack's {doc['kind']} {doc['metadata']['name']!r} "
                                "(spec.admission); govops refuses to deploy without it")
        if found[file] != doc:
            raise ManifestError(f"stacks/{spec.program}: the program changes the stack's "
                                f"{doc['kind']} {doc['metadata']['name']!r}; register "
                                "spec.admission as it is")
