"""pixi's lock file (`pixi.lock`, rattler-lock format versions 5, 6 and 7):

    version: 7
    platforms: [{name: linux-64, virtual-packages: [...]}]       # v7 only
    environments:
      default:
        channels: [{url: https://conda.anaconda.org/conda-forge/}]
        indexes: [https://pypi.org/simple]
        packages:
          linux-64:
          - conda: https://conda.anaconda.org/conda-forge/linux-64/python-3.12.8-h...conda
          - pypi: https://files.pythonhosted.org/packages/.../numpy-2.2.1-...whl
    packages:
    - conda: https://conda.anaconda.org/conda-forge/linux-64/python-3.12.8-h...conda
      sha256: <64 hex>
      md5: <32 hex>
    - pypi: https://files.pythonhosted.org/packages/.../numpy-2.2.1-...whl
      name: numpy
      version: 2.2.1
      sha256: <64 hex>
    - conda_source: mylib[a1b2c3d4] @ ./mylib                      # v7: built from source
      version: 0.1.0

Every entry of the top-level `packages` list is one locked package, at its line: conda packages
by the URL's file name (name-version-build, as conda explicit files), PyPI packages by their
`name` and `version`. Version 5 wrote `kind: conda|pypi` and `url:` instead.

What pixi builds from the workspace's own folders (`pypi: .`, a v6 `conda:` entry or a v7
`conda_source:` at a folder inside the workspace) is the project, not a dependency, and is left
out, as uv.lock's editable entries are. Built from anywhere else (git, a folder outside the
workspace) or installed from a vendored archive, it is a package whose `source` says so.

A package's file name says what is installed, so the fields must agree with it: a conda
entry's `name`, `version` or `build` (rattler writes one only when the file name cannot say
it), a wheel's or sdist's `name` and `version`. A lock whose fields named another package than
its file would have advisories matched against one that is not installed. Whether a location
is an archive is read from its path, never from a query or fragment.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import unquote, urlsplit

from packaging.utils import (
    InvalidSdistFilename,
    InvalidWheelFilename,
    canonicalize_name,
    parse_sdist_filename,
    parse_wheel_filename,
)
from packaging.version import InvalidVersion, Version

from engine.catalog.lockfiles.model import (
    LockedPackage,
    LockFile,
    hash_problem,
    normalize_name,
    without_credentials,
)
from engine.errors import InputError

SUPPORTED = (5, 6, 7)
_EXTENSIONS = (".conda", ".tar.bz2")
_KINDS = ("conda", "conda_source", "pypi")
_V5_KINDS = ("conda", "pypi")
_ARCHIVES = (".conda", ".tar.bz2", ".whl", ".tar.gz", ".zip")
# Where PyPI serves files: a wheel from anywhere else came from another index or a direct URL.
_PYPI_FILES = "https://files.pythonhosted.org/"


def parse_pixi_lock(path: str, text: str) -> LockFile:
    from engine.catalog.yamldoc import parse_yaml

    parsed = parse_yaml(path, text.encode("utf-8"))
    doc, lines = parsed.value, parsed.lines
    if not isinstance(doc, dict) or doc.get("version") not in SUPPORTED:
        found = doc.get("version") if isinstance(doc, dict) else None
        raise InputError(path, lines.get("version", 1), f"unsupported pixi.lock version "
                         f"{found!r} (govops reads versions 5, 6 and 7)")
    entries = doc.get("packages") or []
    if not isinstance(entries, list):
        raise InputError(path, lines.get("packages"), "packages must be a list")
    packages = []
    for i, entry in enumerate(entries):
        package = _package(path, lines.get(f"packages[{i}]", 1), entry)
        if package is not None:
            packages.append(package)
    return LockFile.of("pixi", packages)


def _package(path: str, line: int, entry: Any) -> LockedPackage | None:
    if not isinstance(entry, dict):
        raise InputError(path, line, "a package entry must be a mapping")
    kind = next((k for k in _KINDS if k in entry), None)
    location = entry.get(kind) if kind else entry.get("url")
    if kind is None and entry.get("kind") in _V5_KINDS:  # v5: `kind: conda|pypi` and `url:`
        kind = entry["kind"]
    if kind is None or not isinstance(location, str) or not location:
        raise InputError(path, line, "a package entry needs `conda: <url>`, `pypi: <url>` or "
                         "`conda_source: <name> @ <location>`")
    hashes = tuple(_hash(path, line, algo, entry[algo]) for algo in ("md5", "sha256")
                   if algo in entry)
    if kind == "conda_source":
        name, at, where = location.partition(" @ ")
        if not at or not name.strip() or not where.strip():
            raise InputError(path, line, f"conda_source {location!r} is not "
                             "`<name>[<hash>] @ <location>`")
        return _source_package(path, line, entry, name.split("[", 1)[0].strip(), where.strip())
    if kind == "conda":
        if not _file_path(location).endswith(_EXTENSIONS):  # v6: built from source
            return _source_package(path, line, entry, entry.get("name"), location)
        name, version, build = _conda_file(path, line, location)
        for field, derived in (("name", name), ("version", version), ("build", build)):
            if field in entry and str(entry[field]) != derived:
                raise InputError(path, line, f"conda package {field} {entry[field]!r} "
                                 f"disagrees with its file name {_filename(location)!r}")
        return LockedPackage(name=name, version=version, specifier=f"=={version}", extras=(),
                             marker="", hashes=hashes, line=line, ecosystem="conda",
                             url=location, build=build)
    if _workspace(location):  # `pypi: .`: the workspace's own project or one of its members
        return None
    pypi_name, pypi_version = entry.get("name"), entry.get("version")
    if not isinstance(pypi_name, str) or not isinstance(pypi_version, str):
        raise InputError(path, line, f"the PyPI package {_filename(location)} needs a name "
                         "and a version (quote a version YAML would read as a number)")
    _check_distribution(path, line, location, pypi_name, pypi_version)
    git = location.startswith("git+")
    return LockedPackage(name=normalize_name(pypi_name), version=pypi_version,
                         specifier=f"=={pypi_version}", extras=(), marker="", hashes=hashes,
                         line=line, ecosystem="pypi", url="" if git else location,
                         source=_source(location))


def _source_package(path: str, line: int, entry: dict[str, Any], name: Any,
                    location: str) -> LockedPackage | None:
    """A conda package pixi builds from source: the workspace's own when the source is one of
    its folders (left out), else a package from that source (git, a vendored folder), with no
    archive hash."""
    if _workspace(location):
        return None
    version = entry.get("version")
    if not isinstance(name, str) or not name or not isinstance(version, str) or not version:
        raise InputError(path, line, f"the conda package built from {location} needs a name "
                         "and a version (run `pixi lock` to evaluate its metadata)")
    return LockedPackage(name=name, version=version, specifier=f"=={version}", extras=(),
                         marker="", hashes=(), line=line, ecosystem="conda",
                         build=str(entry.get("build") or ""), source=_source(location))


def _workspace(location: str) -> bool:
    """A folder of the workspace itself (`.`, `./libs/x`): what pixi builds from the project's
    own source. A URL, a path outside the workspace (absolute, `../`) or an archive file
    (a vendored wheel) is a dependency like any other."""
    if "://" in location or location.startswith(("/", "~")) or ":" in location.split("/")[0]:
        return False
    parts = location.replace("\\", "/").split("/")
    return ".." not in parts and not _file_path(location).endswith(_ARCHIVES)


def _check_distribution(path: str, line: int, location: str, name: str, version: str) -> None:
    """A wheel's or sdist's file name says which project and version it is: installers go by
    the file, so a `name` or `version` field that says otherwise would have advisories matched
    against a package that is not installed."""
    filename = unquote(_filename(location))
    try:
        if filename.endswith(".whl"):
            found_name, found_version, _, _ = parse_wheel_filename(filename)
        elif filename.endswith((".tar.gz", ".zip")):
            found_name, found_version = parse_sdist_filename(filename)
        else:
            return  # git, a folder: no file name to hold it to
    except (InvalidWheelFilename, InvalidSdistFilename, InvalidVersion):
        raise InputError(path, line, f"PyPI file name {filename!r} is not a wheel or sdist "
                         "name") from None
    try:
        same_version = Version(version) == found_version
    except InvalidVersion:
        same_version = False
    if canonicalize_name(name) != found_name or not same_version:
        raise InputError(path, line, f"PyPI package {name} {version} disagrees with its file "
                         f"name {filename!r}")


def _source(location: str) -> str:
    """LockedPackage.source, as uv.lock's are written: a git source with its commit (rattler
    writes `git+<url>?<ref>#<commit>`), a local path, a direct URL other than PyPI's own files,
    "" for PyPI; never with credentials."""
    if location.startswith("git+"):
        url, _, commit = without_credentials(location).partition("#")
        return f"{url.split('?', 1)[0]}@{commit}" if commit else url
    if "://" not in location:
        return f"path+{_file_path(location)}"
    return "" if location.startswith(_PYPI_FILES) else f"url+{without_credentials(location)}"


def _file_path(url: str) -> str:
    """The path of a URL, without its query and fragment: what the file is called."""
    return urlsplit(url).path if "://" in url else url.split("#", 1)[0]


def _filename(url: str) -> str:
    return _file_path(url).rsplit("/", 1)[-1]


def _conda_file(path: str, line: int, url: str) -> tuple[str, str, str]:
    """name, version, build from the package file name: what conda installs."""
    filename = unquote(_filename(url))
    extension = next((e for e in _EXTENSIONS if filename.endswith(e)), None)
    parts = filename[: -len(extension)].rsplit("-", 2) if extension else []
    if len(parts) != 3 or not all(parts):
        raise InputError(path, line, f"conda package file {filename!r} is not named "
                         "name-version-build.conda or .tar.bz2")
    name, version, build = parts
    return name, version, build


def _hash(path: str, line: int, algo: str, digest: Any) -> str:
    text = f"{algo}:{digest}"
    problem = hash_problem(text)
    if problem:
        raise InputError(path, line, f"malformed hash {text!r}: {problem}")
    return text
