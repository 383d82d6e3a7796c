"""The StackSpec: everything a Pulumi program may know about one Stack, frozen and plain.

Built from the catalog of one revision, the decision id and the AIBOM serial number, so a
program is a pure function of it and of nothing else (no git, no clock, no environment). Must
never import pulumi: the spec is also what `apply` will hand to the Automation API as config.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from engine.catalog.model import Catalog, GovObject
from engine.deploy.admission import GPUS_PER_REPLICA, stack_admission
from engine.deploy.charts import ChartError, ChartSource, find_chart
from engine.errors import GovopsError, InputError
from engine.shipped import library_dir


class UnknownStackError(GovopsError):
    """A `--stack` the revision does not define (exit 2, naming those that exist)."""


@dataclass(frozen=True)
class WorkloadSpec:
    name: str
    kind: str  # inference | training
    replicas: int
    gpus_per_replica: int
    model: str
    model_digest: str
    environment: str
    image: str
    # What the container gets besides the image and GPUs (spec.workloads[] command, args, env,
    # resources, shm, ports, probes, volumes, and the securityContext it overrides), as
    # canonical JSON of the fields the workload sets: the program reads it, and the spec stays
    # immutable and compares by value. A workload that sets none of them has "{}", so the
    # spec of a stack that predates a field stays byte for byte what it was.
    container: str = "{}"


CONTAINER_FIELDS = ("command", "args", "env", "resources", "shm", "ports", "readiness",
                    "liveness", "startup", "volumes", "securityContext")


NVIDIA_HELM_REPOSITORY = "https://helm.ngc.nvidia.com/nvidia"
GPU_OPERATOR_CHART = "gpu-operator"
GPU_OPERATOR_NAMESPACE = "gpu-operator"
DEFAULT_ROLLOUT_TIMEOUT = 600  # seconds: the provider's own default for a Deployment


@dataclass(frozen=True)
class GpuOperatorSpec:
    """The NVIDIA GPU operator as a Helm release pinned to one chart version.

    `values` is the stack's `spec.gpu.operator.values` as canonical JSON text, so the spec
    stays immutable and compares by value."""

    version: str
    namespace: str = GPU_OPERATOR_NAMESPACE
    repository: str = NVIDIA_HELM_REPOSITORY
    chart: str = GPU_OPERATOR_CHART
    values: str = "{}"
    # A chart committed in the repo (spec.gpu.operator.chart): its folder is `chart`, there is
    # no repository, and the Release installs `local_chart` (engine.deploy.charts), whose name
    # is the digest of the chart's files.
    local_chart: str = ""


@dataclass(frozen=True)
class StackSpec:
    name: str
    labels: tuple[tuple[str, str], ...]
    cluster_name: str
    cluster_context: str
    namespace: str
    gpu_type: str
    gpu_product: str
    gpu_quota: int
    gpu_operator: GpuOperatorSpec | None
    program: str
    workloads: tuple[WorkloadSpec, ...]
    revision: str
    decision_id: str
    aibom_serial: str
    # The stack's ValidatingAdmissionPolicy and binding (engine.deploy.admission) as canonical
    # JSON: govops decides what the cluster admits, the program only registers it, and a plan
    # whose program leaves it out is refused (engine.deploy.render).
    admission: str = "[]"
    # How long apply waits for a Deployment to roll out before the engine gives up
    # (spec.rollout.timeoutSeconds): the provider's await and Kubernetes' progress deadline.
    rollout_timeout: int = DEFAULT_ROLLOUT_TIMEOUT

    @property
    def tier(self) -> str | None:
        return dict(self.labels).get("tier")

    def as_json(self) -> dict[str, Any]:
        return asdict(self)

    def to_config(self) -> str:
        """The spec as one canonical JSON string (the `govops:spec` stack config)."""
        return json.dumps(self.as_json(), sort_keys=True, separators=(",", ":"))

    @classmethod
    def from_json(cls, doc: Mapping[str, Any]) -> StackSpec:
        fields = dict(doc)
        fields["labels"] = tuple(tuple(pair) for pair in fields["labels"])
        fields["workloads"] = tuple(WorkloadSpec(**w) for w in fields["workloads"])
        operator = fields.get("gpu_operator")
        fields["gpu_operator"] = GpuOperatorSpec(**operator) if operator else None
        return cls(**fields)


def gpu_products(library: Path | None = None) -> dict[str, str]:
    """GPU type -> the `nvidia.com/gpu.product` node label, from policies/data/gpus.json."""
    path = (library or library_dir()) / "data" / "gpus.json"
    try:
        gpus = json.loads(path.read_text())["govops"]["gpus"]
    except (OSError, ValueError, KeyError) as exc:
        raise GovopsError(f"{path}: cannot read the GPU table: {exc}") from None
    return {name: str(entry["product"]) for name, entry in gpus.items() if "product" in entry}


def stack_names(catalog: Catalog) -> list[str]:
    return sorted(catalog.objects.get("Stack", {}))


def find_stack(catalog: Catalog, name: str) -> GovObject:
    stack = catalog.get("Stack", name)
    if stack is None:
        known = ", ".join(stack_names(catalog)) or "none"
        raise UnknownStackError(f"unknown stack {name!r}; stacks at this revision: {known}")
    return stack


def _referenced(catalog: Catalog, stack: GovObject, kind: str, name: str, field: str) -> GovObject:
    found = catalog.get(kind, name)
    if found is None:
        raise InputError(stack.path, stack.line_of(field),
                         f"{field}: no {kind} named {name!r}")
    return found


def _operator(stack: GovObject, charts: ChartSource | None) -> GpuOperatorSpec | None:
    wanted = stack.doc["spec"]["gpu"].get("operator")
    if wanted is None:
        return None
    values = json.dumps(wanted.get("values") or {}, sort_keys=True, separators=(",", ":"))
    namespace = str(wanted.get("namespace", GPU_OPERATOR_NAMESPACE))
    if namespace == stack.doc["spec"]["namespace"]:
        raise InputError(stack.path, stack.line_of("spec.gpu.operator.namespace"),
                         f"spec.gpu.operator.namespace: the operator needs its own namespace "
                         f"(privileged pods), not the workloads' {namespace!r}")
    if "chart" not in wanted:
        return GpuOperatorSpec(
            version=str(wanted["version"]),
            namespace=namespace,
            repository=str(wanted.get("repository", NVIDIA_HELM_REPOSITORY)),
            values=values)
    line = stack.line_of("spec.gpu.operator.chart")
    if "repository" in wanted:
        raise InputError(stack.path, line, "spec.gpu.operator: chart (a folder in this repo) "
                         "and repository (where Helm downloads it) exclude each other")
    if charts is None:  # pragma: no cover - every caller that plans passes the revision
        raise GovopsError("a vendored chart needs the revision's files")
    try:
        chart = find_chart(charts, str(wanted["chart"]), str(wanted["version"]))
    except ChartError as exc:
        raise InputError(stack.path, line, f"spec.gpu.operator.chart: {exc}") from None
    return GpuOperatorSpec(version=str(wanted["version"]), namespace=namespace, repository="",
                           chart=chart.folder, values=values, local_chart=chart.local_path)


def _rollout_timeout(stack: GovObject) -> int:
    seconds = int((stack.doc["spec"].get("rollout") or {}).get("timeoutSeconds",
                                                                 DEFAULT_ROLLOUT_TIMEOUT))
    if seconds < 1:
        raise InputError(stack.path, stack.line_of("spec.rollout.timeoutSeconds"),
                         f"spec.rollout.timeoutSeconds: {seconds} is not a positive number of "
                         "seconds")
    return seconds


def build_stack_spec(catalog: Catalog, stack_name: str, revision: str, decision_id: str,
                     aibom_serial: str, products: Mapping[str, str] | None = None,
                     charts: ChartSource | None = None) -> StackSpec:
    """`charts`: the revision's files, for a chart the stack vendors."""
    stack = find_stack(catalog, stack_name)
    spec = stack.doc["spec"]
    if products is None:  # the shipped table and the repo's own GPU types (policies.gpus)
        products = {**gpu_products(), **{name: str(entry["product"])
                                         for name, entry in catalog.config.gpus.items()}}
    gpu_type = str(spec["gpu"]["type"])
    if gpu_type not in products:
        raise InputError(stack.path, stack.line_of("spec.gpu.type"),
                         f"GPU type {gpu_type!r} has no nvidia.com/gpu.product in gpus.json "
                         "nor in govops.yaml's policies.gpus")
    workloads = []
    for i, w in enumerate(spec.get("workloads", [])):
        model = _referenced(catalog, stack, "Model", w["model"], f"spec.workloads[{i}].model")
        env = _referenced(catalog, stack, "Environment", w["environment"],
                          f"spec.workloads[{i}].environment")
        workloads.append(WorkloadSpec(
            name=str(w["name"]), kind=str(w["kind"]), replicas=int(w.get("replicas", 1)),
            gpus_per_replica=int(w.get("gpusPerReplica", GPUS_PER_REPLICA)), model=model.name,
            model_digest=str(model.doc["spec"]["digest"]), environment=env.name,
            image=str(env.doc["spec"]["image"]),
            container=json.dumps({k: w[k] for k in CONTAINER_FIELDS if k in w},
                                 sort_keys=True, separators=(",", ":"))))
    labels = stack.doc.get("metadata", {}).get("labels", {}) or {}
    return StackSpec(
        name=stack.name,
        labels=tuple(sorted((str(k), str(v)) for k, v in labels.items())),
        cluster_name=str(spec["cluster"]["name"]),
        cluster_context=str(spec["cluster"].get("context", spec["cluster"]["name"])),
        namespace=str(spec["namespace"]),
        gpu_type=gpu_type,
        gpu_product=products[gpu_type],
        gpu_quota=int(spec["gpu"]["quota"]),
        gpu_operator=_operator(stack, charts),
        program=str(spec.get("pulumi", {}).get("program", "gpu-workloads")),
        workloads=tuple(workloads),
        revision=revision,
        decision_id=decision_id,
        aibom_serial=aibom_serial,
        admission=json.dumps(stack_admission(stack.name, spec), sort_keys=True,
                             separators=(",", ":")),
        rollout_timeout=_rollout_timeout(stack),
    )
