"""What the official OPA test runner says of Rego tests: each test's own duration, and for a
failing one the expression that failed, file:line.

A backend only says whether a test rule was true ("got None" when not), and times a batch of
tests, not each. `opa test --format json --explain fails` times each test and traces a failing
one down to the expression that failed; when an `opa` binary is at hand (GOVOPS_OPA or PATH, as
for the resident server), the tests are run again through it, on the same modules and data.
Whether a test passed is still the chosen backend's answer; this only explains and times.
"""

from __future__ import annotations

import json
import subprocess
import tempfile
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from engine.errors import EngineError
from engine.policy.library import PolicyModule

Failure = tuple[str, int, str]  # module path, line, the source of that line
Traced = tuple[float, Failure | None]  # seconds, and what failed (None: it passed)


def _file_name(path: str) -> str:
    """A module path as a file under the temporary folder (`@govops/x.rego` -> `_govops/...`)."""
    return path.lstrip("/").replace("@", "_").replace("..", "_")


def opa_test(modules: Sequence[PolicyModule], data: Mapping[str, Any],
             tests: Sequence[tuple[str, str]]) -> dict[tuple[str, str], Traced]:
    """(package, rule) -> OPA's own duration of the test and the expression that failed;
    empty when no `opa` binary is at hand or it cannot say (the caller keeps the backend's)."""
    from engine.policy.backends.resident import find_binary

    try:
        binary = find_binary()
    except EngineError:
        return {}
    if binary is None or not tests:
        return {}
    wanted = {(package, rule) for package, rule in tests}
    pattern = "^(" + "|".join(f"data\\.{p.replace('.', '[.]')}\\.{r}$" for p, r in
                              sorted(wanted)) + ")"
    with tempfile.TemporaryDirectory(prefix="govops-explain-") as folder:
        root = Path(folder)
        by_file: dict[str, PolicyModule] = {}
        for module in modules:
            name = _file_name(module.path)
            by_file[name] = module
            (root / name).parent.mkdir(parents=True, exist_ok=True)
            (root / name).write_text(module.source, encoding="utf-8")
        (root / "data.json").write_text(json.dumps(data), encoding="utf-8")
        try:
            done = subprocess.run([binary.path, "test", "--format", "json", "--explain",
                                   "fails", "--run", pattern, "."], cwd=root,
                                  capture_output=True, text=True, timeout=300, check=False)
            results = json.loads(done.stdout or "[]")
        except (OSError, subprocess.TimeoutExpired, ValueError):
            return {}
    found: dict[tuple[str, str], Traced] = {}
    for result in results if isinstance(results, list) else []:
        key = (str(result.get("package", "")).removeprefix("data."), str(result.get("name")))
        duration = result.get("duration")
        if key not in wanted or not isinstance(duration, int):
            continue
        failure = _first_failure(result.get("trace") or [], by_file) if result.get("fail") \
            else None
        found[key] = (duration / 1e9, failure)
    return found


def _first_failure(trace: Sequence[Any], by_file: Mapping[str, PolicyModule]
                   ) -> Failure | None:
    """The first expression of a test module that failed (the test's own body)."""
    for event in trace:
        if not isinstance(event, dict) or event.get("Op") != "Fail":
            continue
        location = event.get("Location") or {}
        module = by_file.get(str(location.get("file", "")))
        row = location.get("row")
        if module is None or not module.is_test or not isinstance(row, int):
            continue
        lines = module.source.splitlines()
        text = lines[row - 1].strip() if 0 < row <= len(lines) else ""
        return module.path, row, text
    return None
