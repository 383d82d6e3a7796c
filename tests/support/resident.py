"""The resident OPA in tests: the binary `make tools` builds, a private state folder, and a
way to stop every server a test started."""

from __future__ import annotations

from pathlib import Path

from engine.policy.backends.resident import BINARY_ENV, IDLE_ENV, STATE_ENV, stop_all
from tests.support.repos import ROOT

OPA_BINARY = ROOT / ".cache" / "go-tools" / "bin" / "opa"


def resident_env(state: Path, idle: float = 60) -> dict[str, str]:
    return {STATE_ENV: str(state), BINARY_ENV: str(OPA_BINARY), IDLE_ENV: str(idle)}


def stop_residents() -> int:
    return len(stop_all())
