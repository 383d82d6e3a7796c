"""Build the AIBOM of one revision: a CycloneDX 1.6 ML-BOM, validated, as the bytes to write.

Everything is derived from the catalog and the commit (serial number, timestamp, order), so the
same commit, advisories and govops version give byte-identical output on every machine. The
document is validated before it is returned; an invalid AIBOM never reaches a file.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
import uuid
import warnings
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from cyclonedx.model import Property
from cyclonedx.model.bom import Bom, BomMetaData
from cyclonedx.model.component import Component
from cyclonedx.model.dependency import Dependable, Dependency
from cyclonedx.model.lifecycle import LifecyclePhase, PredefinedLifecycle
from cyclonedx.model.vulnerability import Vulnerability
from cyclonedx.output.json import JsonV1Dot6

from engine.advisories.match import AdvisoryIndex
from engine.bom import cards, components, refs
from engine.bom.identity import serial_number
from engine.bom.packages import PackageEntry, collect
from engine.bom.validate import validate_aibom
from engine.bom.vulnerabilities import vulnerabilities
from engine.catalog import Catalog, GovObject
from engine.repo import RevisionInfo

_TOP_LEVEL = ("$schema", "bomFormat", "specVersion", "serialNumber", "version", "metadata",
              "components", "dependencies", "vulnerabilities")


@dataclass(frozen=True)
class AibomSource:
    """What an AIBOM describes and the facts that shape it beyond the catalog."""

    catalog: Catalog
    revision: RevisionInfo
    repository: str
    advisories: AdvisoryIndex
    advisories_digest: str
    tool_version: str
    # the synced advisory databases records were matched from (engine.advisories.synced)
    databases: tuple[Mapping[str, Any], ...] = ()
    # what checking each signed model's OMS signature showed, as the AIBOM says it
    signatures: Mapping[str, str] = dataclasses.field(default_factory=dict)


@dataclass(frozen=True)
class Aibom:
    serial_number: str
    commit: str
    text: str

    def document(self) -> dict[str, Any]:
        """The JSON document (parsed again so callers cannot mutate what was validated)."""
        parsed: dict[str, Any] = json.loads(self.text)
        return parsed


class _Graph:
    """Components by bom-ref and the edges between them, in the order they were added."""

    def __init__(self) -> None:
        self.components: dict[str, Component] = {}
        self.edges: dict[str, list[str]] = {}

    def add(self, component: Component) -> str:
        ref = str(component.bom_ref.value)
        self.components.setdefault(ref, component)
        self.edges.setdefault(ref, [])
        return ref

    def depend(self, source: str, target: str) -> None:
        if target not in self.edges[source]:
            self.edges[source].append(target)


def _objects(catalog: Catalog, kind: str) -> list[GovObject]:
    return [obj for _, obj in sorted(catalog.objects.get(kind, {}).items())]


def _catalog_graph(catalog: Catalog, signatures: Mapping[str, str]) -> _Graph:
    """stack -> workload -> model -> dataset, workload -> environment -> image, CUDA."""
    graph = _Graph()
    datasets = {obj.name: graph.add(components.dataset_component(obj))
                for obj in _objects(catalog, "Dataset")}
    models: dict[str, str] = {}
    for obj in _objects(catalog, "Model"):
        models[obj.name] = graph.add(components.model_component(obj,
                                                                signatures.get(obj.name)))
        for name in obj.doc["spec"].get("datasets") or []:
            if name in datasets:
                graph.depend(models[obj.name], datasets[name])
        for file in obj.doc["spec"].get("files") or []:
            graph.depend(models[obj.name], graph.add(components.model_file_component(obj, file)))
    environments: dict[str, str] = {}
    for obj in _objects(catalog, "Environment"):
        lock = catalog.locks.get(obj.name)
        ref = environments[obj.name] = graph.add(
            components.environment_component(obj, lock.lock.format if lock else None))
        graph.depend(ref, graph.add(components.image_component(
            refs.parse_image(obj.doc["spec"]["image"]))))
        if obj.doc["spec"].get("cuda"):
            graph.depend(ref, graph.add(components.cuda_component(obj.doc["spec"]["cuda"])))
    for stack in _objects(catalog, "Stack"):
        stack_ref = graph.add(components.stack_component(stack))
        for workload in stack.doc["spec"]["workloads"]:
            ref = graph.add(components.workload_component(stack, workload))
            graph.depend(stack_ref, ref)
            for target in (models.get(workload["model"]),
                           environments.get(workload["environment"])):
                if target is not None:
                    graph.depend(ref, target)
    return graph


def _roots(graph: _Graph) -> list[str]:
    """What the repository itself depends on: stacks, and every model, dataset and
    environment no stack reaches, so nothing in the AIBOM hangs unconnected."""
    reached = {target for targets in graph.edges.values() for target in targets}
    return [ref for ref in graph.components
            if ref.split(":", 1)[0] in ("stack", "model", "dataset", "environment")
            and ref not in reached]


def _dependencies(root: Component, graph: _Graph) -> list[Dependency]:
    """The dependency graph as `Bom.register_dependency` and `Bom.validate` leave it (every
    component listed once, with everything it depends on), built in one pass."""
    nodes: dict[str, tuple[Component, set[str]]] = {}

    def link(component: Component, targets: list[Component]) -> None:
        _, depends = nodes.setdefault(str(component.bom_ref), (component, set()))
        for target in targets:
            depends.add(str(target.bom_ref))
            nodes.setdefault(str(target.bom_ref), (target, set()))

    link(root, [graph.components[r] for r in _roots(graph)])
    for ref, targets in graph.edges.items():
        link(graph.components[ref], [graph.components[t] for t in targets])
    return [Dependency(ref=component.bom_ref,
                       dependencies=[Dependency(ref=nodes[t][0].bom_ref) for t in depends])
            for component, depends in nodes.values()]


def _index_dependencies(bom: Bom) -> None:
    """Give `bom` a `register_dependency` that finds an already registered component in a
    set. The library's scans every dependency registered so far, and its output calls it once
    per component (Bom.validate): quadratic, 32 million comparisons for an AIBOM of 3,000
    objects. Set on the instance (a subclass of Bom is not serialized as one), once
    `bom.dependencies` is complete."""
    registered = {d.ref for d in bom.dependencies}
    library = bom.register_dependency

    def register_dependency(target: Dependable,
                            depends_on: Iterable[Dependable] | None = None) -> None:
        if not depends_on and target.bom_ref in registered:
            return
        library(target, depends_on)
        registered.update([target.bom_ref, *(d.bom_ref for d in depends_on or ())])

    bom.register_dependency = register_dependency  # type: ignore[method-assign]


def _library_document(source: AibomSource, graph: _Graph, serial: str,
                      found: list[Vulnerability]) -> dict[str, Any]:
    revision = source.revision
    assert revision.commit is not None
    root = components.repository_component(source.repository, revision.commit, revision.tree)
    metadata = BomMetaData(
        timestamp=dt.datetime.fromisoformat(revision.time.replace("Z", "+00:00")),
        component=root,
        lifecycles=[PredefinedLifecycle(LifecyclePhase.PRE_BUILD)],
        properties=[Property(name="govops:advisoryDatabase",
                             value=f"{d['source']} {d['digest']} fetched {d['fetched']} "
                                   f"({d['records']} advisories, {d['url']})")
                    for d in source.databases],
    )
    metadata.tools.components.add(components.tool_component(source.tool_version))
    bom = Bom(serial_number=uuid.UUID(serial.removeprefix("urn:uuid:")), metadata=metadata,
              components=graph.components.values())
    bom.dependencies = _dependencies(root, graph)
    _index_dependencies(bom)
    for vulnerability in found:
        bom.vulnerabilities.add(vulnerability)
    with warnings.catch_warnings():
        # The library warns (UserWarning) about an incomplete graph: for govops that is a bug.
        warnings.simplefilter("error", UserWarning)
        text = JsonV1Dot6(bom).output_as_string()
    document: dict[str, Any] = json.loads(text)
    return document


def _enrich(document: dict[str, Any], catalog: Catalog, packages: Mapping[str, PackageEntry],
            by_environment: Mapping[str, list[str]]) -> None:
    datasets = catalog.objects.get("Dataset", {})
    extra: dict[str, tuple[str, Any]] = {}
    for obj in _objects(catalog, "Model"):
        extra[refs.model_ref(obj.name)] = ("modelCard", cards.model_card(obj, datasets))
    for obj in _objects(catalog, "Dataset"):
        extra[refs.dataset_ref(obj.name)] = ("data", cards.dataset_data(obj))
    enriched = []
    for component in document.get("components", []):
        if (found := extra.get(component["bom-ref"])) is not None:
            component = dict(sorted({**component, found[0]: found[1]}.items()))
        enriched.append(component)
    enriched.extend(packages[purl].component() for purl in sorted(packages))
    document["components"] = enriched
    dependencies = {d["ref"]: d for d in document.get("dependencies", [])}
    for environment, purls in by_environment.items():
        entry = dependencies[refs.environment_ref(environment)]
        entry["dependsOn"] = sorted({*entry.get("dependsOn", []), *purls})
    for purl in sorted(packages):
        dependencies.setdefault(purl, {"ref": purl})
    document["dependencies"] = [dependencies[ref] for ref in sorted(dependencies)]


def build_aibom(source: AibomSource) -> Aibom:
    if source.revision.commit is None:
        raise ValueError("an AIBOM describes a commit, not the index")
    serial = serial_number(source.revision.commit, source.advisories_digest, source.tool_version)
    catalog = source.catalog
    graph = _catalog_graph(catalog, source.signatures)
    packages, by_environment = collect(
        {name: lock.lock.packages for name, lock in catalog.locks.items()})
    found = vulnerabilities(packages, source.advisories)
    document = _library_document(source, graph, serial, found)
    _enrich(document, catalog, packages, by_environment)
    document = {key: document[key] for key in _TOP_LEVEL if key in document}
    validate_aibom(document)
    text = json.dumps(document, indent=2, ensure_ascii=False) + "\n"
    return Aibom(serial, source.revision.commit, text)
