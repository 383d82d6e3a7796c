"""PEP 751 `pylock.toml` lock files.

tomllib gives no line numbers, so each package's line is found by counting `[[packages]]`
headers, which PEP 751 writers emit one per package in order. The project's own entry (a
directory at `.`) is left out: it is what is locked, not a dependency. Never guesses a hash: a
hash of an algorithm govops does not know, or not in lowercase hex, is an input error.
"""

from __future__ import annotations

from typing import Any

from engine.catalog.lockfiles.model import LockedPackage, LockFile, hash_problem, normalize_name
from engine.catalog.lockfiles.tomldoc import load_toml, package_tables
from engine.errors import InputError


def _sources(package: dict[str, Any]) -> list[dict[str, Any]]:
    """The package's artifacts in the order PEP 751 lists them: sdist, archive, wheels."""
    wheels = package.get("wheels", [])
    found = [package.get("sdist"), package.get("archive"),
             *(wheels if isinstance(wheels, list) else [])]
    return [s for s in found if isinstance(s, dict)]


def _hashes(path: str, line: int, package: dict[str, Any]) -> list[str]:
    found: list[str] = []
    for source in _sources(package):
        hashes = source.get("hashes") or {}
        if not isinstance(hashes, dict):
            raise InputError(path, line, f"{package['name']}: hashes must be a table")
        for algo, value in sorted(hashes.items()):
            text = f"{algo}:{value}"
            problem = hash_problem(text)
            if problem:
                raise InputError(path, line,
                                 f"{package['name']}: malformed hash {text!r}: {problem}")
            if text not in found:
                found.append(text)
    return found


def _url(package: dict[str, Any]) -> str:
    for source in _sources(package):
        if isinstance(source.get("url"), str):
            return str(source["url"])
    return ""


def _source(package: dict[str, Any]) -> str:
    """LockedPackage.source from PEP 751's vcs, archive, directory and index keys."""
    vcs, archive, directory = (package.get(k) for k in ("vcs", "archive", "directory"))
    if isinstance(vcs, dict) and isinstance(vcs.get("url"), str):
        commit = vcs.get("commit-id")
        return f"{vcs.get('type', 'git')}+{vcs['url']}" + (f"@{commit}" if commit else "")
    if isinstance(archive, dict) and isinstance(archive.get("url"), str):
        return f"url+{archive['url']}"
    if isinstance(directory, dict) and isinstance(directory.get("path"), str):
        return f"directory+{directory['path']}"
    index = package.get("index")
    if isinstance(index, str) and index.rstrip("/") != "https://pypi.org/simple":
        return f"registry+{index}"
    return ""


def _is_the_project(package: dict[str, Any]) -> bool:
    """The locking project's own entry (`directory = {path = ".", editable = true}`, as uv
    writes it): the code under review, not a dependency, as uv.lock's editable and virtual
    sources are skipped."""
    directory = package.get("directory")
    return isinstance(directory, dict) and str(directory.get("path", "")).rstrip("/") in (
        ".", "")


def parse_pylock(path: str, text: str) -> LockFile:
    doc = load_toml(path, text)
    if "lock-version" not in doc:
        raise InputError(path, 1, "not a pylock.toml: lock-version is missing")
    packages: list[LockedPackage] = []
    for line, name, version, package in package_tables(path, text, doc, "packages"):
        if _is_the_project(package):
            continue
        packages.append(LockedPackage(
            name=normalize_name(name),
            version=version,
            specifier=f"=={version}" if version else "",
            extras=(),
            marker=str(package.get("marker", "")),
            hashes=tuple(_hashes(path, line, package)),
            line=line,
            ecosystem="pypi",
            url=_url(package),
            source=_source(package),
        ))
    return LockFile.of("pylock", packages)
