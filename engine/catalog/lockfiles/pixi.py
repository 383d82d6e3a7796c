"""pixi's lock file (`pixi.lock`, rattler-lock format versions 5 and 6):

    version: 6
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

Every entry of the top-level `packages` list is one locked package, at its line: conda packages
by the URL's file name (name-version-build, as conda explicit files), PyPI packages by their
`name` and `version`. `pypi: .` (or another local path) is the workspace's own project, not a
dependency, and is left out. Version 5 wrote `kind: conda|pypi` and `url:` instead.
"""

from __future__ import annotations

from typing import Any

from engine.catalog.lockfiles.model import LockedPackage, LockFile, hash_problem, normalize_name
from engine.errors import InputError

SUPPORTED = (5, 6)
_EXTENSIONS = (".conda", ".tar.bz2")


def parse_pixi_lock(path: str, text: str) -> LockFile:
    from engine.catalog.yamldoc import parse_yaml

    parsed = parse_yaml(path, text.encode("utf-8"))
    doc, lines = parsed.value, parsed.lines
    if not isinstance(doc, dict) or doc.get("version") not in SUPPORTED:
        found = doc.get("version") if isinstance(doc, dict) else None
        raise InputError(path, lines.get("version", 1), f"unsupported pixi.lock version "
                         f"{found!r} (govops reads versions 5 and 6)")
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
    kind = next((k for k in ("conda", "pypi") if k in entry), entry.get("kind"))
    url = entry.get(kind) if kind in entry else entry.get("url")
    if kind not in ("conda", "pypi") or not isinstance(url, str) or not url:
        raise InputError(path, line, "a package entry needs `conda: <url>` or `pypi: <url>`")
    hashes = tuple(_hash(path, line, algo, entry[algo]) for algo in ("md5", "sha256")
                   if algo in entry)
    if kind == "conda":
        name, version, build = _conda_file(path, line, url)
        return LockedPackage(name=name, version=version, specifier=f"=={version}", extras=(),
                             marker="", hashes=hashes, line=line, ecosystem="conda", url=url,
                             build=build)
    if "://" not in url:  # `pypi: .`: the workspace's own project, or another local path
        return None
    pypi_name, pypi_version = entry.get("name"), entry.get("version")
    if not isinstance(pypi_name, str) or not isinstance(pypi_version, str):
        raise InputError(path, line, f"the PyPI package {url.rsplit('/', 1)[-1]} needs a name "
                         "and a version (quote a version YAML would read as a number)")
    return LockedPackage(name=normalize_name(pypi_name), version=pypi_version,
                         specifier=f"=={pypi_version}",
                         extras=(), marker="", hashes=hashes, line=line, ecosystem="pypi",
                         url=url)


def _conda_file(path: str, line: int, url: str) -> tuple[str, str, str]:
    """name, version, build from the package file name: what conda installs, whatever other
    fields say."""
    filename = url.split("#", 1)[0].rsplit("/", 1)[-1]
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
