"""What every Rego backend offers: load modules and data, evaluate a document, run one test."""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal, Protocol

from engine.errors import EngineError, InputError
from engine.policy.library import PolicyModule


@dataclass(frozen=True)
class TestOutcome:
    status: Literal["pass", "fail", "error"]
    detail: str = ""


class RegoBackend(Protocol):
    name: str

    def version(self) -> str: ...

    def load(self, modules: Sequence[PolicyModule], data: Mapping[str, Any],
             digest: str | None = None) -> None:
        """Compile everything; InputError (file:line) for broken Rego, EngineError otherwise.
        `digest`: the bundle's digest, for backends that keep bundles loaded by it."""

    def evaluate(self, document: str, input: Any,
                 locks: Mapping[str, Sequence[str]] | None = None,
                 blobs: Mapping[str, Mapping[str, str]] | None = None) -> Any:
        """The value of `data.<document>` for this input; None when undefined. `locks`: each
        environment's lock format and blob ids, for backends that keep lock packages loaded by
        them; `blobs`: the git blob id each governed document (kind, name) was parsed from,
        for backends that keep documents loaded by them."""

    def run_test(self, package: str, rule: str) -> TestOutcome: ...

    def run_packages(self, packages: Sequence[str]) -> list[Mapping[str, Any]]:
        """Every rule of these test packages in one query: each query compiles (and, in
        rego-cpp, keeps ~60 MB), so tests are batched. Raises when any rule errors, so the
        caller can narrow down with smaller batches and `run_test`."""

    def coverage(self, packages: Sequence[str]) -> dict[str, Any] | None:
        """OPA-style line coverage of running these test packages, or None when unsupported."""


_OPA_LOCATION = re.compile(r"(\S+?):(\d+): (rego_\w+): ([^\n]*)")


def opa_style_error(message: str) -> InputError | EngineError:
    """Turn an OPA compiler message into the one-line error of the module it names. A
    Gatekeeper template's Rego is a module named `<file>#<kind>` (engine.policy.
    manifest_sources), lined up with its YAML file: the error names the file."""
    match = _OPA_LOCATION.search(message)
    if not match:
        return EngineError(message.strip().splitlines()[0] if message.strip() else "OPA error")
    path, line, kind, text = match.groups()
    module, _, part = path.partition("#")
    where = f" (ConstraintTemplate {part})" if part else ""
    return InputError(module, int(line), f"{kind}: {text.strip()}{where}")
