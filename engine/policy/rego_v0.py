"""Rego v0 modules, read as OPA reads them: most published suites (gatekeeper-library,
conftest's examples, trivy-checks) are still written in v0 (`deny[msg] { ... }`), which every
backend here parses as v1 and refuses.

OPA itself converts them: `opa fmt --v0-v1` rewrites a v0 module in the v1 syntax it means
(`deny contains msg if { ... }`, `import rego.v1` added), which is what OPA's v0 compatibility
mode evaluates. A module that already says `import rego.v1` is v1; any other is offered to
the converter, and one it refuses (v1 syntax without the import, or a real mistake) is kept as
it is, for the engine to judge. Needs the `opa` binary (GOVOPS_OPA or PATH, as for the
resident server); without it nothing is converted and a v0 module fails to parse, with a hint.
"""

from __future__ import annotations

import re
import subprocess
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor

from engine.errors import EngineError
from engine.policy.library import PolicyModule

_V1_IMPORT = re.compile(r"^import\s+rego\.v1\b", re.M)
HINT = ("Rego v0? govops reads v0 modules through OPA's own converter (opa fmt --v0-v1), "
        "which needs `opa` on PATH or GOVOPS_OPA")


def _converted(binary: str, module: PolicyModule) -> PolicyModule | None:
    """The module in v1 form, or None when OPA does not read it as v0."""
    try:
        done = subprocess.run([binary, "fmt", "--v0-v1"], input=module.source,
                              capture_output=True, text=True, timeout=60, check=False)
    except (OSError, subprocess.TimeoutExpired):
        return None
    if done.returncode != 0 or not done.stdout.strip():
        return None
    return PolicyModule(module.path, done.stdout)


def upgrade_v0(modules: Sequence[PolicyModule]) -> tuple[list[PolicyModule], list[str]]:
    """(the modules with every v0 one in its v1 form, the paths of those converted)."""
    from engine.policy.backends.resident import find_binary

    candidates = [i for i, m in enumerate(modules) if not _V1_IMPORT.search(m.source)]
    try:
        binary = find_binary() if candidates else None
    except EngineError:
        binary = None
    if binary is None:
        return list(modules), []
    with ThreadPoolExecutor(max_workers=4) as pool:
        results = list(pool.map(lambda i: _converted(binary.path, modules[i]), candidates))
    out, converted = list(modules), []
    for index, result in zip(candidates, results, strict=True):
        if result is not None and result.source != modules[index].source:
            out[index] = result
            converted.append(result.path)
    return out, converted
