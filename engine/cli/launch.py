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
    start_daemon = False
    if daemon_client.forwardable(argv):
        answer = daemon_client.forward(argv)
        if answer is not None:
            stdout, stderr, code = answer
            sys.stdout.write(stdout)
            sys.stderr.write(stderr)
            sys.stdout.flush()
            sys.exit(code)
        start_daemon = True
    from engine.cli.main import run as run_here

    try:
        run_here()
    finally:
        if start_daemon:
            # Once this check has answered: a daemon importing govops beside a cold check
            # took one of a two-core machine's cores from it (0.2 s at 10,000 objects).
            sys.stdout.flush()
            sys.stderr.flush()
            daemon_client.start()
