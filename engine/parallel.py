"""Spread independent, CPU-bound checks over the machine's cores: `audit verify` checks two
signatures per entry (the entry's and its timestamp's), ~0.5 ms of cryptography that no later
entry depends on, so 10,000 entries verify in half the time on two cores.

Workers are forked: they inherit the work (the entries read, the trust history verified) rather
than receiving it pickled, and send back only small results. Below `MINIMUM` items, or with one
core, or where fork does not exist, the work runs in this process: the answer is the same
either way, only the time differs. `GOVOPS_JOBS` sets the number of processes (1 turns it off).
"""

from __future__ import annotations

import multiprocessing
import os
import signal
from collections.abc import Callable, Sequence
from typing import Any, TypeVar

from engine.errors import GovopsError

T = TypeVar("T")
MINIMUM = 256  # items per worker below which forking costs more than it saves
JOBS_VARIABLE = "GOVOPS_JOBS"

_work: Callable[[int], Any] | None = None  # set in the parent just before the fork


def jobs() -> int:
    """Processes to use: GOVOPS_JOBS, else the cores this process may run on."""
    configured = os.environ.get(JOBS_VARIABLE, "").strip()
    if configured:
        if not configured.isdigit() or int(configured) < 1:
            raise GovopsError(f"{JOBS_VARIABLE}={configured!r}: expected a whole number >= 1")
        return int(configured)
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not Linux
        return os.cpu_count() or 1


def _as_worker() -> None:
    """A worker dies on SIGTERM, whatever handler its parent installed: Pool.terminate()
    SIGTERMs the workers still waiting for tasks and then joins them, so a worker that kept
    the govops daemon's handler (which only asks the daemon to stop) outlived every task and
    held the daemon, and the commit waiting on it, until the client gave up two minutes
    later."""
    signal.signal(signal.SIGTERM, signal.SIG_DFL)


def _run(index: int) -> Any:
    assert _work is not None, "forked without work"
    return _work(index)


def forked_map(work: Callable[[int], T], count: int, minimum: int | None = None
               ) -> Sequence[T]:
    """[work(0), ..., work(count - 1)], in order, computed by up to `jobs()` forked processes
    (one per `minimum` items at most, MINIMUM by default). `work` must not write anything the
    parent relies on: a worker's changes stay in it."""
    global _work
    workers = min(jobs(), count // max(1, MINIMUM if minimum is None else minimum))
    if workers <= 1 or "fork" not in multiprocessing.get_all_start_methods():
        return [work(i) for i in range(count)]
    _work = work
    try:
        with multiprocessing.get_context("fork").Pool(workers, initializer=_as_worker) as pool:
            chunk = max(1, count // (workers * 4))
            return pool.map(_run, range(count), chunksize=chunk)
    finally:
        _work = None
