"""The AI bill of materials as SPDX 3.0.1 (JSON-LD), beside CycloneDX: `govops bom --format
spdx3`, for consumers that read SPDX (the EU AI Act tooling around SPDX's AI and Dataset
profiles, Linux Foundation projects).

Built with spdx-python-model, the SPDX project's own bindings generated from the 3.0.1 model:
every class, property type, enumeration and cardinality is the model's, checked as objects
are built and again when they are written (a required property left out is an error, not a
file). Models are `ai_AIPackage`s, datasets `dataset_DatasetPackage`s, locked packages
`software_Package`s with their purls and hashes, each environment a package that depends on
its lock's packages; models are `trainedOn` their datasets, `testedOn` their evaluation sets
and `descendantOf` their base model; licences are `hasDeclaredLicense` expressions. Same commit,
same bytes: identifiers and times come from the commit.
"""

from __future__ import annotations

import datetime as dt
import io
from collections.abc import Iterable, Mapping
from typing import Any

from spdx_python_model import v3_0_1 as spdx

from engine.bom import refs
from engine.bom.packages import PackageEntry, collect
from engine.catalog import Catalog, GovObject
from engine.repo import RevisionInfo

_RISK = {"minimal": spdx.ai_SafetyRiskAssessmentType.low,
         "limited": spdx.ai_SafetyRiskAssessmentType.medium,
         "high": spdx.ai_SafetyRiskAssessmentType.high}
_HASHES = {"md5": spdx.HashAlgorithm.md5, "sha256": spdx.HashAlgorithm.sha256,
           "sha384": spdx.HashAlgorithm.sha384, "sha512": spdx.HashAlgorithm.sha512}


class _Builder:
    def __init__(self, revision: RevisionInfo, repository: str, tool_version: str) -> None:
        assert revision.commit is not None
        self.base = f"https://govops.dev/spdx/{repository}/{revision.commit}"
        self.objects = spdx.SHACLObjectSet()
        self.info = spdx.CreationInfo(
            specVersion="3.0.1",
            created=dt.datetime.fromisoformat(revision.time.replace("Z", "+00:00")))
        tool = self.add(spdx.Tool(spdxId=self.iri("tool/govops"), name=f"govops {tool_version}",
                                  creationInfo=self.info))
        agent = self.add(spdx.SoftwareAgent(spdxId=self.iri("agent/govops"), name="govops",
                                            creationInfo=self.info))
        self.info.createdBy.append(agent)
        self.info.createdUsing.append(tool)
        self.elements: list[Any] = []

    def iri(self, ref: str) -> str:
        return f"{self.base}/{ref.replace(':', '/')}"

    def add(self, obj: Any) -> Any:
        self.objects.add(obj)
        return obj

    def element(self, obj: Any) -> Any:
        self.elements.append(self.add(obj))
        return obj

    def relate(self, source: Any, kind: Any, targets: Iterable[Any], name: str) -> None:
        targets = list(targets)
        if targets:
            self.element(spdx.Relationship(spdxId=self.iri(f"relationship/{name}"),
                                           creationInfo=self.info, from_=source,
                                           relationshipType=kind, to=targets))

    def license(self, owner: Any, ref: str, expression: Any) -> None:
        if isinstance(expression, str) and expression.strip():
            text = self.element(spdx.simplelicensing_LicenseExpression(
                spdxId=self.iri(f"license/{ref}"), creationInfo=self.info,
                simplelicensing_licenseExpression=expression.strip()))
            self.relate(owner, spdx.RelationshipType.hasDeclaredLicense, [text],
                        f"{ref}/license")


def _hash(text: Any) -> list[Any]:
    if not isinstance(text, str) or ":" not in text:
        return []
    algo, _, value = text.partition(":")
    method = _HASHES.get(algo)
    return [] if method is None else [spdx.Hash(algorithm=method, hashValue=value)]


def _sourced(b: _Builder, ref: str, obj: GovObject) -> dict[str, Any]:
    """What models and datasets state alike: identity, where they are fetched from, the
    revision and the digest."""
    spec: Mapping[str, Any] = obj.doc["spec"]
    fields: dict[str, Any] = {
        "spdxId": b.iri(ref), "creationInfo": b.info, "name": obj.name,
        "software_downloadLocation": refs.source_url(spec["source"], spec.get("revision"))
        or spec["source"],
        "description": obj.doc["metadata"].get("description"),
        "verifiedUsing": _hash(spec.get("digest")),
    }
    if isinstance(spec.get("revision"), str):
        fields["software_packageVersion"] = spec["revision"]
    return fields


def _model(b: _Builder, obj: GovObject, signature: str | None) -> Any:
    spec: Mapping[str, Any] = obj.doc["spec"]
    package = spdx.ai_AIPackage(
        **_sourced(b, refs.model_ref(obj.name), obj),
        software_primaryPurpose=spdx.software_SoftwarePurpose.model,
        software_packageUrl=refs.model_purl(obj.name, spec["source"], spec.get("revision")))
    if isinstance(spec.get("task"), str):
        package.ai_informationAboutApplication = spec["task"]
    if isinstance(spec.get("architecture"), str):
        package.ai_typeOfModel.append(spec["architecture"])
    if spec.get("risk") in _RISK:
        package.ai_safetyRiskAssessment = _RISK[spec["risk"]]
    for evaluation in spec.get("evaluations") or []:
        package.ai_metric.append(spdx.DictionaryEntry(key=str(evaluation["metric"]),
                                                      value=str(evaluation["value"])))
    if signature:
        package.comment = f"OpenSSF model signature: {signature}"
    return b.element(package)


def _dataset(b: _Builder, obj: GovObject) -> Any:
    spec: Mapping[str, Any] = obj.doc["spec"]
    package = spdx.dataset_DatasetPackage(
        **_sourced(b, refs.dataset_ref(obj.name), obj),
        software_primaryPurpose=spdx.software_SoftwarePurpose.data,
        dataset_datasetType=[spdx.dataset_DatasetType.noAssertion])
    pii = spec.get("pii")
    if isinstance(pii, bool):
        package.dataset_hasSensitivePersonalInformation = (
            spdx.PresenceType.yes if pii else spdx.PresenceType.no)
    return b.element(package)


def _package(b: _Builder, entry: PackageEntry) -> Any:
    package = spdx.software_Package(
        spdxId=b.iri(f"package/{entry.purl}"), creationInfo=b.info, name=entry.name,
        software_packageUrl=entry.purl,
        software_primaryPurpose=spdx.software_SoftwarePurpose.library)
    if entry.version is not None:
        package.software_packageVersion = entry.version
    if entry.url:
        package.software_downloadLocation = entry.url
    for alg, content in sorted(entry.hashes):
        method = _HASHES.get(alg.lower().replace("-", ""))
        if method is not None:
            package.verifiedUsing.append(spdx.Hash(algorithm=method, hashValue=content))
    return b.element(package)


def build_spdx3(catalog: Catalog, revision: RevisionInfo, repository: str,
                tool_version: str, signatures: Mapping[str, str] | None = None) -> str:
    """The SPDX 3.0.1 JSON-LD document of one commit."""
    b = _Builder(revision, repository, tool_version)
    objects = catalog.objects
    datasets = {name: _dataset(b, obj) for name, obj in sorted(objects.get("Dataset", {}).items())}
    models = {name: _model(b, obj, (signatures or {}).get(name))
              for name, obj in sorted(objects.get("Model", {}).items())}
    for name, obj in sorted(objects.get("Model", {}).items()):
        spec = obj.doc["spec"]
        b.license(models[name], refs.model_ref(name), spec.get("license"))
        ref = refs.model_ref(name)
        b.relate(models[name], spdx.RelationshipType.trainedOn,
                 [datasets[d] for d in spec.get("datasets") or [] if d in datasets],
                 f"{ref}/trainedOn")
        tested = sorted({e["dataset"] for e in spec.get("evaluations") or []
                         if isinstance(e.get("dataset"), str) and e["dataset"] in datasets})
        b.relate(models[name], spdx.RelationshipType.testedOn, [datasets[d] for d in tested],
                 f"{ref}/testedOn")
        base = spec.get("baseModel")
        if isinstance(base, str) and base in models and base != name:
            b.relate(models[name], spdx.RelationshipType.descendantOf, [models[base]],
                     f"{ref}/descendantOf")
    for name, obj in sorted(objects.get("Dataset", {}).items()):
        b.license(datasets[name], refs.dataset_ref(name), obj.doc["spec"].get("license"))
    entries, by_environment = collect(
        {name: lock.lock.packages for name, lock in catalog.locks.items()})
    packages = {purl: _package(b, entry) for purl, entry in sorted(entries.items())}
    for name, obj in sorted(objects.get("Environment", {}).items()):
        environment = b.element(spdx.software_Package(
            spdxId=b.iri(f"environment/{name}"), creationInfo=b.info, name=name,
            software_primaryPurpose=spdx.software_SoftwarePurpose.container,
            software_packageUrl=refs.parse_image(str(obj.doc["spec"]["image"])).purl()))
        b.relate(environment, spdx.RelationshipType.dependsOn,
                 [packages[p] for p in by_environment.get(name, [])],
                 f"environment/{name}/dependsOn")
    sbom = b.add(spdx.software_Sbom(
        spdxId=b.iri("sbom"), creationInfo=b.info, name=f"AIBOM of {repository}",
        software_sbomType=[spdx.software_SbomType.source],
        profileConformance=_profiles(), element=list(b.elements),
        rootElement=[*models.values()] or list(b.elements[:1])))
    document = b.add(spdx.SpdxDocument(
        spdxId=b.iri("document"), creationInfo=b.info, name=f"{repository} {revision.commit}",
        profileConformance=_profiles(), element=[sbom, *b.elements], rootElement=[sbom]))
    assert document is not None
    out = io.BytesIO()
    spdx.JSONLDSerializer().write(b.objects, out, indent=2)
    text = out.getvalue().decode("utf-8")
    validate_spdx3(text)
    return text


def validate_spdx3(text: str) -> None:
    """Read the document back with the same bindings and write it again: every element and
    reference must resolve, every property fit the 3.0.1 model, and nothing may be lost or
    changed on the way (ValueError otherwise). The published JSON Schema is the other check
    SPDX offers; it is not available offline (spdx3-validate downloads it from spdx.org)."""
    objects = spdx.SHACLObjectSet()
    spdx.JSONLDDeserializer().read(io.BytesIO(text.encode("utf-8")), objects)
    missing = objects.link()
    if missing:
        raise ValueError(f"SPDX 3 references to elements not in the document: "
                         f"{', '.join(sorted(missing)[:5])}")
    again = io.BytesIO()
    spdx.JSONLDSerializer().write(objects, again, indent=2)
    if again.getvalue().decode("utf-8") != text:
        raise ValueError("the SPDX 3 document does not read back as written")


def _profiles() -> list[Any]:
    return [spdx.ProfileIdentifierType.core, spdx.ProfileIdentifierType.software,
            spdx.ProfileIdentifierType.simpleLicensing, spdx.ProfileIdentifierType.ai,
            spdx.ProfileIdentifierType.dataset]
