"""What govops ships beside its code: the default policy library (`policies/`) and the Pulumi
programs (`stacks/`), both kept at the top of a checkout (DESIGN.md's layout) and carried in the
package as `engine/_library` and `engine/_stacks` (symlinks in a checkout, package data in an
installed govops, pre-commit's own environment included). An environment variable may point
either elsewhere, for a team's own library or programs.
"""

from __future__ import annotations

import os
from pathlib import Path

_PACKAGE = Path(__file__).parent


def shipped(folder: str, override: str) -> Path:
    """The shipped `folder` of the package, or the directory the variable `override` names."""
    chosen = os.environ.get(override)
    if chosen:
        return Path(chosen)
    return (_PACKAGE / folder).resolve()


def library_dir() -> Path:
    """The default policy library (`policies/`), or where GOVOPS_POLICY_LIBRARY points."""
    return shipped("_library", "GOVOPS_POLICY_LIBRARY")


def programs_dir() -> Path:
    """The Pulumi programs (`stacks/`), or where GOVOPS_STACK_PROGRAMS points."""
    return shipped("_stacks", "GOVOPS_STACK_PROGRAMS")
