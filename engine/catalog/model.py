"""The catalog of one revision: validated objects, the config and the parsed lock files."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from engine.catalog.advisory_sources import Source
from engine.catalog.lockfiles import LockFile


@dataclass(frozen=True)
class GovObject:
    """One format-v1 object with where each of its fields is written."""

    kind: str
    name: str
    path: str
    doc: Mapping[str, Any]
    lines: Mapping[str, int]
    blob: str | None = None  # the git blob id `doc` was parsed from (None: built in memory)

    def line_of(self, field_path: str | None) -> int:
        """The line of a field, or of its nearest parent that exists (a missing field's home)."""
        path = field_path or ""
        while path:
            if path in self.lines:
                return self.lines[path]
            cut = max(path.rfind("."), path.rfind("["))
            path = path[:cut] if cut > 0 else ""
        return self.lines.get("metadata.name", self.lines.get("kind", 1))


@dataclass(frozen=True)
class Config:
    """`govops.yaml`; an absent file means the defaults: no local policies, nobody trusted."""

    path: str | None
    policy_paths: tuple[str, ...] = ()
    policy_data: Mapping[str, Any] = field(default_factory=dict)
    gpus: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)  # policies.gpus
    precision_bits: Mapping[str, int] = field(default_factory=dict)  # policies.precisionBits
    trust_keys: tuple[str, ...] = ()
    trust_identities: tuple[Mapping[str, str], ...] = ()
    # advisories.sources (None: not configured; the synced databases present are used) and
    # advisories.maxAgeDays (a database older than that is a warning)
    advisory_sources: tuple[Source, ...] | None = None
    advisory_max_age_days: int | None = None
    # manifests: policies run against the manifests `plan` renders (conftest namespaces,
    # Gatekeeper templates and constraints), from these repo paths and shipped packs
    manifest_paths: tuple[str, ...] = ()
    manifest_namespaces: tuple[str, ...] = ("main",)
    manifest_packs: tuple[str, ...] = ()
    manifest_files: tuple[str, ...] = ()  # plain Kubernetes YAML of the repo, judged too
    lines: Mapping[str, int] = field(default_factory=dict)

    @property
    def manifest_policies(self) -> bool:
        """Whether the repository asks for manifest policies at all."""
        return bool(self.manifest_paths or self.manifest_packs)


@dataclass(frozen=True)
class EnvironmentLock:
    """The lock file an Environment names. `lock` holds every package of the environment,
    those of files it includes with `-r` too; `included` is (repo path, blob id) of each
    included file, in the order pip reads them."""

    environment: str
    path: str
    oid: str
    lock: LockFile
    included: tuple[tuple[str, str], ...] = ()

    @property
    def oids(self) -> tuple[str, ...]:
        """The blob ids the package list is a function of (with the parser version)."""
        return (self.oid, *(oid for _, oid in self.included))


@dataclass(frozen=True)
class Catalog:
    config: Config
    objects: Mapping[str, Mapping[str, GovObject]]
    locks: Mapping[str, EnvironmentLock]

    def get(self, kind: str, name: str) -> GovObject | None:
        return self.objects.get(kind, {}).get(name)

    def count(self) -> int:
        return sum(len(v) for v in self.objects.values())
