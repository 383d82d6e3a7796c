"""The `govops` console script. A `govops check` (the pre-commit hook) goes to the resident
govops process of this installation when one is running, which answers without importing
anything; when none is, the check runs here as usual and starts one for the next commit.
Every other command, and every check when GOVOPS_DAEMON=0, runs here. Nothing but the
standard library is imported before that decision.
"""

from __future__ import annotations

import sys


def run() -> None:
    from engine.cli import daemon_client

    argv = sys.argv[1:]
    if daemon_client.forwardable(argv):
        answer = daemon_client.forward(argv)
        if answer is not None:
            stdout, stderr, code = answer
            sys.stdout.write(stdout)
            sys.stderr.write(stderr)
            sys.stdout.flush()
            sys.exit(code)
        daemon_client.start()
    from engine.cli.main import run as run_here

    run_here()
