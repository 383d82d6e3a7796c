"""What `audit search --package` asks for: a package name and which versions, read as pip
reads them (PEP 440), so that an auditor's question means what it means everywhere else.

`torch` any version; `torch@2.6.0` is `torch==2.6.0`, which also matches the local builds
`2.6.0+cu124` (PEP 440 ignores a candidate's local label when the specifier has none);
`torch@2.6.0+cu124` only that build; `torch<2.6`, `torch>=2.5,<2.7`, `torch~=2.6`,
`torch!=2.6.0`, `torch==2.7.*` are specifier sets. Pre-releases in range match (an auditor asks
what ran, not what pip would pick). A version PEP 440 cannot read (some conda builds) matches
only `NAME@` that exact text. Anything else is refused in one line, never an empty answer.
"""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass

from packaging.requirements import InvalidRequirement, Requirement
from packaging.specifiers import InvalidSpecifier, SpecifierSet
from packaging.version import InvalidVersion, Version

from engine.ledger.reference import QueryError

_NAME = re.compile(r"^[A-Za-z0-9](?:[A-Za-z0-9._-]*[A-Za-z0-9])?$")
_VERSION_TEXT = re.compile(r"^[A-Za-z0-9][A-Za-z0-9.+!_-]*$")  # what a lock file's version is
_FORMS = "NAME, NAME@VERSION or NAME with PEP 440 specifiers (torch<2.6, torch==2.7.0)"


@dataclass(frozen=True)
class PackageQuery:
    name: str
    specifier: SpecifierSet | None  # None: any version
    exact: str | None = None  # `NAME@TEXT` where TEXT is no PEP 440 version

    def matches(self, version: str | None) -> bool:
        if self.exact is not None:
            return version == self.exact
        if self.specifier is None:
            return True
        return version is not None and _contains(str(self.specifier), version)


@functools.lru_cache(maxsize=4096)
def _contains(specifier: str, version: str) -> bool:
    """Cached: a broad search tests the same few versions on thousands of deployments."""
    try:
        parsed = Version(version)
    except InvalidVersion:
        return False
    return SpecifierSet(specifier).contains(parsed, prereleases=True)


def parse_package_query(raw: str) -> PackageQuery:
    value = raw.strip()
    if "@" in value:
        name, _, version = (part.strip() for part in value.partition("@"))
        if not _NAME.match(name) or not _VERSION_TEXT.match(version):
            raise QueryError(f"--package {raw!r} is not {_FORMS}")
        try:
            Version(version)
        except InvalidVersion:
            return PackageQuery(name, None, exact=version)
        return PackageQuery(name, SpecifierSet(f"=={version}"))
    try:
        requirement = Requirement(value)
    except (InvalidRequirement, InvalidSpecifier) as exc:
        reason = str(exc).splitlines()[0] if str(exc) else "cannot parse"
        raise QueryError(f"--package {raw!r} is not {_FORMS}: {reason}") from None
    if requirement.url or requirement.extras or requirement.marker:
        raise QueryError(f"--package {raw!r}: extras, markers and URLs say nothing about what "
                         f"was deployed; give {_FORMS}")
    specifier = requirement.specifier
    return PackageQuery(requirement.name, specifier if len(specifier) else None)
