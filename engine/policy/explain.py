"""What the official OPA test runner says of Rego tests: each test's verdict, its own duration,
what it printed and, for a failing one, the expression of the test that failed, file:line.

A backend only says whether a test rule was true ("got None" when not), and times a batch of
tests, not each. `opa test --format json -v` times each test, keeps what it printed and traces
it; when an `opa` binary is at hand (GOVOPS_OPA or PATH, as for the resident server), the tests
are run again through it, on the same modules and data. Whether a test passed is still the
chosen backend's answer; the caller (engine.policy.testing) decides where the runner's verdict
is asked for: where the backend cannot answer as `opa test` does.
"""

from __future__ import annotations

import base64
import binascii
import json
import re
import subprocess
import tempfile
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from engine.errors import EngineError
from engine.policy.library import PolicyModule

Failure = tuple[str, int, str]  # module path, line, the source of that line


@dataclass(frozen=True)
class Traced:
    """One test as OPA's test runner ran it."""

    status: str  # pass | fail | error | skip
    seconds: float
    failure: Failure | None  # the expression of the test's own body that failed
    output: str  # what the test printed (print())
    error: str  # OPA's error, one line; "" unless status is error


def _file_name(path: str) -> str:
    """A module path as a file under the temporary folder (`@govops/x.rego` -> `_govops/...`)."""
    return path.lstrip("/").replace("@", "_").replace("..", "_")


def opa_test(modules: Sequence[PolicyModule], data: Mapping[str, Any],
             tests: Sequence[tuple[str, str]]) -> dict[tuple[str, str], Traced]:
    """(package, rule) -> what OPA's test runner says of that test; empty when no `opa` binary
    is at hand or it cannot say (the caller keeps the backend's answer)."""
    from engine.policy.backends.resident import find_binary

    try:
        binary = find_binary()
    except EngineError:
        return {}
    if binary is None or not tests:
        return {}
    wanted = {(package, rule) for package, rule in tests}
    pattern = "^(" + "|".join(re.escape(f"data.{p}.{r}") for p, r in sorted(wanted)) + ")$"
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
            done = subprocess.run([binary.path, "test", "--format", "json", "-v", "--run",
                                   pattern, "."], cwd=root,
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
        status = verdict(result)
        failure = first_failure(result, by_file) if status == "fail" else None
        found[key] = Traced(status, duration / 1e9, failure, output_of(result),
                            error_of(result, by_file) if status == "error" else "")
    return found


def verdict(result: Mapping[str, Any]) -> str:
    """pass, fail, error or skip, as `opa test --format json` marks a result."""
    if result.get("error"):
        return "error"
    if result.get("skip"):
        return "skip"
    return "fail" if result.get("fail") else "pass"


def output_of(result: Mapping[str, Any]) -> str:
    """What the test printed: OPA's JSON carries it base64-encoded."""
    raw = result.get("output")
    if not isinstance(raw, str) or not raw:
        return ""
    try:
        return base64.b64decode(raw).decode("utf-8", errors="replace")
    except (binascii.Error, ValueError):
        return ""


def error_of(result: Mapping[str, Any], by_file: Mapping[str, PolicyModule] | None = None
             ) -> str:
    """OPA's error of a test, one line, as its runner prints it: `file:row: code: message` of
    the first error (the file as the module's path, with `by_file`)."""
    error = result.get("error")
    first = error[0] if isinstance(error, list) and error else error
    if not isinstance(first, dict):
        return str(first or "")
    message = " ".join(str(first.get("message", "")).split())
    code = first.get("code")
    text = f"{code}: {message}" if code else message
    where = first.get("location") or {}
    file, row = str(where.get("file") or ""), where.get("row")
    module = by_file.get(file) if by_file is not None else None
    path = module.path if module is not None else file
    if path.endswith(".rego") and isinstance(row, int):
        text = _FILE_IN_TEXT.sub(lambda m: _path_of(m.group(1), by_file) + ":", text)
        return f"{path}:{row}: {text}"
    return text


_FILE_IN_TEXT = re.compile(r"(?<![^\s\"'(])([^\s\"'():]+\.rego):")


def _path_of(file: str, by_file: Mapping[str, PolicyModule] | None) -> str:
    """A file OPA names (one of the temporary folder) as the path of its module."""
    module = (by_file or {}).get(file)
    return module.path if module is not None else file


def first_failure(result: Mapping[str, Any], by_file: Mapping[str, PolicyModule] | None = None
                  ) -> Failure | None:
    """The first expression of the test's own body that failed, in OPA's trace: the body is
    the query its runner entered at the test's location; the failure, that query's first
    `Fail` event (deeper failures, in the rules the test calls, explain this one). With
    `by_file` (the modules by the file name OPA saw), the path is the module's and the text its
    line; without, the path is OPA's and the text is empty."""
    location = result.get("location") or {}
    trace = result.get("trace") or []
    body = next((event.get("QueryID") for event in trace
                 if isinstance(event, dict) and event.get("Op") == "Enter"
                 and _at(event, location.get("file"), location.get("row"))), None)
    if body is None:
        return None
    for event in trace:
        if not isinstance(event, dict) or event.get("Op") != "Fail" \
                or event.get("QueryID") != body:
            continue
        where = event.get("Location") or {}
        file, row = str(where.get("file", "")), where.get("row")
        if not isinstance(row, int):
            return None
        if by_file is None:
            return file, row, ""
        module = by_file.get(file)
        if module is None:
            return None
        lines = module.source.splitlines()
        return module.path, row, lines[row - 1].strip() if 0 < row <= len(lines) else ""
    return None


def _at(event: Mapping[str, Any], file: Any, row: Any) -> bool:
    where = event.get("Location") or {}
    return bool(file) and where.get("file") == file and where.get("row") == row
