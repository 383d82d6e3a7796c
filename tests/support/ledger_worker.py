"""A ledger writer run as a separate OS process by the ledger concurrency and crash tests.

    python tests/support/ledger_worker.py REPO KEY REVISION WORKER COUNT [--ready FILE] [--go FILE]

Appends COUNT entries (COUNT < 0: until killed) to REPO's ledger, signed with KEY, each with
a payload naming WORKER and the index of the append (in `note.txt` and in the details), so
the test can tell every append apart. With --ready/--go it writes FILE once it has imported
everything and loaded the key, then waits until the --go file exists, so that several workers
start appending at the same moment.

It writes one line per event to stdout, flushed at once, so that a test that SIGKILLs it can
tell where it was:
    ready                                      imports done, key loaded
    begin I                                    about to call Ledger.append for index I
    done I SEQ COMMIT HASH                     Ledger.append for index I returned
    finished RETRIES                           all COUNT appends returned
RETRIES counts the compare-and-swap failures (RefMoved) the ledger retried after; it is
measured by counting, not changing, calls to the record store (-1 when that is not possible).

Imports only the ledger, the signer and the repository code: it starts in about 0.25 s.
The tests import the helpers below (`make_ledger_repo`, `command`, `race_first_records`);
those import what else they need when called, so the worker's start-up stays short.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from engine.attest.signers import KeySigner
from engine.ledger.entry import Draft
from engine.ledger.store import Ledger
from engine.repo import open_repo
from engine.repo.ref_store import RefMoved

if TYPE_CHECKING:
    from engine.attest.trust import TrustPolicy

NOW = "2026-11-20T12:00:00Z"
WORKER = Path(__file__).resolve()
ROOT = WORKER.parents[2]
CONFIG = "apiVersion: govops.dev/v1\nkind: Config\n"


# -- helpers for the tests ----------------------------------------------------------------


@dataclass(frozen=True)
class LedgerSetup:
    repo: Path  # the governed repository's work tree
    revision: str  # its one commit, which every entry is about
    key: Path  # the private key the workers sign with
    trust: TrustPolicy  # trusts exactly that key

    @property
    def git_dir(self) -> Path:
        return self.repo / ".git"


def make_ledger_repo(root: Path) -> LedgerSetup:
    """A governed repo with one commit, a signing key and the trust policy for it."""
    from engine.attest.keys import generate, load_public
    from engine.attest.trust import TrustedKey, TrustPolicy
    from engine.repo.scripted import Step, build_history

    repo = build_history(root / "governed", [Step("init", {"govops.yaml": CONFIG})])
    private, public = generate(root / "ci")
    trust = TrustPolicy((TrustedKey("keys/ci.pub", load_public(public.read_bytes(), "ci.pub")),),
                        ())
    return LedgerSetup(root / "governed", str(repo.head.target), private, trust)


def command(setup: LedgerSetup, worker: int, count: int, ready: Path | None = None,
            go: Path | None = None) -> list[str]:
    """The command line that runs this file as a worker process."""
    args = [sys.executable, str(WORKER), str(setup.repo), str(setup.key), setup.revision,
            str(worker), str(count)]
    if ready is not None:
        args += ["--ready", str(ready)]
    if go is not None:
        args += ["--go", str(go)]
    return args


def environment() -> dict[str, str]:
    """The test's environment, with this checkout first on the import path."""
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(p for p in (str(ROOT), env.get("PYTHONPATH")) if p)
    return env


def race_first_records(path: str, rounds: int, barrier: Any, results: Any) -> None:
    """In a child process (multiprocessing, 'spawn'): for each round, wait for the others at
    `barrier`, then try to append the first record of the fresh ref refs/govops/race/ROUND
    with RecordStore.append(parent=None); put (round, pid, outcome, detail) on `results`,
    outcome being "ok" (detail: the commit) or the exception's class name (detail: message)."""
    import pygit2

    from engine.repo.ref_store import RecordStore

    repo = pygit2.Repository(path)
    for number in range(rounds):
        store = RecordStore(repo, f"refs/govops/race/{number}")
        files = {"who.txt": f"{os.getpid()} {number}\n".encode()}
        barrier.wait(timeout=60)
        try:
            commit = store.append(files, None, f"race {number}", 1_790_000_000)
        except Exception as exc:  # every outcome is reported; the test judges it
            results.put((number, os.getpid(), type(exc).__name__, str(exc)))
        else:
            results.put((number, os.getpid(), "ok", commit))


# -- the worker ---------------------------------------------------------------------------


def payload(worker: int, index: int) -> tuple[dict[str, bytes], dict[str, object]]:
    """The recorded file and details that identify one append."""
    note = f"worker {worker} index {index}\n".encode()
    return {"note.txt": note}, {"verdict": "pass", "worker": worker, "index": index}


def _count_retries(ledger: Ledger) -> list[int]:
    """Count RefMoved from the ledger's record store (diagnostics only; behaviour unchanged)."""
    counter = [0]
    store = getattr(ledger, "_store", None)
    original = getattr(store, "append_chain", None)
    if store is None or original is None:
        counter[0] = -1
        return counter

    def counting(*args: object, **kwargs: object) -> list[str]:
        try:
            return list(original(*args, **kwargs))
        except RefMoved:
            counter[0] += 1
            raise

    store.append_chain = counting
    return counter


def say(line: str) -> None:
    sys.stdout.write(line + "\n")
    sys.stdout.flush()


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("repo")
    parser.add_argument("key")
    parser.add_argument("revision")
    parser.add_argument("worker", type=int)
    parser.add_argument("count", type=int)
    parser.add_argument("--ready")
    parser.add_argument("--go")
    args = parser.parse_args(argv)

    signer = KeySigner(Path(args.key))
    ledger = Ledger(open_repo(args.repo))
    retries = _count_retries(ledger)
    say("ready")
    if args.ready:
        Path(args.ready).write_text(str(os.getpid()), encoding="utf-8")
    if args.go:
        deadline = time.monotonic() + 60
        while not os.path.exists(args.go):
            if time.monotonic() > deadline:
                say("no go file after 60 s")
                return 2
            time.sleep(0.0005)

    index = 0
    while args.count < 0 or index < args.count:
        files, details = payload(args.worker, index)
        draft = Draft(type="decision", revision=args.revision, files=files, details=details)
        say(f"begin {index}")
        stored = ledger.append(draft, signer, f"worker-{args.worker}", NOW)
        say(f"done {index} {stored.entry.seq} {stored.commit} {stored.hash}")
        index += 1
    say(f"finished {retries[0]}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
