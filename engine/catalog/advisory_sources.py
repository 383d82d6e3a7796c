"""Where advisory databases come from: OSV's per-ecosystem export and the PyPA advisory
database, or sources a govops.yaml names (an organisation's mirror)."""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal

from engine.errors import InputError

Format = Literal["osv", "pypa"]

# `osv`: a zip of OSV JSON records, one per file (OSV's all.zip per ecosystem). `pypa`: a zip
# of the PyPA advisory database repository, its records as YAML under vulns/<package>/.
FORMATS: tuple[Format, ...] = ("osv", "pypa")
_NAME = re.compile(r"^[a-z0-9][a-z0-9-]{0,40}$")


@dataclass(frozen=True)
class Source:
    name: str
    url: str
    format: Format


BUILT_IN: dict[str, Source] = {
    "osv-pypi": Source("osv-pypi",
                       "https://osv-vulnerabilities.storage.googleapis.com/PyPI/all.zip", "osv"),
    "pypa": Source("pypa", "https://github.com/pypa/advisory-database/archive/refs/heads/"
                   "main.zip", "pypa"),
}
DEFAULT = ("osv-pypi",)


def configured_sources(declared: Sequence[Any], where: str,
                       lines: Mapping[str, int]) -> tuple[Source, ...]:
    """govops.yaml `advisories.sources`: names of built-in sources, or {name, url, format}
    objects; InputError naming the entry otherwise."""
    out: list[Source] = []
    for i, entry in enumerate(declared):
        line = lines.get(f"advisories.sources[{i}]")
        if isinstance(entry, str):
            if entry not in BUILT_IN:
                raise InputError(where, line, f"advisory source {entry!r} is not one govops "
                                 f"knows ({', '.join(BUILT_IN)}); name a url and format")
            out.append(BUILT_IN[entry])
            continue
        if not isinstance(entry, Mapping):
            raise InputError(where, line, "an advisory source is a name or {name, url, format}")
        name, url, fmt = entry.get("name"), entry.get("url"), entry.get("format")
        if not isinstance(name, str) or not _NAME.match(name):
            raise InputError(where, line, f"advisory source name {name!r}: lowercase letters, "
                             "digits and '-'")
        if not isinstance(url, str) or not url.startswith(("https://", "http://")):
            raise InputError(where, line, f"advisory source {name}: url must be http(s)")
        if fmt not in FORMATS:
            raise InputError(where, line, f"advisory source {name}: format must be one of "
                             f"{', '.join(FORMATS)}")
        out.append(Source(name, url, fmt))
    names = [s.name for s in out]
    if len(set(names)) != len(names):
        raise InputError(where, lines.get("advisories.sources"), "advisory sources must have "
                         "distinct names")
    return tuple(out)
