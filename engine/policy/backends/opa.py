"""The real OPA Go engine, embedded through opa-golib-python-bindings (ctypes)."""

from __future__ import annotations

import importlib.metadata
from collections.abc import Mapping, Sequence
from typing import Any

from engine.errors import EngineError
from engine.policy.backends.interface import TestOutcome, opa_style_error
from engine.policy.library import PolicyModule

try:
    from opa_bindings import OpaEngine, OpaError, OpaUndefinedError
except (ImportError, OSError) as exc:  # the wheel is installed separately; see requirements/opa.txt
    _IMPORT_ERROR: Exception | None = exc
else:
    _IMPORT_ERROR = None


class OpaBackend:
    name = "opa"

    def __init__(self) -> None:
        if _IMPORT_ERROR is not None:
            raise EngineError(f"the opa engine cannot load ({_IMPORT_ERROR}); install "
                              "requirements/opa.txt or use --engine regopy")
        try:
            self._engine = OpaEngine()
        except OSError as exc:
            raise EngineError(f"the opa engine cannot load ({exc}); use --engine regopy") from None

    def version(self) -> str:
        return "opa-golib-python-bindings " + importlib.metadata.version(
            "opa-golib-python-bindings")

    def load(self, modules: Sequence[PolicyModule], data: Mapping[str, Any],
             digest: str | None = None) -> None:
        try:
            for module in modules:
                self._engine.add_policy(module.path, module.source)
            self._engine.add_data(dict(data))
            # Compilation (type checks, undefined functions) happens on first use: force it now
            # so a broken policy is an error before any input is evaluated.
            self._engine.eval_query("true")
        except OpaError as exc:
            raise opa_style_error(exc.message) from None

    def evaluate(self, document: str, input: Any,
                 locks: Mapping[str, Sequence[str]] | None = None,
                 blobs: Mapping[str, Mapping[str, str]] | None = None) -> Any:
        try:
            return self._engine.eval_document(document, input)
        except OpaUndefinedError:
            return None
        except OpaError as exc:
            raise opa_style_error(exc.message) from None

    def run_test(self, package: str, rule: str) -> TestOutcome:
        try:
            value = self._engine.eval_document(f"{package}.{rule}")
        except OpaUndefinedError:
            return TestOutcome("fail")
        except OpaError as exc:
            return TestOutcome("error", exc.message.strip().splitlines()[0])
        return TestOutcome("pass") if value is True else TestOutcome("fail", repr(value))

    def run_packages(self, packages: Sequence[str]) -> list[Mapping[str, Any]]:
        try:
            bindings = self._engine.eval_query(_batch_query(packages))
        except OpaError as exc:
            raise EngineError(exc.message) from None
        values = bindings[0]["tests"] if bindings else [{} for _ in packages]
        return [v if isinstance(v, dict) else {} for v in values]

    def coverage(self, packages: Sequence[str]) -> dict[str, Any] | None:
        """Covered and not-covered lines per file; empty when a test errors (the run fails)."""
        try:
            self._engine.eval_query(_batch_query(packages), coverage=True)
        except OpaError:
            return {}
        files: dict[str, Any] = {}
        for path, lines in ((self._engine.last_coverage or {}).get("files") or {}).items():
            covered = _rows(lines.get("covered"))
            missed = _rows(lines.get("not_covered")) - covered
            files[path] = {"covered": covered, "not_covered": missed}
        return files


def _batch_query(packages: Sequence[str]) -> str:
    """One query for every test package: OPA prepares (compiles) each distinct query."""
    return "tests := [" + ", ".join(f"data.{p}" for p in packages) + "]"


def _rows(spans: list[dict[str, Any]] | None) -> set[int]:
    return {row for span in spans or []
            for row in range(span["start"]["row"], span["end"]["row"] + 1)}
