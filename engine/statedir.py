"""Where govops keeps per-user state that outlives a command but belongs to no repository:
the resident OPA servers (engine.policy.backends.resident) and the resident govops process
(engine.cli.daemon). Standard library only: the `govops` console script reads it before it
imports anything else.

GOVOPS_STATE_DIR, else $XDG_STATE_HOME/govops, else ~/.local/state/govops. Every folder is the
user's own and private (0700): it holds tokens and sockets that answer for the user.
"""

from __future__ import annotations

import os
from pathlib import Path

from engine.errors import GovopsError

STATE_ENV = "GOVOPS_STATE_DIR"


def state_base() -> Path:
    configured = os.environ.get(STATE_ENV)
    if configured:
        return Path(configured)
    return Path(os.environ.get("XDG_STATE_HOME") or Path.home() / ".local" / "state") / "govops"


def private_folder(folder: Path) -> Path:
    """`folder`, made if missing; refused when someone else owns it (they could plant a
    record or a socket that answers for us), tightened to 0700 when others can read it."""
    folder.mkdir(parents=True, exist_ok=True)
    st = folder.stat()
    if st.st_uid != os.getuid():
        raise GovopsError(f"{folder}: owned by uid {st.st_uid}, not by you; govops keeps its "
                          f"servers' tokens and sockets only in a folder of your own "
                          f"({STATE_ENV})")
    if st.st_mode & 0o077:
        os.chmod(folder, 0o700)
    return folder
