"""A plan: the manifests a StackSpec's program renders (`render.build_plan`), their digest, and
what they change against a baseline (the manifests of the stack's last deployment, a directory,
or nothing). Plain data, so reports render it without importing Pulumi.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from engine.deploy.changes import Change
from engine.deploy.manifests import Manifest, digest_of
from engine.deploy.spec import StackSpec


@dataclass(frozen=True)
class Baseline:
    """What a plan's changes are against: the ledger's last deployment, a directory, nothing."""

    files: Mapping[str, bytes] | None
    source: str  # ledger | directory | none
    description: str
    entry: int | None = None
    hash: str | None = None
    revision: str | None = None

    def as_json(self) -> dict[str, Any]:
        return {"source": self.source, "description": self.description, "entry": self.entry,
                "hash": self.hash, "revision": self.revision}


NOTHING_APPLIED = Baseline(None, "none", "nothing applied yet")


@dataclass(frozen=True)
class Plan:
    spec: StackSpec
    manifests: tuple[Manifest, ...]
    changes: tuple[Change, ...]
    against: Baseline = NOTHING_APPLIED

    @property
    def digest(self) -> str:
        return digest_of(self.manifests)

    @property
    def files(self) -> dict[str, bytes]:
        return {m.file: m.text for m in self.manifests}

    def as_json(self) -> dict[str, Any]:
        return {"stack": self.spec.name, "revision": self.spec.revision, "digest": self.digest,
                "manifests": [m.as_json() for m in self.manifests],
                "changes": [c.as_json() for c in self.changes],
                "against": self.against.as_json()}
