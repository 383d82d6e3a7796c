"""Backend selection: auto prefers OPA and falls back to rego-cpp only when OPA cannot load."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

import engine.policy.backends.opa as opa_module
from engine.errors import EngineError
from engine.policy.backends import available, select_backend
from engine.policy.library import PolicyModule

POLICY = PolicyModule("p.rego", "package govops.policies.p\n\nimport rego.v1\n\n"
                      "deny contains {\"id\": \"P-1\"} if input.x == 1\n")


def test_auto_prefers_opa() -> None:
    assert select_backend("auto").name == "opa"
    assert available() == ["opa", "regopy"]


def test_auto_falls_back_to_regopy_when_opa_cannot_load(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(opa_module, "_IMPORT_ERROR", ImportError("no opa_bindings"))
    assert select_backend("auto").name == "regopy"
    with pytest.raises(EngineError, match=r"the opa engine cannot load .* use --engine regopy"):
        select_backend("opa")


def test_unknown_engine() -> None:
    with pytest.raises(EngineError, match="unknown engine 'wasm'"):
        select_backend("wasm")


@pytest.mark.parametrize("name", ["opa", "regopy"])
def test_both_backends_evaluate_the_same_document(name: str) -> None:
    backend = select_backend(name)
    backend.load([POLICY], {"govops": {}})
    assert backend.evaluate("govops.policies", {"x": 1}) == {"p": {"deny": [{"id": "P-1"}]}}
    assert backend.evaluate("govops.policies", {"x": 2}) == {"p": {"deny": []}}
    assert backend.evaluate("govops.nothing", {"x": 2}) is None


# Interpreter shutdown clears module globals before it frees what gc.freeze() kept alive; the
# script below makes that order certain by clearing regopy's `rego_free` in an exit handler
# registered before the backend exists (exit handlers run last-registered first).
_SHUTDOWN = """
import atexit, gc, sys
sys.path.insert(0, {root!r})
import regopy.interpreter as interpreter
atexit.register(lambda: setattr(interpreter, "rego_free", None))
import engine
from engine.policy.backends.regopy import RegopyBackend
backend = RegopyBackend()
backend.load([], {{}})
engine.KEPT = backend
gc.freeze()
"""


def test_regopy_exits_without_a_message_after_gc_freeze() -> None:
    """Every hook run on rego-cpp printed "Exception ignored in Interpreter.__del__ ...
    'NoneType' object is not callable" at exit (issue 17)."""
    root = str(Path(__file__).resolve().parents[2])
    run = subprocess.run([sys.executable, "-c", _SHUTDOWN.format(root=root)],
                         capture_output=True, text=True, timeout=120, check=False)
    assert run.returncode == 0, run.stderr
    assert run.stderr == ""
    assert run.stdout == ""
