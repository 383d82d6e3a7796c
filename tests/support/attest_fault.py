"""Faults at a chosen point of a ledger append, for the tests of `attest --record`.

    python tests/support/attest_fault.py MODE AT GOVOPS-ARGS...

runs `govops GOVOPS-ARGS` in this process with the fault installed. MODE is `kill` (SIGKILL
this process), `enospc` (the write fails with OSError ENOSPC, as git's object write does on a
full disk) or `count` (no fault; print `writes N` on stderr: how many objects the append
wrote). AT is the 1-based object write (blob, tree or commit, counted from the moment
`Ledger.append_all` starts) that the fault replaces, or `after-ref`: the moment after the ref
moved, before the checkpoint is extended. The tests use it to put a crash or a full disk
exactly between the decision and the AIBOM parts of a record, and at every other point.
"""

from __future__ import annotations

import errno
import os
import signal
import sys
from collections.abc import Callable
from typing import Any

import pygit2

from engine.errors import GovopsError
from engine.ledger.store import Ledger

Patch = tuple[Any, str, Any]  # (object, attribute, replacement): for setattr or monkeypatch


def faults(mode: str, at: str, report: Callable[[int], None] = lambda _n: None) -> list[Patch]:
    """The patches that install the fault; `report` gets the count when an append ends."""
    state = {"on": False, "writes": 0}

    def fault() -> None:
        if mode == "kill":
            os.kill(os.getpid(), signal.SIGKILL)
        if mode == "enospc":
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    def counted(write: Callable[..., Any]) -> Callable[..., Any]:
        def wrapper(*args: Any, **named: Any) -> Any:
            if state["on"]:
                state["writes"] += 1
                if str(state["writes"]) == at:
                    fault()
            return write(*args, **named)
        return wrapper

    class Builder:
        """pygit2's TreeBuilder is a C type: its `write` is counted through this wrapper."""

        def __init__(self, inner: Any) -> None:
            self._inner = inner

        def insert(self, *args: Any) -> Any:
            return self._inner.insert(*args)

        def write(self) -> Any:
            return counted(self._inner.write)()

    tree_builder = pygit2.Repository.TreeBuilder
    append_all, extend = Ledger.append_all, Ledger._extend_checkpoint

    def appending(self: Ledger, *args: Any, **named: Any) -> Any:
        state["on"], state["writes"] = True, 0
        try:
            return append_all(self, *args, **named)
        finally:
            state["on"] = False
            report(state["writes"])

    def extending(self: Ledger, *args: Any, **named: Any) -> Any:
        if at == "after-ref" and mode == "enospc":  # as write_atomically reports it
            raise GovopsError(f"{self.checkpoint_path}: cannot write: "
                              f"{os.strerror(errno.ENOSPC)}")
        if at == "after-ref":
            fault()
        return extend(self, *args, **named)

    return [(pygit2.Repository, "create_blob", counted(pygit2.Repository.create_blob)),
            (pygit2.Repository, "create_commit", counted(pygit2.Repository.create_commit)),
            (pygit2.Repository, "TreeBuilder",
             lambda repo, *args: Builder(tree_builder(repo, *args))),
            (Ledger, "append_all", appending),
            (Ledger, "_extend_checkpoint", extending)]


def main(mode: str, at: str, args: list[str]) -> None:
    def report(writes: int) -> None:
        if mode == "count":
            print(f"writes {writes}", file=sys.stderr)

    for target, name, replacement in faults(mode, at, report):
        setattr(target, name, replacement)
    from engine.cli.main import main as govops

    govops.main(args=args, prog_name="govops")


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2], sys.argv[3:])
