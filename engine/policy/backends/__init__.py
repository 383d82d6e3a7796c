"""Rego backends behind one interface; `select_backend` picks one by name.

`auto` prefers the real OPA engine and falls back to rego-cpp only when OPA cannot load (as in
pre-commit's own environment, where the OPA wheel cannot be installed through metadata).
"""

from __future__ import annotations

from engine.errors import EngineError
from engine.policy.backends.interface import RegoBackend, TestOutcome
from engine.policy.engines import ENGINES

__all__ = ["ENGINES", "RegoBackend", "TestOutcome", "available", "require_fast_yaml",
           "select_backend"]


def _make(name: str) -> RegoBackend:
    if name == "opa":
        from engine.policy.backends.opa import OpaBackend

        return OpaBackend()
    if name == "regopy":
        from engine.policy.backends.regopy import RegopyBackend

        return RegopyBackend()
    raise EngineError(f"unknown engine {name!r} (choose from {', '.join(ENGINES)})")


def select_backend(name: str) -> RegoBackend:
    if name != "auto":
        return _make(name)
    try:
        return _make("opa")
    except EngineError:
        return _make("regopy")


def available() -> list[str]:
    names = []
    for name in ("opa", "regopy"):
        try:
            _make(name)
        except EngineError:
            continue
        names.append(name)
    return names


def require_fast_yaml() -> None:
    """Without ruamel.yaml.clib, parsing is ~8x slower: say so at set-up, not in a benchmark."""
    from engine.catalog.yamldoc import fast_yaml_available

    if not fast_yaml_available():
        raise EngineError("ruamel.yaml.clib is not installed: YAML parsing would be 8x slower")
