"""What a desired state changes against an earlier one: create, update, delete per object.

Compares manifests by file name (which encodes namespace, kind and name) and by content, so
`plan` (against a previous manifests directory) and `apply` (against the manifests of the last
applied entry) share it. Unchanged objects are not changes.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal

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
