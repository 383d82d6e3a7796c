"""The `govops` command line (`main.py`: the group and the console script): parse options, call
one workflow of `engine.commands`, print, exit. Click lives here and nowhere else.

One module per command group (check, bom, attest, audit, policy, deploy, pr, and the demo);
errors become one line and an exit code in `errors`. Module-level imports are click only: every
start-up, the pre-commit hook's included, imports all of them, so workflows are imported when a
command runs.
"""
