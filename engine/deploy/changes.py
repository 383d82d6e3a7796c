"""What a desired state changes against an earlier one: create, update, delete per object.

Compares manifests by file name (which encodes namespace, kind and name) and by content, so
`plan` (against a previous manifests directory) and `apply` (against the manifests of the last
applied entry) share it. Unchanged objects are not changes.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal

import yaml

Action = Literal["create", "update", "delete"]


@dataclass(frozen=True)
class Change:
    action: Action
    file: str

    @property
    def namespace(self) -> str | None:
        namespace = self.file.split(".", 2)[0]
        return None if namespace.startswith("_") else namespace

    @property
    def kind(self) -> str:
        return self.file.split(".", 2)[1]

    @property
    def name(self) -> str:
        return self.file.split(".", 2)[2].removesuffix(".yaml")

    def as_json(self) -> dict[str, Any]:
        return {"action": self.action, "file": self.file, "kind": self.kind,
                "namespace": self.namespace, "name": self.name}


def compare(before: Mapping[str, bytes] | None, after: Mapping[str, bytes]) -> list[Change]:
    """Changes from `before` (None: nothing applied yet) to `after`, by file name."""
    before = before or {}
    changes = [Change("create", f) for f in after if f not in before]
    changes += [Change("update", f) for f in after if f in before and before[f] != after[f]]
    changes += [Change("delete", f) for f in before if f not in after]
    return sorted(changes, key=lambda c: (c.file, c.action))


# Every object's labels carry the revision, decision id and AIBOM serial number, so every object
# of a re-planned stack differs there; `substantive` counts those objects apart.
PROVENANCE = ("govops.dev/revision", "govops.dev/decision-id", "govops.dev/aibom-serial")


@dataclass(frozen=True)
class StackChanges:
    """What a change does to one Stack: the plan at the base against the plan at the head."""

    stack: str
    changes: tuple[Change, ...]  # what reaches the cluster beyond provenance labels
    provenance_only: int  # objects whose only difference is the govops provenance metadata
    error: str | None = None  # the plan could not be made at one side (said, not hidden)


def _without_provenance(text: bytes) -> Any:
    doc = yaml.safe_load(text)
    for section in ("labels", "annotations"):
        values = (doc.get("metadata") or {}).get(section) or {}
        for key in PROVENANCE:
            values.pop(key, None)
    return doc


def substantive(before: Mapping[str, bytes], after: Mapping[str, bytes],
                ) -> tuple[list[Change], int]:
    """(changes beyond provenance metadata, number of objects changed only there)."""
    changes, quiet = [], 0
    for change in compare(before, after):
        if change.action == "update" and (_without_provenance(before[change.file])
                                           == _without_provenance(after[change.file])):
            quiet += 1
        else:
            changes.append(change)
    return changes, quiet
