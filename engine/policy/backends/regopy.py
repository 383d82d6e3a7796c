"""Microsoft's rego-cpp through regopy: the fallback backend when OPA cannot load.

Talks to regopy's C layer for outputs because `regopy.Output.__str__` crashes the process on
error outputs (seen with regopy 1.5.2); every call that can fail is checked here instead.
"""

from __future__ import annotations

import importlib.metadata
import json
import re
import weakref
from collections.abc import Mapping, Sequence
from typing import Any

from engine.errors import EngineError, InputError
from engine.policy.backends.calls import arity_clashes, calls_to_builtins
from engine.policy.backends.interface import TestOutcome
from engine.policy.backends.regocpp_gaps import unbound_comparisons
from engine.policy.library import PolicyModule

try:
    import regopy
    from regopy.rego_shared import (
        RegoError,
        rego_free_output,
        rego_get_error,
        rego_output_ok,
        rego_output_string,
        rego_query,
        rego_set_strict_builtin_errors,
    )
except (ImportError, OSError) as exc:
    _IMPORT_ERROR: Exception | None = exc
else:
    _IMPORT_ERROR = None

_LOCATION = re.compile(r"\(error \d+:(.+?)\|(\d+)\|\d+")
_MESSAGE = re.compile(r"\(errormsg \d+:([^)\n]*)")


class RegopyBackend:
    name = "regopy"

    def __init__(self) -> None:
        if _IMPORT_ERROR is not None:
            raise EngineError(f"the regopy engine cannot load ({_IMPORT_ERROR})")
        # The interpreter lives in a box that a finalizer empties when this backend is
        # freed or, at the latest, when the process exits: Interpreter.__del__ calls regopy's
        # module-level rego_free, which interpreter shutdown may already have set to None
        # (gc.freeze() in cli.run keeps the backend alive until then), and the user would
        # see "Exception ignored in Interpreter.__del__ ... 'NoneType' object is not
        # callable" after every hook run.
        self._box = [regopy.Interpreter()]
        weakref.finalize(self, self._box.clear)
        # rego-cpp prints compile errors to stdout itself; we report them as one line instead.
        self._interp.log_level = regopy.LogLevel.NONE
        # A builtin that fails (to_number("MIT"), a division by zero) is an error, as on the
        # embedded OPA and the resident one: undefined would silently drop a deny.
        rego_set_strict_builtin_errors(self._interp._impl, True)
        self._sources: dict[str, str] = {}

    @property
    def _interp(self) -> Any:
        return self._box[0]

    def version(self) -> str:
        return "regopy " + importlib.metadata.version("regopy")

    def _error(self, text: str) -> InputError | EngineError:
        message = _MESSAGE.search(text)
        lines = text.strip().splitlines()
        if message is None and not lines:
            # rego-cpp reports some evaluation errors (a rule conflict, an unsafe `_`) with
            # no text at all: say so rather than fail on the empty message.
            return EngineError("regopy: the evaluation failed and rego-cpp gives no reason; "
                               "OPA names it: evaluate with --engine opa")
        what = message.group(1).strip() if message else lines[0]
        where = _LOCATION.search(text)
        if where and where.group(1) in self._sources:
            path, offset = where.group(1), int(where.group(2))
            line = self._sources[path].count("\n", 0, offset) + 1
            return InputError(path, line, f"rego error: {what}")
        return EngineError(f"regopy: {what}")

    def load(self, modules: Sequence[PolicyModule], data: Mapping[str, Any],
             digest: str | None = None) -> None:
        for clash in arity_clashes(modules):
            raise InputError(clash.path, clash.line,
                             f"function {clash.name} takes {clash.arity} arguments here and "
                             f"{clash.other_arity} in {clash.other_path}:{clash.other_line}; "
                             "rego-cpp (the regopy backend) crashes on that: rename one, or "
                             "evaluate with --engine opa")
        # Test modules are left to `policy test`, which asks OPA's verdict of each test that
        # rego-cpp decides otherwise and reports the difference as that test's error.
        for gap in unbound_comparisons(m for m in modules if not m.is_test):
            raise InputError(gap.path, gap.line,
                             f"`{gap.statement}` compares two collections each indexed by a "
                             "variable nothing binds before it: rego-cpp (the regopy backend) "
                             "finds no match there where OPA finds them; bind one side first "
                             "(`some x in xs; x in ys`), unify with `=`, or evaluate with "
                             "--engine opa")
        for module in modules:
            self._sources[module.path] = module.source
            try:
                self._interp.add_module(module.path, module.source)
            except RegoError as exc:
                raise self._error(str(exc)) from None
        for call in calls_to_builtins(modules):
            if not self._interp.is_builtin(call.name):
                raise InputError(call.path, call.line,
                                 f"{call.name} is not a builtin of the regopy backend "
                                 "(rego-cpp); evaluate with --engine opa")
        try:
            self._interp.add_data_json(json.dumps(dict(data)))
        except RegoError as exc:
            raise self._error(str(exc)) from None

    def _query(self, query: str) -> Any:
        """The first expression's value; None when undefined; raises on engine errors."""
        impl = rego_query(self._interp._impl, query)
        try:
            if not rego_output_ok(impl):
                raise self._error(rego_get_error(self._interp._impl))
            text = rego_output_string(impl)
        finally:
            rego_free_output(impl)
        if text.strip() == "undefined":
            return None
        try:
            result = json.loads(text)
        except ValueError:
            raise self._error(text) from None
        expressions = result.get("expressions") if isinstance(result, dict) else None
        return expressions[0] if expressions else None

    def evaluate(self, document: str, input: Any,
                 locks: Mapping[str, Sequence[str]] | None = None,
                 blobs: Mapping[str, Mapping[str, str]] | None = None) -> Any:
        try:
            # An in-memory Input, not a term to parse: a 3 MB input (1,000 objects, 10,000
            # locked packages) costs 1.3 s this way against 1.7 s through set_input_term.
            self._interp.set_input(regopy.Input(input))
        except RegoError as exc:
            raise EngineError(f"regopy rejected the input: {exc}") from None
        return self._query(f"data.{document}")

    def run_test(self, package: str, rule: str) -> TestOutcome:
        self._interp.set_input_term("{}")
        try:
            value = self._query(f"data.{package}.{rule}")
        except (InputError, EngineError) as exc:
            return TestOutcome("error", str(exc))
        return TestOutcome("pass") if value is True else TestOutcome("fail", repr(value))

    def run_packages(self, packages: Sequence[str]) -> list[Mapping[str, Any]]:
        self._interp.set_input_term("{}")
        values = self._query("[" + ", ".join(f"data.{p}" for p in packages) + "]")
        if not isinstance(values, list):
            return [{} for _ in packages]
        return [v if isinstance(v, dict) else {} for v in values]

    def coverage(self, packages: Sequence[str]) -> dict[str, Any] | None:
        return None
