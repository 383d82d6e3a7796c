"""conda explicit spec files, as `conda list --explicit [--md5|--sha256]`, `conda env export
--format explicit` and `conda-lock render --kind explicit` write them (CEP 23).

Comment lines (`# platform: linux-64`, `# This file may be used to create an environment...`)
and blank lines are skipped; an `@EXPLICIT` line comes first, then one package URL per line:

    https://conda.anaconda.org/conda-forge/linux-64/python-3.11.9-hb806964_0_cpython.conda#<md5>

The fragment is the checksum conda verifies on download: 32 hex digits are an md5 (`--md5`),
64 a sha256 (`--sha256` writes them bare; conda also reads `#sha256:<64 hex>`). Name, version
and build come from the file name `name-version-build.(conda|tar.bz2)`, split from the right
because names may hold dashes and versions and builds may not. Channel and subdir (linux-64,
osx-arm64, noarch...) stay in the url. A line conda would refuse, or install without knowing
what it is (a local path, a package name instead of a URL), is an input error naming its line.

conda-lock renders the PyPI packages of an environment as comments conda skips and conda-lock
installs with pip (`# pip flash-attn @ https://.../flash_attn-2.3.6.tar.gz#sha256=<hex>`): they
are packages of the environment too (PyPI, version from the wheel or sdist file name), never
dropped.
"""

from __future__ import annotations

import re

from engine.catalog.lockfiles.model import LockedPackage, LockFile, hash_problem, normalize_name
from engine.errors import InputError

EXPLICIT_MARKER = "@EXPLICIT"
_URL = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]*://\S+$")
_EXTENSIONS = (".conda", ".tar.bz2")
_MD5 = re.compile(r"^[0-9a-f]{32}$")
_SHA256 = re.compile(r"^(?:sha256:)?([0-9a-f]{64})$")


def is_explicit(text: str) -> bool:
    """Whether `text` is a conda explicit file: conda's own test is an `@EXPLICIT` line. The
    substring test first: every requirements file is asked, and almost none has one."""
    return EXPLICIT_MARKER in text and any(
        line.strip() == EXPLICIT_MARKER for line in text.splitlines())


def _checksum(path: str, number: int, fragment: str) -> str:
    if _MD5.match(fragment):
        return f"md5:{fragment}"
    sha256 = _SHA256.match(fragment)
    if sha256:
        return f"sha256:{sha256.group(1)}"
    raise InputError(path, number, f"malformed checksum #{fragment} (expected 32 lowercase hex "
                     "digits for md5, 64 for sha256, or sha256:<64 hex>)")


def _package(path: str, number: int, line: str) -> LockedPackage:
    url, has_fragment, fragment = line.partition("#")
    if not _URL.match(url):
        raise InputError(path, number, f"not a package URL: {line!r} (after @EXPLICIT, every "
                         "line is the full URL of a .conda or .tar.bz2 package)")
    filename = url.rsplit("/", 1)[-1]
    extension = next((e for e in _EXTENSIONS if filename.endswith(e)), None)
    if extension is None:
        raise InputError(path, number, f"unknown package file {filename!r} "
                         "(expected a .conda or .tar.bz2 file name)")
    parts = filename[: -len(extension)].rsplit("-", 2)
    if len(parts) != 3 or not all(parts):
        raise InputError(path, number, f"package file {filename!r} is not named "
                         f"name-version-build{extension}")
    name, version, build = parts
    return LockedPackage(
        name=name,
        version=version,
        specifier=f"=={version}",
        extras=(),
        marker="",
        hashes=(_checksum(path, number, fragment),) if has_fragment else (),
        line=number,
        ecosystem="conda",
        url=url,
        build=build,
    )


_PIP_PREFIX = "# pip "
_PIP = re.compile(r"^(?P<name>[A-Za-z0-9][A-Za-z0-9._-]*)\s*@\s*(?P<url>\S+?)"
                  r"(?:#(?P<algo>sha256|md5)=(?P<hex>[0-9a-f]+))?$")


def _pip(path: str, number: int, spec: str) -> LockedPackage:
    """A `# pip NAME @ URL#sha256=HEX` line of a conda-lock render."""
    found = _PIP.match(spec.strip())
    if found is None or not _URL.match(found.group("url")):
        raise InputError(path, number, f"malformed conda-lock pip line {spec!r} (expected "
                         "# pip NAME @ URL#sha256=HEX)")
    name = normalize_name(found.group("name"))
    url = found.group("url")
    hashes: tuple[str, ...] = ()
    if found.group("algo"):
        text = f"{found.group('algo')}:{found.group('hex')}"
        problem = hash_problem(text)
        if problem:
            raise InputError(path, number, f"{name}: malformed hash {text!r}: {problem}")
        hashes = (text,)
    version = _artifact_version(url.rsplit("/", 1)[-1], name)
    return LockedPackage(name=name, version=version,
                         specifier=f"=={version}" if version else "", extras=(), marker="",
                         hashes=hashes, line=number, ecosystem="pypi", url=url)


def _artifact_version(filename: str, name: str) -> str | None:
    """The version in a wheel (`name-version-tags.whl`) or sdist (`name-version.tar.gz`)
    file name, when the name part is this package's; None when it cannot be told."""
    if filename.endswith(".whl"):
        parts = filename[:-4].split("-")
        stem, version = (parts[0], parts[1]) if len(parts) >= 5 else ("", "")
    else:
        base = next((filename[:-len(e)] for e in (".tar.gz", ".zip", ".tar.bz2")
                     if filename.endswith(e)), "")
        stem, _, version = base.rpartition("-")
    return version if stem and normalize_name(stem) == name and version else None


def parse_conda_explicit(path: str, text: str) -> LockFile:
    if not is_explicit(text):
        raise InputError(path, 1, f"not a conda explicit file: no {EXPLICIT_MARKER} line "
                         "(write it with conda list --explicit --md5)")
    explicit = False
    packages: list[LockedPackage] = []
    for number, raw in enumerate(text.splitlines(), start=1):
        line = raw.strip()
        if explicit and line.startswith(_PIP_PREFIX):
            packages.append(_pip(path, number, line[len(_PIP_PREFIX):]))
            continue
        if not line or line.startswith("#"):
            continue
        if line == EXPLICIT_MARKER:
            explicit = True
            continue
        if not explicit:
            raise InputError(path, number, f"{line!r} comes before the {EXPLICIT_MARKER} line; "
                             f"a conda explicit file lists its packages after {EXPLICIT_MARKER}")
        packages.append(_package(path, number, line))
    return LockFile.of("conda", packages)
