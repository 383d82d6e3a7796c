"""uv's own lock file, `uv.lock` (TOML, `version = 1`).

Every `[[package]]` table is one locked package: name, version, `source` (exactly one of
registry, git, url, path, directory, editable, virtual), `sdist = {url, hash, size}` and
`wheels = [{url, hash, size}, ...]`. The hashes of a package are those of its sdist and all its
wheels, in order of appearance, each once: any of them may be the artifact an installer picks.

Packages whose source is `editable` or `virtual` are skipped: they are the project itself (or a
member of its workspace), built from the repository's own source at install time. They have no
artifact to hash and nothing to pin, so reporting them as unhashed would only be noise; their
dependencies are locked packages of their own and are all reported.

A package may appear twice with different versions when uv forks the resolution by
`resolution-markers` (e.g. one torch for Linux, one for macOS): both are kept, each with its
markers. tomllib gives no line numbers, so a package's line is that of its `[[package]]` header.
Never accepts a hash that is not "algo:hex", nor a source kind uv does not write.
"""

from __future__ import annotations

from typing import Any

from engine.catalog.lockfiles.model import LockedPackage, LockFile, hash_problem, normalize_name
from engine.catalog.lockfiles.tomldoc import key_line, load_toml, package_tables
from engine.errors import InputError

SUPPORTED_VERSION = 1
_SOURCE_KINDS = ("registry", "git", "url", "path", "directory", "editable", "virtual")
_PROJECT_KINDS = ("editable", "virtual")


def _source_kind(path: str, line: int, name: str, package: dict[str, Any]) -> str:
    source = package.get("source")
    if not isinstance(source, dict):
        raise InputError(path, line, f"{name}: source must be a table such as "
                         "{ registry = \"https://pypi.org/simple\" }")
    kinds = [k for k in _SOURCE_KINDS if k in source]
    if len(kinds) != 1 or not isinstance(source[kinds[0]], str):
        raise InputError(path, line, f"{name}: source must name exactly one of "
                         f"{', '.join(_SOURCE_KINDS)}; got {sorted(source)}")
    return kinds[0]


def _artifacts(path: str, line: int, name: str, package: dict[str, Any]) -> list[dict[str, Any]]:
    """The sdist, then every wheel."""
    found: list[dict[str, Any]] = []
    sdist = package.get("sdist")
    if sdist is not None:
        if not isinstance(sdist, dict):
            raise InputError(path, line, f"{name}: sdist must be a table")
        found.append(sdist)
    wheels = package.get("wheels", [])
    if not isinstance(wheels, list) or not all(isinstance(w, dict) for w in wheels):
        raise InputError(path, line, f"{name}: wheels must be an array of tables")
    found.extend(wheels)
    return found


def _hashes(path: str, line: int, name: str, artifacts: list[dict[str, Any]]) -> tuple[str, ...]:
    found: dict[str, None] = {}
    for artifact in artifacts:
        value = artifact.get("hash")
        if value is None:
            continue
        problem = hash_problem(value) if isinstance(value, str) else "not a string"
        if problem:
            raise InputError(path, line, f"{name}: malformed hash {value!r}: {problem}")
        found[value] = None
    return tuple(found)


def _url(kind: str, package: dict[str, Any], artifacts: list[dict[str, Any]]) -> str:
    """Where the artifact is downloaded from: the sdist's or first wheel's url, or for a direct
    URL dependency the source url itself; "" for git, path and directory sources."""
    for artifact in artifacts:
        if isinstance(artifact.get("url"), str):
            return str(artifact["url"])
    return str(package["source"]["url"]) if kind == "url" else ""


PYPI_INDEXES = ("https://pypi.org/simple", "https://pypi.org/simple/")


def _source(kind: str, source: dict[str, Any]) -> str:
    """LockedPackage.source: a git source with its commit (uv writes `<url>?rev=...#<commit>`),
    a registry other than PyPI, a direct URL, a local path; "" for PyPI."""
    value = str(source.get(kind, ""))
    if kind == "git":
        url, _, commit = value.partition("#")
        return f"git+{url.split('?', 1)[0]}@{commit}" if commit else f"git+{url}"
    if kind == "registry":
        return "" if value.rstrip("/") + "/" in PYPI_INDEXES[1:] else f"registry+{value}"
    return f"{kind}+{value}" if value else ""


def _marker(path: str, line: int, name: str, package: dict[str, Any]) -> str:
    markers = package.get("resolution-markers", [])
    if not isinstance(markers, list) or not all(isinstance(m, str) for m in markers):
        raise InputError(path, line, f"{name}: resolution-markers must be a list of strings")
    if len(markers) == 1:
        return str(markers[0])
    return " or ".join(f"({m})" for m in markers)


def parse_uv_lock(path: str, text: str) -> LockFile:
    doc = load_toml(path, text)
    if "version" not in doc:
        raise InputError(path, 1, "not a uv.lock: version is missing")
    if type(doc["version"]) is not int or doc["version"] != SUPPORTED_VERSION:
        raise InputError(path, key_line(text, "version"),
                         f"unsupported uv.lock version {doc['version']!r} "
                         f"(govops reads version {SUPPORTED_VERSION})")
    packages: list[LockedPackage] = []
    for line, name, version, package in package_tables(path, text, doc, "package"):
        kind = _source_kind(path, line, name, package)
        if kind in _PROJECT_KINDS:
            continue
        artifacts = _artifacts(path, line, name, package)
        packages.append(LockedPackage(
            name=normalize_name(name),
            version=version,
            specifier=f"=={version}" if version else "",
            extras=(),
            marker=_marker(path, line, name, package),
            hashes=_hashes(path, line, name, artifacts),
            line=line,
            ecosystem="pypi",
            url=_url(kind, package, artifacts),
            source=_source(kind, package["source"]),
        ))
    return LockFile.of("uv", packages)
