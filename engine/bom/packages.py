"""Locked packages as CycloneDX `library` components, once per distinct purl.

Written as JSON directly rather than through cyclonedx-python-lib: the library spends ~180 us
constructing a Component and ~290 us sorting it into the Bom, so 15,000 packages would take
7 s before serialisation. The dicts here are exactly what the library serialises for the same
Component (tests/bom/test_bom.py compares them), so the output cannot drift from the library's.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from engine.bom.refs import package_purl
from engine.catalog.lockfiles import LockedPackage

# hashlib names (as lock files write them) -> CycloneDX hash-alg names.
_ALGORITHMS = {
    "md5": "MD5", "sha1": "SHA-1", "sha256": "SHA-256", "sha384": "SHA-384", "sha512": "SHA-512",
    "sha3-256": "SHA3-256", "sha3_256": "SHA3-256", "sha3-384": "SHA3-384",
    "sha3_384": "SHA3-384", "sha3-512": "SHA3-512", "sha3_512": "SHA3-512",
    "blake2b": "BLAKE2b-512",
}


@dataclass
class PackageEntry:
    """One distinct package (purl) and what every lock file that names it says about it."""

    purl: str
    name: str
    version: str | None
    ecosystem: str
    url: str = ""
    hashes: set[tuple[str, str]] = field(default_factory=set)
    unknown_hashes: set[str] = field(default_factory=set)
    source: str = ""  # LockedPackage.source: git, another index, a URL, a local path
    markers: set[str] = field(default_factory=set)  # "<environment>: <marker>" it is locked under

    def add_hashes(self, hashes: Iterable[str]) -> None:
        for text in hashes:
            algo, _, content = text.partition(":")
            alg = _ALGORITHMS.get(algo.lower())
            if alg is None:
                self.unknown_hashes.add(text)
            else:
                self.hashes.add((alg, content))

    def component(self) -> dict[str, Any]:
        """The component as the library writes it: keys sorted, hashes sorted, nulls left out."""
        out: dict[str, Any] = {"bom-ref": self.purl}
        references = [{"type": "distribution", "url": self.url}] if self.url else []
        kind, _, where = self.source.partition("+")
        if kind == "git":
            references.append({"type": "vcs", "url": where})
        if references:
            out["externalReferences"] = sorted(references, key=lambda r: (r["type"], r["url"]))
        if self.hashes:
            out["hashes"] = [{"alg": alg, "content": content}
                             for alg, content in sorted(self.hashes)]
        out["name"] = self.name
        properties = [("govops:hash", text) for text in self.unknown_hashes]
        properties += [("govops:marker", marker) for marker in self.markers]
        if self.source:
            properties.append(("govops:source", self.source))
        if properties:
            out["properties"] = [{"name": name, "value": value}
                                 for name, value in sorted(properties)]
        out["purl"] = self.purl
        out["type"] = "library"
        if self.version is not None:
            out["version"] = self.version
        return out


def collect(locks: Mapping[str, Iterable[LockedPackage]],
            ) -> tuple[dict[str, PackageEntry], dict[str, list[str]]]:
    """Distinct packages by purl, and each environment's package purls (sorted)."""
    entries: dict[str, PackageEntry] = {}
    by_environment: dict[str, list[str]] = {}
    for environment, packages in sorted(locks.items()):
        purls: set[str] = set()
        for package in packages:
            purl = package_purl(package.ecosystem, package.name, package.version, package.url,
                                package.build, package.source)
            entry = entries.get(purl)
            if entry is None:
                entry = entries[purl] = PackageEntry(purl, package.name, package.version,
                                                     package.ecosystem, package.url,
                                                     source=package.source)
            entry.add_hashes(package.hashes)
            if package.marker:  # how this environment locks it: another may not
                entry.markers.add(f"{environment}: {package.marker}")
            purls.add(purl)
        by_environment[environment] = sorted(purls)
    return entries, by_environment
