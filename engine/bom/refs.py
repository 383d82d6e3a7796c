"""Identities in the AIBOM: bom-refs and package URLs for every kind of component.

bom-refs are readable and derived from names (`model:llama-3-8b-instruct`) or from the purl
(packages, images), so the same catalog always gives the same refs and a diff of two AIBOMs can
pair components by ref. Nothing here reads git or the catalog; it only names things.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from packageurl import PackageURL

_HF = "hf://"
_HF_DATASETS = "hf://datasets/"


def model_ref(name: str) -> str:
    return f"model:{name}"


def dataset_ref(name: str) -> str:
    return f"dataset:{name}"


def environment_ref(name: str) -> str:
    return f"environment:{name}"


def stack_ref(name: str) -> str:
    return f"stack:{name}"


def workload_ref(stack: str, workload: str) -> str:
    return f"workload:{stack}/{workload}"


def vulnerability_ref(advisory_id: str) -> str:
    return f"vulnerability:{advisory_id}"


def source_url(source: str, revision: str | None = None) -> str | None:
    """The web address of a `hf://` source (at its revision); any other URL as it is (s3:// and
    gs:// are valid IRIs too); None when the source is not a URL at all."""
    if source.startswith(_HF_DATASETS):
        base = "https://huggingface.co/datasets/" + source[len(_HF_DATASETS):]
    elif source.startswith(_HF):
        base = "https://huggingface.co/" + source[len(_HF):]
    else:
        return source if re.match(r"^[a-z][a-z0-9+.-]*://\S+$", source) else None
    return f"{base}/tree/{revision}" if revision else base


def model_purl(name: str, source: str, revision: str | None) -> str:
    """`pkg:huggingface/<org>/<name>@<revision>` for Hugging Face models (the purl spec's type
    for them, the revision lowercased as it requires), a generic purl otherwise."""
    if source.startswith(_HF) and not source.startswith(_HF_DATASETS):
        parts = source[len(_HF):].strip("/").split("/")
        if len(parts) == 2 and all(parts):
            return PackageURL("huggingface", parts[0], parts[1],
                              revision.lower() if revision else None).to_string()
    return _generic(name, revision, source)


def dataset_purl(name: str, source: str, revision: str | None) -> str:
    # The purl spec has no type for datasets; generic with the download location says most.
    return _generic(name, revision, source)


def _generic(name: str, version: str | None, source: str) -> str:
    qualifiers = {"download_url": url} if (url := source_url(source)) else None
    return PackageURL("generic", None, name, version, qualifiers).to_string()


def package_purl(ecosystem: str, name: str, version: str | None, url: str = "",
                 build: str = "", source: str = "") -> str:
    """The package's purl; a PyPI name built from somewhere else than PyPI says where in its
    qualifiers (`vcs_url` with the commit, `repository_url`, `download_url`), so two commits of
    one package, or a CUDA build from another index, are two components, not one."""
    if ecosystem == "conda":
        return PackageURL("conda", None, name, version, {
            **_conda_qualifiers(url, build), **source_qualifiers(source)}).to_string()
    return PackageURL("pypi", None, name, version, source_qualifiers(source)).to_string()


def source_qualifiers(source: str) -> dict[str, str]:
    """purl qualifiers of a LockedPackage.source (`git+<url>@<commit>`, `registry+<index>`,
    `url+<url>`; local paths have no purl form: their component says it in a property)."""
    kind, _, where = source.partition("+")
    if kind in ("git", "hg", "svn", "bzr"):
        return {"vcs_url": source}
    if kind == "registry":
        return {"repository_url": where}
    if kind == "url":
        return {"download_url": where}
    return {}


def _conda_qualifiers(url: str, build: str) -> dict[str, str]:
    """build, channel, subdir and type, read from a package URL such as
    https://conda.anaconda.org/conda-forge/linux-64/python-3.11.9-hb806964_0_cpython.conda."""
    qualifiers = {"build": build} if build else {}
    parts = url.split("#", 1)[0].rstrip("/").split("/")
    if len(parts) >= 3:
        filename, subdir, channel = parts[-1], parts[-2], parts[-3]
        qualifiers["subdir"] = subdir
        qualifiers["channel"] = channel
        qualifiers["type"] = "conda" if filename.endswith(".conda") else "tar.bz2"
    return qualifiers


@dataclass(frozen=True)
class ImageRef:
    """A container image reference split the way registries read it."""

    repository: str
    tag: str | None
    digest: str | None

    @property
    def name(self) -> str:
        return self.repository.rsplit("/", 1)[-1]

    def purl(self) -> str:
        qualifiers = {"repository_url": self.repository}
        if self.tag:
            qualifiers["tag"] = self.tag
        return PackageURL("oci", None, self.name.lower(), self.digest, qualifiers).to_string()


def parse_image(reference: str) -> ImageRef:
    """`registry/ns/name[:tag][@sha256:...]`; a port in the registry is not a tag."""
    rest, _, digest = reference.partition("@")
    slash = rest.rfind("/")
    colon = rest.rfind(":")
    tag = None
    if colon > slash:
        rest, tag = rest[:colon], rest[colon + 1:]
    return ImageRef(rest, tag or None, digest or None)
