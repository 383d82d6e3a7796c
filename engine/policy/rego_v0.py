"""Rego v0 modules, read as OPA reads them: most published suites (gatekeeper-library,
conftest's examples, trivy-checks) are still written in v0 (`deny[msg] { ... }`), which every
backend here parses as v1 and refuses.

OPA itself converts them: `opa fmt --v0-v1` rewrites a v0 module in the v1 syntax it means
(`deny contains msg if { ... }`, `import rego.v1` added), which is what OPA's v0 compatibility
mode evaluates. A module that already says `import rego.v1` is v1; any other is offered to
the converter, and one it refuses (v1 syntax without the import, or a real mistake) is kept as
it is, for the engine to judge, with the converter's reason at hand. Needs the `opa` binary
(GOVOPS_OPA or PATH, as for the resident server); without it nothing is converted and a v0
module fails to parse, with a hint.

The converter refuses the builtins v1 dropped (`re_match`, `any`, `all`, `set_diff`,
`net.cidr_overlap`, `cast_*`), which `opa test --v0-compatible` still runs (GCP's
policy-library calls `re_match`, older gatekeeper templates `any`): their calls are rewritten
first, to the v1 builtin of the same meaning or to a function computing what OPA's v0
builtin computes, appended to the module. Never inside strings or comments.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import re
import subprocess
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import TYPE_CHECKING

from engine.errors import EngineError, GovopsError
from engine.policy.library import PolicyModule

if TYPE_CHECKING:
    from engine.policy.backends.resident import Binary

_CACHE = "rego-v0-v1"  # under the user's state folder: converted modules by source
_DID_NOT_RUN = "opa fmt --v0-v1 did not run"

_V1_IMPORT = re.compile(r"^import\s+rego\.v1\b", re.M)
HINT = ("Rego v0? govops reads v0 modules through OPA's own converter (opa fmt --v0-v1), "
        "which needs `opa` on PATH or GOVOPS_OPA")

_REASON = re.compile(r"rego_\w+_error: .*")
_SHIM = "__govops_v0_"
# v0 builtin -> what a v1 module calls instead
_DROPPED = {"re_match": "regex.match", "net.cidr_overlap": "net.cidr_contains",
            **{name: _SHIM + name for name in (
                "any", "all", "set_diff", "cast_array", "cast_set", "cast_string",
                "cast_boolean", "cast_null", "cast_object")}}
_DROPPED_CALL = re.compile(r"(?<![\w.])(net\.cidr_overlap|re_match|any|all|set_diff|"
                           r"cast_(?:array|set|string|boolean|null|object))(?=\s*\()")
# What OPA's v0 builtins compute (topdown/aggregates.go, sets.go, casts.go); a wrong type is
# undefined, as OPA's type error is to `opa test`.
_SHIMS = f"""

# Added by govops (engine/policy/rego_v0.py): Rego v0 builtins that v1 no longer has.
{_SHIM}collection(x) if is_array(x)

{_SHIM}collection(x) if is_set(x)

{_SHIM}any(xs) := true if {{
	{_SHIM}collection(xs)
	some x in xs
	x == true
}} else := false if {_SHIM}collection(xs)

{_SHIM}all(xs) := false if {{
	{_SHIM}collection(xs)
	some x in xs
	x != true
}} else := true if {_SHIM}collection(xs)

{_SHIM}set_diff(a, b) := a - b if {{
	is_set(a)
	is_set(b)
}}

{_SHIM}cast_array(x) := x if is_array(x)

{_SHIM}cast_array(x) := [e | some e in x] if is_set(x)

{_SHIM}cast_set(x) := x if is_set(x)

{_SHIM}cast_set(x) := {{e | some e in x}} if is_array(x)

{_SHIM}cast_string(x) := x if is_string(x)

{_SHIM}cast_boolean(x) := x if is_boolean(x)

{_SHIM}cast_null(x) := x if is_null(x)

{_SHIM}cast_object(x) := x if is_object(x)
"""


@dataclass(frozen=True)
class Upgraded:
    modules: list[PolicyModule]  # every v0 module in its v1 form, the others as they were
    converted: list[str]  # paths of the modules converted
    refused: dict[str, str]  # path -> why OPA's converter refused it (v1 ones are refused too)


def _remembered(binary: Binary, module: PolicyModule) -> PolicyModule | str:
    """`_converted`, remembered per user by the converter build and the source: `check` reads
    a team's v0 manifest policies on every commit, and each conversion is a process (the
    kubernetes-security pack's seven templates: 0.4 s). A cache that cannot be read or
    written only costs the conversion."""
    from engine.atomic import write_atomically
    from engine.statedir import private_folder, state_base

    key = hashlib.sha256(f"{binary.identity}\n{module.source}".encode()).hexdigest()
    try:
        stored = private_folder(state_base() / _CACHE) / f"{key}.json"
    except (OSError, GovopsError):
        return _converted(binary.path, module)
    try:
        known = json.loads(stored.read_text())
        return (PolicyModule(module.path, str(known["source"])) if "source" in known
                else str(known["refused"]))
    except (OSError, ValueError, KeyError, TypeError):
        pass
    result = _converted(binary.path, module)
    if isinstance(result, str) and result.startswith(_DID_NOT_RUN):
        return result  # nothing learnt about the module
    with contextlib.suppress(GovopsError):
        write_atomically(stored, json.dumps(
            {"refused": result} if isinstance(result, str) else {"source": result.source}))
    return result


def _converted(binary: str, module: PolicyModule) -> PolicyModule | str:
    """The module in v1 form, or why OPA does not read it as v0 (its first error)."""
    source, shims = _without_dropped_builtins(module.source)
    try:
        done = subprocess.run([binary, "fmt", "--v0-v1"], input=source,
                              capture_output=True, text=True, timeout=60, check=False)
    except (OSError, subprocess.TimeoutExpired) as exc:
        return f"{_DID_NOT_RUN}: {exc}"
    if done.returncode != 0 or not done.stdout.strip():
        reasons = [_REASON.search(line) for line in done.stderr.splitlines()]
        found = [reason.group(0).strip() for reason in reasons if reason]
        return found[0] if found else "opa fmt --v0-v1 refused it"
    return PolicyModule(module.path, done.stdout + (_SHIMS if shims else ""))


def _without_dropped_builtins(source: str) -> tuple[str, bool]:
    """(the source with every call of a builtin v1 dropped rewritten, whether a call now needs
    the functions of _SHIMS)."""
    used = False

    def rewrite(match: re.Match[str]) -> str:
        nonlocal used
        target = _DROPPED[match.group(1)]
        used = used or target.startswith(_SHIM)
        return target

    return _in_code(source, lambda code: _DROPPED_CALL.sub(rewrite, code)), used


def _in_code(source: str, change: Callable[[str], str]) -> str:
    """`source` with `change` applied to its code only: strings ("..." with escapes, `raw`)
    and comments (# to the end of the line) are kept as they are."""
    out: list[str] = []
    start = i = 0
    while i < len(source):
        char = source[i]
        if char not in '"`#':
            i += 1
            continue
        out.append(change(source[start:i]))
        if char == "#":
            end = source.find("\n", i)
        elif char == "`":
            end = source.find("`", i + 1)
            end = -1 if end < 0 else end + 1
        else:
            end = i + 1
            while end < len(source) and source[end] not in '"\n':
                end += 2 if source[end] == "\\" else 1
            end = min(end + 1, len(source))
        end = len(source) if end < 0 else end
        out.append(source[i:end])
        start = i = end
    out.append(change(source[start:]))
    return "".join(out)


def upgrade_v0(modules: Sequence[PolicyModule]) -> Upgraded:
    """Every module not saying `import rego.v1` offered to OPA's converter."""
    from engine.policy.backends.resident import find_binary

    candidates = [i for i, m in enumerate(modules) if not _V1_IMPORT.search(m.source)]
    try:
        binary = find_binary() if candidates else None
    except EngineError:
        binary = None
    if binary is None:
        return Upgraded(list(modules), [], {})
    with ThreadPoolExecutor(max_workers=4) as pool:
        results = list(pool.map(lambda i: _remembered(binary, modules[i]), candidates))
    out, converted, refused = list(modules), [], {}
    for index, result in zip(candidates, results, strict=True):
        if isinstance(result, str):
            refused[modules[index].path] = result
        elif result.source != modules[index].source:
            out[index] = result
            converted.append(result.path)
    return Upgraded(out, converted, refused)
