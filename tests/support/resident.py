"""The resident OPA in tests: the binary `make tools` builds, a private state folder, and a
way to stop every server a test started."""

from __future__ import annotations

from pathlib import Path

from engine.cli.daemon_client import DAEMON_ENV
from engine.cli.daemon_client import stop_all as stop_daemons
from engine.policy.backends.resident import BINARY_ENV, IDLE_ENV, stop_all
from engine.statedir import STATE_ENV
from tests.support.repos import ROOT

OPA_BINARY = ROOT / ".cache" / "go-tools" / "bin" / "opa"


def resident_env(state: Path, idle: float = 60) -> dict[str, str]:
    """No govops daemon unless a test asks for one (tests/cli/test_daemon.py): a console
    script run by a test then runs the check itself, as the test means."""
    return {STATE_ENV: str(state), BINARY_ENV: str(OPA_BINARY), IDLE_ENV: str(idle),
            DAEMON_ENV: "0"}


def stop_residents() -> int:
    """Stop, by PID, every govops daemon and resident OPA server of the state folder."""
    return stop_daemons() + len(stop_all())
