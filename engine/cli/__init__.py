"""The `govops` command line (`main.py`: the group): parse options, call one workflow of
`engine.commands`, print, exit. Click lives here and nowhere else.

One module per command group (check, bom, attest, audit, policy, deploy, pr, engine, and the
demo); errors become one line and an exit code in `errors`. Module-level imports are click
only: every start-up that runs a command here imports all of them, so workflows are imported
when a command runs. The console script itself is `launch.py`, which first offers a check to
the govops daemon (`daemon_client.py`, `daemon.py`) before importing any of this.
"""
