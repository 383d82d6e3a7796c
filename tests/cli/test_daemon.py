"""The resident govops process (engine.cli.daemon): the console script hands it `govops check`,
it answers exactly as the check run in the client would, and the client falls back to running
the check itself whenever there is no daemon to answer."""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from engine.cli import daemon_client
from tests.support.repos import NOW
from tests.support.resident import stop_residents

GOVOPS = str(Path(sys.executable).with_name("govops"))


@pytest.fixture
def daemon_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[dict[str, str]]:
    """The console script's environment with daemons allowed, in a state folder of this test;
    every daemon and server it started is stopped afterwards."""
    state = tmp_path / "state"
    monkeypatch.setenv("GOVOPS_STATE_DIR", str(state))
    monkeypatch.delenv("GOVOPS_DAEMON")
    env = dict(os.environ)
    yield env
    stop_residents()


def _govops(env: dict[str, str], *args: str, cwd: Path | None = None
            ) -> subprocess.CompletedProcess[str]:
    return subprocess.run([GOVOPS, *args], env=env, cwd=cwd, capture_output=True, text=True,
                          timeout=300, check=False)


def _served() -> int:
    return sum(served for _, _, served in daemon_client.running())


def _wait_for_daemon() -> None:
    deadline = time.monotonic() + 60
    while not daemon_client.running() and time.monotonic() < deadline:
        time.sleep(0.05)
    assert daemon_client.running(), "the first check did not start a daemon"


def test_forwardable_is_a_read_only_check(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("GOVOPS_DAEMON")
    assert daemon_client.forwardable(["check", "--staged"])
    assert daemon_client.forwardable(["check", "--format", "json", "--base", "main"])
    for argv in (["check", "--record", "--key", "k"], ["check", "--keyless"], ["bom"],
                 ["check", "--help"], ["apply", "--stack", "s"], []):
        assert not daemon_client.forwardable(argv), argv
    monkeypatch.setenv("GOVOPS_DAEMON", "0")
    assert not daemon_client.forwardable(["check", "--staged"])


def test_the_second_check_is_answered_by_the_daemon_exactly_as_here(
        acme: Path, daemon_env: dict[str, str]) -> None:
    args = ("check", "--repo", str(acme), "--engine", "opa", "--now", NOW, "--format", "json")
    first = _govops(daemon_env, *args)  # runs here, starts the daemon
    _wait_for_daemon()
    second = _govops(daemon_env, *args)
    third = _govops(daemon_env, *args)  # from what the daemon kept of the second (content-keyed)
    assert _served() == 2
    here = _govops({**daemon_env, "GOVOPS_DAEMON": "0"}, *args)
    assert first.returncode == second.returncode == third.returncode == here.returncode == 1
    assert (json.loads(second.stdout) == json.loads(third.stdout) == json.loads(here.stdout)
            == json.loads(first.stdout))
    assert second.stderr == third.stderr == here.stderr


def test_the_daemon_runs_in_the_clients_directory_and_environment(
        acme: Path, daemon_env: dict[str, str]) -> None:
    _govops(daemon_env, "check", "--repo", str(acme), "--now", NOW)
    _wait_for_daemon()
    relative = _govops(daemon_env, "check", "--repo", ".", "--engine", "opa", "--now", NOW,
                       "--format", "json", cwd=acme)
    assert _served() == 1
    assert json.loads(relative.stdout)["objects"] >= 12
    nobody = "http://127.0.0.1:9"  # the client's GOVOPS_OPA_URL, not the daemon's
    error = _govops({**daemon_env, "GOVOPS_OPA_URL": nobody}, "check", "--repo", str(acme),
                    "--engine", "opa-server", "--now", NOW)
    assert _served() == 2
    assert error.returncode == 2
    assert error.stdout == ""
    assert error.stderr.startswith(f"govops: error: OPA at {nobody} did not answer"), error.stderr
    assert len(error.stderr.strip().splitlines()) == 1
    assert "GOVOPS_OPA_URL" not in os.environ or os.environ["GOVOPS_OPA_URL"] != nobody


def test_an_input_error_is_one_line_exit_2_through_the_daemon(
        tmp_path: Path, daemon_env: dict[str, str], acme: Path) -> None:
    _govops(daemon_env, "check", "--repo", str(acme), "--now", NOW)
    _wait_for_daemon()
    run = _govops(daemon_env, "check", "--repo", str(tmp_path / "nowhere"), "--now", NOW)
    assert _served() == 1
    assert run.returncode == 2 and run.stdout == ""
    assert run.stderr.startswith("govops: error: ") and len(run.stderr.splitlines()) == 1


def test_a_killed_daemon_means_the_check_runs_here_and_a_new_one_starts(
        acme: Path, daemon_env: dict[str, str]) -> None:
    args = ("check", "--repo", str(acme), "--engine", "opa", "--now", NOW, "--format", "json")
    _govops(daemon_env, *args)
    _wait_for_daemon()
    [(folder, pid, _)] = daemon_client.running()
    os.kill(pid, signal.SIGKILL)
    deadline = time.monotonic() + 10
    while daemon_client.running() and time.monotonic() < deadline:
        time.sleep(0.05)
    assert (folder / daemon_client.SOCKET).exists()  # a stale socket nobody answers on
    run = _govops(daemon_env, *args)
    assert run.returncode == 1 and json.loads(run.stdout)["engine"] == "opa"
    _wait_for_daemon()
    [(_, new_pid, served)] = daemon_client.running()
    assert new_pid != pid and served == 0


def test_recording_checks_and_other_commands_never_go_to_the_daemon(
        acme: Path, daemon_env: dict[str, str]) -> None:
    _govops(daemon_env, "check", "--repo", str(acme), "--now", NOW)
    _wait_for_daemon()
    _govops(daemon_env, "bom", "--repo", str(acme), "--output", os.devnull)
    _govops(daemon_env, "check", "--repo", str(acme), "--now", NOW, "--record")
    assert _served() == 0


def test_engine_stop_stops_the_daemon(acme: Path, daemon_env: dict[str, str]) -> None:
    _govops(daemon_env, "check", "--repo", str(acme), "--now", NOW)
    _wait_for_daemon()
    [(folder, pid, _)] = daemon_client.running()
    status = _govops(daemon_env, "engine", "status").stdout
    assert f"govops daemon {folder.name}  running: pid {pid}, 0 checks served" in status
    stopped = _govops(daemon_env, "engine", "stop").stdout
    assert stopped.strip().endswith("and 1 govops daemon")
    assert daemon_client.running() == []
    assert not (folder / daemon_client.SOCKET).exists()


def test_a_changed_installation_has_another_identity(tmp_path: Path) -> None:
    package = tmp_path / "engine"
    shutil.copytree(Path(daemon_client.__file__).resolve().parents[1] / "policy", package,
                    ignore=shutil.ignore_patterns("__pycache__"))
    before = daemon_client.identity(package)
    assert daemon_client.identity(package) == before
    module = next(package.rglob("*.py"))
    os.utime(module, ns=(module.stat().st_atime_ns, module.stat().st_mtime_ns + 1_000_000))
    assert daemon_client.identity(package) != before


def test_a_repo_cannot_plant_the_daemon_or_the_opa_supervisor(
        acme: Path, daemon_env: dict[str, str], tmp_path: Path) -> None:
    """`python -m` puts the working directory first on sys.path: the daemon and the OPA
    supervisor are started with -P from their own folder, so an `engine/` package in the
    governed repo (where a hook runs) is never what they import."""
    planted = tmp_path / "planted"
    trap = f"open({str(planted)!r}, 'a').write(__name__ + '\\n')\n"
    for module in ("engine/__init__.py", "engine/cli/__init__.py", "engine/cli/daemon.py",
                   "engine/policy/__init__.py", "engine/policy/backends/__init__.py",
                   "engine/policy/backends/opa_supervisor.py"):
        (acme / module).parent.mkdir(parents=True, exist_ok=True)
        (acme / module).write_text(trap)
    args = ("check", "--repo", ".", "--engine", "opa-server", "--now", NOW, "--format", "json")
    first = _govops(daemon_env, *args, cwd=acme)
    _wait_for_daemon()
    second = _govops(daemon_env, *args, cwd=acme)
    assert _served() == 1
    assert first.returncode == second.returncode == 1
    assert json.loads(second.stdout)["engine"] == "opa-server"
    assert not planted.exists(), planted.read_text()


def test_a_stuck_daemon_is_killed_with_the_workers_it_forked(tmp_path: Path) -> None:
    """The client gives up on a daemon that stopped answering and kills it; a check it was
    running may have forked parse workers, which must not live on as orphans waiting for
    work (each holds a copy of the daemon's memory)."""
    where = tmp_path / "daemon"
    where.mkdir()
    leader = subprocess.Popen(
        [sys.executable, "-c", "import subprocess, sys, time\n"
         "subprocess.Popen([sys.executable, '-c', 'import time; time.sleep(300)'])\n"
         "time.sleep(300)", "engine.cli.daemon"], start_new_session=True)
    try:
        (where / "pid").write_text(str(leader.pid))
        deadline = time.monotonic() + 30
        workers: list[int] = []
        while not workers and time.monotonic() < deadline:
            workers = [int(p) for p in subprocess.run(
                ["pgrep", "-g", str(leader.pid)], capture_output=True, text=True,
                check=False).stdout.split() if int(p) != leader.pid]
            time.sleep(0.05)
        assert workers, "the stand-in daemon forked no worker"
        daemon_client._replace(where)
        assert leader.wait(timeout=10) == -signal.SIGKILL
        deadline = time.monotonic() + 10
        while any(Path(f"/proc/{w}").exists() and b"Z" not in Path(
                f"/proc/{w}/stat").read_bytes().split(b")")[-1][:3] for w in workers):
            assert time.monotonic() < deadline, f"workers {workers} outlived the daemon"
            time.sleep(0.05)
    finally:
        with contextlib.suppress(OSError):
            os.killpg(leader.pid, signal.SIGKILL)
        leader.wait(timeout=10)
