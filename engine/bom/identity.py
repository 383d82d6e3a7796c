"""What identifies an AIBOM: its serial number, from the commit, the advisories and govops.

Kept apart from the builder (and from cyclonedx) because `plan` and `apply` label every object
with the serial number of the revision's AIBOM and need it without building the document: the
serial is a pure function of its three inputs, so both paths give the same value by design.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from importlib.metadata import PackageNotFoundError, version
from typing import Any

from engine.advisories.records import advisories_digest

_NAMESPACE = uuid.UUID("6f1d3c52-9a0e-5b6e-8c1d-5d0f7b0a2e11")  # govops AIBOM serial numbers


def govops_version() -> str:
    try:
        return version("govops")
    except PackageNotFoundError:
        return "0+unknown"


def serial_number(commit: str, advisories_digest: str, tool_version: str) -> str:
    seed = f"{commit}\n{advisories_digest}\n{tool_version}"
    return f"urn:uuid:{uuid.uuid5(_NAMESPACE, seed)}"


def aibom_serial(commit: str, advisories: Mapping[str, Any]) -> str:
    """The serial number `govops bom` gives the AIBOM of `commit` with these advisories."""
    return serial_number(commit, advisories_digest(advisories), govops_version())
