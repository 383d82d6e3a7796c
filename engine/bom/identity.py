"""What identifies an AIBOM: its serial number, from the commit, the advisories and govops.

Kept apart from the builder (and from cyclonedx) because `plan` and `apply` label every object
with the serial number of the revision's AIBOM and need it without building the document: the
serial is a pure function of its three inputs, so both paths give the same value by design.
"""

from __future__ import annotations

import uuid
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import Any

from engine.advisories import advisories_digest, load_advisory_dir
from engine.policy.library import Library

_NAMESPACE = uuid.UUID("6f1d3c52-9a0e-5b6e-8c1d-5d0f7b0a2e11")  # govops AIBOM serial numbers


def govops_version() -> str:
    try:
        return version("govops")
    except PackageNotFoundError:
        return "0+unknown"


def advisory_records(directory: Path | None) -> dict[str, Any]:
    """The shipped advisories plus those of `--advisories DIR`."""
    library = Library.load()
    extra = load_advisory_dir(directory) if directory is not None else {}
    return dict(library.with_advisories(extra).advisories)


def serial_number(commit: str, advisories_digest: str, tool_version: str) -> str:
    seed = f"{commit}\n{advisories_digest}\n{tool_version}"
    return f"urn:uuid:{uuid.uuid5(_NAMESPACE, seed)}"


def aibom_serial(commit: str, advisories: Path | None = None) -> str:
    """The serial number `govops bom` gives the AIBOM of `commit`."""
    records = advisory_records(advisories)
    return serial_number(commit, advisories_digest(records), govops_version())
