"""conda-lock's unified lock file (`conda-lock.yml`, conda-lock's default output since v1):

    version: 1
    metadata: {platforms: [linux-64], channels: [...], content_hash: {...}, sources: [...]}
    package:
    - name: python
      version: 3.11.9
      manager: conda          # or pip: a PyPI package conda-lock installs with pip
      platform: linux-64
      url: https://conda.anaconda.org/conda-forge/linux-64/python-3.11.9-....conda
      hash: {md5: <32 hex>, sha256: <64 hex>}
      category: main
      optional: false

Every platform's packages are in the one file, each entry with its platform: an entry is one
locked package, at the line of its `- name:`. `manager: pip` entries are PyPI packages (PEP 503
names), the rest conda packages, whose build string comes from the URL's file name. A version
YAML would read as a number (an unquoted 1.10) is refused rather than read as 1.1.
"""

from __future__ import annotations

from typing import Any

from engine.catalog.lockfiles.model import LockedPackage, LockFile, hash_problem, normalize_name
from engine.errors import InputError

_EXTENSIONS = (".conda", ".tar.bz2")


def parse_conda_lock(path: str, text: str) -> LockFile:
    from engine.catalog.yamldoc import parse_yaml

    parsed = parse_yaml(path, text.encode("utf-8"))
    doc, lines = parsed.value, parsed.lines
    if not isinstance(doc, dict) or "package" not in doc or doc.get("version") != 1:
        raise InputError(path, 1, "not a conda-lock unified lock file (version: 1 with a "
                         "package list)")
    entries = doc["package"]
    if not isinstance(entries, list):
        raise InputError(path, lines.get("package"), "package must be a list")
    packages = [_package(path, lines, i, entry) for i, entry in enumerate(entries)]
    return LockFile.of("conda-lock", packages)


def _package(path: str, lines: dict[str, int], i: int, entry: Any) -> LockedPackage:
    line = lines.get(f"package[{i}]", 1)
    if not isinstance(entry, dict):
        raise InputError(path, line, "a package entry must be a mapping")
    name, version, manager = entry.get("name"), entry.get("version"), entry.get("manager")
    if not isinstance(name, str) or not name:
        raise InputError(path, line, "a package entry needs a name")
    if not isinstance(version, str):
        raise InputError(path, lines.get(f"package[{i}].version", line),
                         f"{name}: version {version!r} is not a string (quote it)")
    if manager not in ("conda", "pip"):
        raise InputError(path, lines.get(f"package[{i}].manager", line),
                         f"{name}: manager must be conda or pip, not {manager!r}")
    url = entry.get("url")
    url = url if isinstance(url, str) else ""
    hashes = _hashes(path, lines.get(f"package[{i}].hash", line), name, entry.get("hash"))
    conda = manager == "conda"
    return LockedPackage(
        name=name if conda else normalize_name(name),
        version=version,
        specifier=f"=={version}",
        extras=(),
        marker="",
        hashes=tuple(hashes),
        line=line,
        ecosystem="conda" if conda else "pypi",
        url=url,
        build=_build(url) if conda else "",
    )


def _hashes(path: str, line: int, name: str, found: Any) -> list[str]:
    if found is None:
        return []
    if not isinstance(found, dict):
        raise InputError(path, line, f"{name}: hash must be a mapping of algorithm to digest")
    out = []
    for algo, digest in sorted(found.items()):
        text = f"{algo}:{digest}"
        problem = hash_problem(text)
        if problem:
            raise InputError(path, line, f"{name}: malformed hash {text!r}: {problem}")
        out.append(text)
    return out


def _build(url: str) -> str:
    filename = url.rsplit("/", 1)[-1]
    for extension in _EXTENSIONS:
        if filename.endswith(extension):
            parts = filename[: -len(extension)].rsplit("-", 2)
            return parts[2] if len(parts) == 3 else ""
    return ""
