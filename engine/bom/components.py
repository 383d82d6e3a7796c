"""cyclonedx-python-lib components for the governed objects: models, datasets, environments,
images, CUDA, stacks and workloads (hundreds at most, so the library's cost does not matter).

Locked packages, which can number tens of thousands, are written by `packages.py` instead.
Fields the library has no class for (`modelCard`, `data`) are added later by `cards.py`.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from typing import Any

from cyclonedx.contrib.license.factories import LicenseFactory
from cyclonedx.model import (
    ExternalReference,
    ExternalReferenceType,
    HashAlgorithm,
    HashType,
    Property,
    XsUri,
)
from cyclonedx.model.component import Component, ComponentType, Pedigree
from cyclonedx.model.contact import OrganizationalEntity
from cyclonedx.model.license import DisjunctiveLicense, License
from packageurl import PackageURL

from engine.bom import refs
from engine.catalog import GovObject

_SHA256 = re.compile(r"^sha256:([0-9a-f]{64})$")
_LICENSES = LicenseFactory()


def _props(pairs: Iterable[tuple[str, Any]]) -> list[Property]:
    """Name/value properties, skipping absent values; lists become one property per item."""
    out: list[Property] = []
    for name, value in pairs:
        values = value if isinstance(value, list) else [value]
        for item in values:
            if item is None or item == "":
                continue
            text = ("true" if item else "false") if isinstance(item, bool) else str(item)
            out.append(Property(name=f"govops:{name}", value=text))
    return out


def _digest(value: Any) -> tuple[list[HashType], list[Property]]:
    """A well-formed `sha256:<64 hex>` becomes a hash; anything else is kept as a property,
    because the AIBOM must describe a revision even when MDL-001 fails it."""
    if isinstance(value, str) and (match := _SHA256.match(value)):
        return [HashType(alg=HashAlgorithm.SHA_256, content=match.group(1))], []
    return [], _props([("declared-digest", value)])


def _licenses(value: Any) -> list[License]:
    """The licence as CycloneDX names it: an SPDX id with its spdx.org page, an expression, or
    a name (a model licence such as `llama3` is not an SPDX id)."""
    if not isinstance(value, str) or not value.strip():
        return []
    found = _LICENSES.make_from_string(value.strip())
    if isinstance(found, DisjunctiveLicense) and found.id:
        found.url = XsUri(f"https://spdx.org/licenses/{found.id}.html")
    return [found]


def _publisher(source: str) -> tuple[str | None, OrganizationalEntity | None]:
    """Who publishes a model or dataset, read from its source: the Hugging Face organisation
    of `hf://org/name` (and `hf://datasets/org/name`); unknown for other sources."""
    if not source.startswith("hf://"):
        return None, None
    parts = source.removeprefix("hf://").removeprefix("datasets/").split("/")
    if len(parts) < 2 or not parts[0]:
        return None, None
    return parts[0], OrganizationalEntity(name=parts[0],
                                          urls=[XsUri(f"https://huggingface.co/{parts[0]}")])


def _distribution(source: str, revision: str | None) -> list[ExternalReference]:
    url = refs.source_url(source, revision)
    if url is None:
        return []
    return [ExternalReference(type=ExternalReferenceType.DISTRIBUTION, url=XsUri(url))]


def _common(obj: GovObject) -> list[tuple[str, Any]]:
    metadata = obj.doc["metadata"]
    return [("path", obj.path), ("owner", list(metadata.get("owners") or []))]


def _sourced(obj: GovObject, kind: ComponentType, bom_ref: str, purl: str,
             references: list[ExternalReference], facts: list[tuple[str, Any]]) -> Component:
    """A model or a dataset: fetched from `spec.source` at `spec.revision`, with the digest and
    licence its spec declares, where it comes from, and what else the spec says (`facts`)."""
    spec: Mapping[str, Any] = obj.doc["spec"]
    revision = spec.get("revision")
    hashes, digest_props = _digest(spec.get("digest"))
    publisher, supplier = _publisher(str(spec["source"]))
    return Component(
        type=kind,
        publisher=publisher,
        supplier=supplier,
        bom_ref=bom_ref,
        name=obj.name,
        version=revision,
        description=obj.doc["metadata"].get("description"),
        purl=PackageURL.from_string(purl),
        hashes=hashes,
        licenses=_licenses(spec.get("license")),
        external_references=[*_distribution(spec["source"], revision), *references],
        properties=[*_props([*_common(obj), ("source", spec["source"]), *facts]),
                    *digest_props],
    )


def model_component(obj: GovObject, signature: str | None = None) -> Component:
    """`signature`: what checking its OpenSSF model signature showed (signer and result)."""
    spec: Mapping[str, Any] = obj.doc["spec"]
    source = spec["source"]
    card = []
    if source.startswith("hf://") and not source.startswith("hf://datasets/"):
        card = [ExternalReference(type=ExternalReferenceType.MODEL_CARD,
                                  url=XsUri(refs.source_url(source) or ""))]
    component = _sourced(obj, ComponentType.MACHINE_LEARNING_MODEL, refs.model_ref(obj.name),
                         refs.model_purl(obj.name, source, spec.get("revision")), card,
                         [("format", spec.get("format")),
                          ("parameters", spec.get("parameters")),
                          ("precision", spec.get("precision")), ("risk", spec.get("risk")),
                          ("base-model", spec.get("baseModel")), ("signature", signature)])
    base = spec.get("baseModel")
    if isinstance(base, str):
        # Lineage as CycloneDX states it: the model it was fine-tuned from is its ancestor
        # (named, and referring to that model's own component through the property above).
        component.pedigree = Pedigree(ancestors=[Component(
            type=ComponentType.MACHINE_LEARNING_MODEL, name=base,
            bom_ref=f"{refs.model_ref(obj.name)}#base-model")])
    return component


def model_file_component(obj: GovObject, file: Mapping[str, Any]) -> Component:
    """A file beside the weights that changes what the model does (a chat template, a
    tokenizer config): its own component with its hash, so a changed template is a change."""
    hashes, digest_props = _digest(file.get("digest"))
    return Component(
        type=ComponentType.FILE,
        bom_ref=f"{refs.model_ref(obj.name)}#file:{file['path']}",
        name=str(file["path"]),
        hashes=hashes,
        properties=[*_props([("kind", file.get("kind")), ("model", obj.name)]), *digest_props],
    )


def dataset_component(obj: GovObject) -> Component:
    spec: Mapping[str, Any] = obj.doc["spec"]
    return _sourced(obj, ComponentType.DATA, refs.dataset_ref(obj.name),
                    refs.dataset_purl(obj.name, spec["source"], spec.get("revision")), [],
                    [("pii", spec.get("pii")), ("classification", spec.get("classification"))])


def environment_component(obj: GovObject, lock_format: str | None) -> Component:
    """The runtime a workload runs in: a `platform` that depends on its image, CUDA and its
    locked packages."""
    spec: Mapping[str, Any] = obj.doc["spec"]
    return Component(
        type=ComponentType.PLATFORM,
        bom_ref=refs.environment_ref(obj.name),
        name=obj.name,
        description=obj.doc["metadata"].get("description"),
        # The image and CUDA are components this one depends on, not properties: a re-pinned
        # image is then one change (of the image), not two.
        properties=_props([*_common(obj), ("python", spec.get("python")),
                           ("lockfile", spec.get("lockfile")), ("lockfile-format", lock_format)]),
    )


def image_component(image: refs.ImageRef) -> Component:
    purl = image.purl()
    hashes = []
    if image.digest and (match := _SHA256.match(image.digest)):
        hashes.append(HashType(alg=HashAlgorithm.SHA_256, content=match.group(1)))
    return Component(
        type=ComponentType.CONTAINER,
        bom_ref=purl,
        name=image.repository,
        version=image.digest or image.tag,
        purl=PackageURL.from_string(purl),
        hashes=hashes,
        properties=_props([("tag", image.tag)]),
    )


def cuda_component(version: str) -> Component:
    """The CUDA version an environment declares, as the `device-driver` DESIGN.md names (the
    component type for software that drives a GPU), with its version."""
    purl = PackageURL("generic", "nvidia", "cuda", version).to_string()
    return Component(type=ComponentType.DEVICE_DRIVER, bom_ref=purl, group="nvidia", name="cuda",
                     version=version, purl=PackageURL.from_string(purl))


def stack_component(obj: GovObject) -> Component:
    spec: Mapping[str, Any] = obj.doc["spec"]
    labels = obj.doc["metadata"].get("labels") or {}
    return Component(
        type=ComponentType.APPLICATION,
        bom_ref=refs.stack_ref(obj.name),
        name=obj.name,
        description=obj.doc["metadata"].get("description"),
        properties=_props([
            *_common(obj), ("cluster", spec["cluster"]["name"]),
            ("namespace", spec["namespace"]), ("gpu-type", spec["gpu"]["type"]),
            ("gpu-quota", spec["gpu"]["quota"]),
            *((f"label:{k}", v) for k, v in sorted(labels.items())),
        ]),
    )


def workload_component(stack: GovObject, workload: Mapping[str, Any]) -> Component:
    return Component(
        type=ComponentType.APPLICATION,
        bom_ref=refs.workload_ref(stack.name, workload["name"]),
        name=f"{stack.name}/{workload['name']}",
        properties=_props([
            ("kind", workload["kind"]), ("model", workload["model"]),
            ("environment", workload["environment"]),
            ("replicas", workload.get("replicas")),
            ("gpus-per-replica", workload.get("gpusPerReplica")),
        ]),
    )


def repository_component(name: str, commit: str, tree: str) -> Component:
    return Component(type=ComponentType.APPLICATION, bom_ref="repository", name=name,
                     version=commit, properties=_props([("tree", tree)]))


def tool_component(version: str) -> Component:
    return Component(type=ComponentType.APPLICATION, group="govops.dev", name="govops",
                     version=version, bom_ref="tool:govops")
