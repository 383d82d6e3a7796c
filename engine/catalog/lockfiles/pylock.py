"""PEP 751 `pylock.toml` lock files.

tomllib gives no line numbers, so each package's line is found by counting `[[packages]]`
headers, which PEP 751 writers emit one per package in order.
"""

from __future__ import annotations

import re
import tomllib
from typing import Any

from engine.catalog.lockfiles.model import LockedPackage, LockFile, normalize_name
from engine.errors import InputError

_HEADER = re.compile(r"^\s*\[\[\s*packages\s*\]\]\s*(#.*)?$")
_TOML_LINE = re.compile(r"at line (\d+)")


def _hashes(package: dict[str, Any]) -> list[str]:
    found: list[str] = []
    sources: list[Any] = [package.get("sdist"), package.get("archive"), *package.get("wheels", [])]
    for source in sources:
        if isinstance(source, dict):
            for algo, value in sorted((source.get("hashes") or {}).items()):
                found.append(f"{algo}:{value}")
    return found


def parse_pylock(path: str, text: str) -> LockFile:
    try:
        doc = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        match = _TOML_LINE.search(str(exc))
        raise InputError(path, int(match.group(1)) if match else None,
                         f"malformed TOML: {str(exc).split(' (at')[0]}") from None
    if "lock-version" not in doc:
        raise InputError(path, 1, "not a pylock.toml: lock-version is missing")
    raw_packages = doc.get("packages", [])
    if not isinstance(raw_packages, list):
        raise InputError(path, None, "packages must be an array of tables")
    header_lines = [n for n, line in enumerate(text.splitlines(), start=1) if _HEADER.match(line)]
    packages: list[LockedPackage] = []
    for i, package in enumerate(raw_packages):
        line = header_lines[i] if i < len(header_lines) else 1
        if not isinstance(package, dict) or not isinstance(package.get("name"), str):
            raise InputError(path, line, "each [[packages]] entry needs a name")
        version = package.get("version")
        if version is not None and not isinstance(version, str):
            raise InputError(path, line, f"{package['name']}: version must be a string")
        packages.append(LockedPackage(
            name=normalize_name(package["name"]),
            version=version,
            specifier=f"=={version}" if version else "",
            extras=(),
            marker=str(package.get("marker", "")),
            hashes=tuple(_hashes(package)),
            line=line,
        ))
    return LockFile.of("pylock", packages)
