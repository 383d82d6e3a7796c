"""Rego backends behind one interface; `select_backend` picks one by name, `load_backend`
picks and loads one the way `govops check` needs.

`auto` for a check prefers: an OPA server given by URL (--opa-url or GOVOPS_OPA_URL), then the
resident local OPA when the official `opa` binary is on PATH, then the embedded OPA, then
rego-cpp. Each is tried for real (a server that will not start is skipped, with the reason),
and rego-cpp, the last resort, always says why it was used: it is not OPA and differs from it
in places. A policy that does not compile is not a reason to try the next engine: it fails.
"""

from __future__ import annotations

import os
import subprocess
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from engine.errors import EngineError, GovopsError, InputError
from engine.policy.backends.interface import RegoBackend, TestOutcome
from engine.policy.engines import ENGINES, FELL_BACK
from engine.policy.library import PolicyModule

__all__ = ["ENGINES", "RegoBackend", "TestOutcome", "available", "load_backend",
           "require_fast_yaml", "select_backend"]

URL_ENV = "GOVOPS_OPA_URL"
TOKEN_ENV = "GOVOPS_OPA_TOKEN"


def _make(name: str, opa_url: str | None = None) -> RegoBackend:
    if name == "opa":
        from engine.policy.backends.opa import OpaBackend

        return OpaBackend()
    if name == "regopy":
        from engine.policy.backends.regopy import RegopyBackend

        return RegopyBackend()
    if name == "opa-server":
        from engine.policy.backends.opa_server import OpaServerBackend

        return OpaServerBackend(opa_url, os.environ.get(TOKEN_ENV) or None)
    raise EngineError(f"unknown engine {name!r} (choose from {', '.join(ENGINES)})")


def select_backend(name: str, opa_url: str | None = None) -> RegoBackend:
    """A backend by name; `auto` here (policy tests, which need coverage) means the embedded
    OPA, else rego-cpp."""
    if name != "auto":
        return _make(name, opa_url or os.environ.get(URL_ENV) or None)
    try:
        return _make("opa")
    except EngineError:
        return _make("regopy")


def load_backend(name: str, modules: Sequence[PolicyModule], data: Mapping[str, Any],
                 digest: str, opa_url: str | None = None) -> RegoBackend:
    """A backend with this bundle loaded; for `auto`, the first of the order above that
    loads, the reasons for skipping the others kept in its version line."""
    url = opa_url or os.environ.get(URL_ENV) or None
    if name != "auto":
        backend = _make(name, url)
        backend.load(modules, data, digest)
        return backend
    candidates: list[tuple[str, Callable[[], RegoBackend]]] = []
    if url:
        candidates.append((f"OPA at {url}", lambda: _make("opa-server", url)))
    candidates += [("resident OPA", lambda: _make("opa-server")),
                   ("embedded OPA", lambda: _make("opa")),
                   ("rego-cpp", lambda: _make("regopy"))]
    skipped: list[str] = []
    for label, make in candidates:
        try:
            backend = make()
            backend.load(modules, data, digest)
        except InputError:
            raise
        except (GovopsError, OSError, subprocess.SubprocessError) as exc:
            # A state folder it cannot use, an `opa` that will not answer: try the next one.
            skipped.append(f"{label}: {exc}")
            continue
        if backend.name == "regopy" or (skipped and url):
            return _Noted(backend, "; ".join(skipped))
        return backend
    raise EngineError("no Rego engine could load: " + "; ".join(skipped))


class _Noted:
    """A backend `auto` fell back to, whose version line says what was skipped and why."""

    def __init__(self, backend: RegoBackend, skipped: str) -> None:
        self._backend = backend
        self.name = backend.name
        self._skipped = skipped

    def version(self) -> str:
        last = ", the last resort" if self.name == "regopy" else ""
        return f"{self._backend.version()}; {FELL_BACK}{last} ({self._skipped})"

    def load(self, modules: Sequence[PolicyModule], data: Mapping[str, Any],
             digest: str | None = None) -> None:
        self._backend.load(modules, data, digest)

    def evaluate(self, document: str, input: Any,
                 locks: Mapping[str, Sequence[str]] | None = None,
                 blobs: Mapping[str, Mapping[str, str]] | None = None) -> Any:
        return self._backend.evaluate(document, input, locks, blobs)

    def run_test(self, package: str, rule: str) -> TestOutcome:
        return self._backend.run_test(package, rule)

    def run_packages(self, packages: Sequence[str]) -> list[Mapping[str, Any]]:
        return self._backend.run_packages(packages)

    def coverage(self, packages: Sequence[str]) -> dict[str, Any] | None:
        return self._backend.coverage(packages)


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
