"""engine.parallel: the same answers in the same order whether the work is forked or not, and
a GOVOPS_JOBS that is not a number of processes is one clear error."""

from __future__ import annotations

import os

import pytest

from engine import parallel
from engine.errors import GovopsError


def _where(index: int) -> tuple[int, int]:
    return index * index, os.getpid()


def test_forked_work_comes_back_in_order_from_other_processes(
        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(parallel.JOBS_VARIABLE, "2")
    results = parallel.forked_map(_where, 40, minimum=1)
    assert [square for square, _ in results] == [i * i for i in range(40)]
    assert os.getpid() not in {pid for _, pid in results}
    assert parallel._work is None  # nothing left behind for a later fork


def test_one_job_or_little_work_stays_in_this_process(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(parallel.JOBS_VARIABLE, "1")
    assert {pid for _, pid in parallel.forked_map(_where, 40, minimum=1)} == {os.getpid()}
    monkeypatch.setenv(parallel.JOBS_VARIABLE, "2")
    assert {pid for _, pid in parallel.forked_map(_where, 40)} == {os.getpid()}  # < MINIMUM


def test_an_error_in_a_worker_reaches_the_caller(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(parallel.JOBS_VARIABLE, "2")

    def fails(index: int) -> int:
        if index == 7:
            raise ValueError("entry 7 is unreadable")
        return index

    with pytest.raises(ValueError, match="entry 7 is unreadable"):
        parallel.forked_map(fails, 20, minimum=1)


@pytest.mark.parametrize("value", ["0", "-1", "two", "1.5"])
def test_a_bad_jobs_setting_is_refused(monkeypatch: pytest.MonkeyPatch, value: str) -> None:
    monkeypatch.setenv(parallel.JOBS_VARIABLE, value)
    with pytest.raises(GovopsError, match=f"GOVOPS_JOBS='{value}': expected a whole number"):
        parallel.jobs()


def _sigterm_is_default(index: int) -> bool:
    import signal

    return signal.getsignal(signal.SIGTERM) == signal.SIG_DFL


def test_workers_die_on_sigterm_whatever_the_parent_handles(
        monkeypatch: pytest.MonkeyPatch) -> None:
    """The govops daemon handles SIGTERM (to stop between requests). Its forked workers must
    not inherit that: Pool.terminate() SIGTERMs the idle ones and joins them, and a worker
    that ignored it held the daemon, and the commit waiting on it, for two minutes."""
    import signal

    monkeypatch.setenv(parallel.JOBS_VARIABLE, "2")

    def ignore(_signum: int, _frame: object) -> None:
        return None

    previous = signal.signal(signal.SIGTERM, ignore)
    try:
        assert all(parallel.forked_map(_sigterm_is_default, 8, minimum=1))
        assert signal.getsignal(signal.SIGTERM) is ignore  # the parent keeps its own
    finally:
        signal.signal(signal.SIGTERM, previous)

