"""The parsed form of a lock file, shared by every format.

Must never read other files or git: a parser sees one file's text, so what it cannot know (the
files a requirements file includes with `-r`) it records for the loader to resolve.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

# Hash algorithms a lock file may name, with the length of their hex digest.
HASH_HEX_LENGTHS = {"md5": 32, "sha256": 64, "sha384": 96, "sha512": 128}
_HEX = re.compile(r"^[0-9a-f]+$")


_SEPARATORS = re.compile(r"[-_.]+")


@functools.lru_cache(maxsize=1 << 16)
def normalize_name(name: str) -> str:
    """PEP 503 normalisation, so `Torch` and `torch` are the same package everywhere. Cached:
    a check normalises the same few thousand names on every lock file."""
    return _SEPARATORS.sub("-", name).lower()


def without_credentials(url: str) -> str:
    """`url` without a user or token in its authority (`git+https://user:token@host/...`): a
    package's source goes into the AIBOM and its purl, which are published. Over ssh the user
    (`git+ssh://git@host/...`) is part of the address, not a secret, and stays."""
    scheme, sep, rest = url.partition("://")
    if not sep or not scheme.endswith(("http", "https")):
        return url
    authority, slash, path = rest.partition("/")
    return f"{scheme}://{authority.rpartition('@')[2]}{slash}{path}"


def hash_problem(value: str, allowed: Iterable[str] = HASH_HEX_LENGTHS) -> str | None:
    """Why `value` is not a well-formed "algo:hex" hash of an allowed algorithm, or None.
    Hex must be lowercase: that is how every lock writer emits it, how pip and conda compare
    it, and one spelling per digest keeps hashes comparable across formats."""
    algo, sep, digest = value.partition(":")
    if not sep:
        return "expected <algorithm>:<hex>"
    if algo not in allowed:
        return f"unsupported algorithm {algo!r} (expected one of {', '.join(sorted(allowed))})"
    if not _HEX.match(digest) or len(digest) != HASH_HEX_LENGTHS[algo]:
        return f"{algo} needs {HASH_HEX_LENGTHS[algo]} lowercase hex digits"
    return None


@dataclass(frozen=True)
class LockedPackage:
    """One locked package.

    `ecosystem` is "pypi" or "conda"; `url` is the download URL when the lock names one, else "";
    `build` is the conda build string, else ""; `path` is "" for a package written in the
    environment's own lock file, else the repo path of the included (`-r`) file it is written in,
    where `line` is its line. Hashes are "algo:hex" with algo one of md5, sha256, sha384, sha512.
    `source` says where a package comes from when it is not PyPI's index (AIBOM identity):
    `git+<url>@<commit>`, `registry+<index url>`, `url+<url>`, `directory+<path>` or
    `path+<path>`; "" for PyPI itself and for formats that do not say.
    """

    name: str
    version: str | None
    specifier: str
    extras: tuple[str, ...]
    marker: str
    hashes: tuple[str, ...]
    line: int
    ecosystem: str = "pypi"
    url: str = ""
    build: str = ""
    path: str = ""
    source: str = ""

    def as_json(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "version": self.version,
            "specifier": self.specifier,
            "extras": list(self.extras),
            "marker": self.marker,
            "hashes": list(self.hashes),
            "line": self.line,
            "ecosystem": self.ecosystem,
            "url": self.url,
            "build": self.build,
            "path": self.path,
            **({"source": self.source} if self.source else {}),
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
            ecosystem=raw["ecosystem"],
            url=raw["url"],
            build=raw["build"],
            path=raw["path"],
            source=raw.get("source", ""),
        )


@dataclass(frozen=True)
class LockFile:
    """A parsed lock file. Kept as the JSON records the cache stores, because the policy input
    needs exactly those and building 100,000 dataclasses per check costs ~0.4 s; `packages`
    builds them on first use (locating a result, the AIBOM).

    `format` is "requirements", "pylock", "uv", "conda", "conda-lock" or "pixi". `includes`
    lists the `-r FILE` lines of a requirements file as (line, target as written); it is empty
    for every other format.
    Resolving them needs the repository, so the catalog loader does it and hands out a merged
    LockFile whose records from included files carry the included file's `path`.
    """

    format: str
    records: tuple[Mapping[str, Any], ...]
    includes: tuple[tuple[int, str], ...] = ()

    @classmethod
    def of(cls, format: str, packages: Iterable[LockedPackage],
           includes: Iterable[tuple[int, str]] = ()) -> LockFile:
        return cls(format, tuple(p.as_json() for p in packages), tuple(includes))

    @functools.cached_property
    def packages(self) -> tuple[LockedPackage, ...]:
        return tuple(LockedPackage.from_json(r) for r in self.records)

    def as_json(self) -> dict[str, Any]:
        return {"format": self.format, "packages": list(self.records),
                "includes": [list(i) for i in self.includes]}

    @classmethod
    def from_json(cls, raw: Mapping[str, Any]) -> LockFile:
        return cls(raw["format"], tuple(raw["packages"]),
                   tuple((int(line), str(target)) for line, target in raw["includes"]))
