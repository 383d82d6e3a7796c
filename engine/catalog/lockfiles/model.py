"""The parsed form of a lock file, shared by every format."""

from __future__ import annotations

import functools
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any


def normalize_name(name: str) -> str:
    """PEP 503 normalisation, so `Torch` and `torch` are the same package everywhere."""
    return re.sub(r"[-_.]+", "-", name).lower()


@dataclass(frozen=True)
class LockedPackage:
    name: str
    version: str | None
    specifier: str
    extras: tuple[str, ...]
    marker: str
    hashes: tuple[str, ...]
    line: int

    def as_json(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "version": self.version,
            "specifier": self.specifier,
            "extras": list(self.extras),
            "marker": self.marker,
            "hashes": list(self.hashes),
            "line": self.line,
        }

    @classmethod
    def from_json(cls, raw: Mapping[str, Any]) -> LockedPackage:
        return cls(
            name=raw["name"],
            version=raw["version"],
            specifier=raw["specifier"],
            extras=tuple(raw["extras"]),
            marker=raw["marker"],
            hashes=tuple(raw["hashes"]),
            line=raw["line"],
        )


@dataclass(frozen=True)
class LockFile:
    """A parsed lock file. Kept as the JSON records the cache stores, because the policy input
    needs exactly those and building 100,000 dataclasses per check costs ~0.4 s; `packages`
    builds them on first use (locating a result, the AIBOM)."""

    format: str
    records: tuple[Mapping[str, Any], ...]

    @classmethod
    def of(cls, format: str, packages: Iterable[LockedPackage]) -> LockFile:
        return cls(format, tuple(p.as_json() for p in packages))

    @functools.cached_property
    def packages(self) -> tuple[LockedPackage, ...]:
        return tuple(LockedPackage.from_json(r) for r in self.records)

    def as_json(self) -> dict[str, Any]:
        return {"format": self.format, "packages": list(self.records)}

    @classmethod
    def from_json(cls, raw: dict[str, Any]) -> LockFile:
        return cls(raw["format"], tuple(raw["packages"]))
