"""Which line of a Stack produced a rendered object: where a manifest policy's result about
the object belongs, so that it reads like any other result (`stacks/serve.yaml:14`).

Read from what the gpu-workloads program writes: workload objects carry the
`govops.dev/workload` label (-> that workload's entry), the Namespace comes from
`spec.namespace`, the ResourceQuota from `spec.gpu.quota`, the admission policy from
`spec.gpu`, the GPU operator (its release and namespace) from `spec.gpu.operator`; anything
else points at the stack's `spec`.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from engine.deploy.spec import GPU_OPERATOR_NAMESPACE

WORKLOAD_LABEL = "govops.dev/workload"


def stack_field(stack: Mapping[str, Any], obj: Mapping[str, Any]) -> str:
    """The field path of `stack` (a Stack document) that `obj` was rendered from."""
    spec = stack.get("spec") or {}
    metadata = obj.get("metadata") or {}
    workload = (metadata.get("labels") or {}).get(WORKLOAD_LABEL)
    if workload is not None:
        for i, entry in enumerate(spec.get("workloads") or ()):
            if isinstance(entry, Mapping) and entry.get("name") == workload:
                return f"spec.workloads[{i}]"
    kind = obj.get("kind")
    operator = (spec.get("gpu") or {}).get("operator")
    operator_namespace = (operator or {}).get("namespace", GPU_OPERATOR_NAMESPACE)
    if kind == "Release" or (operator is not None and kind == "Namespace"
                             and metadata.get("name") == operator_namespace):
        return "spec.gpu.operator"
    if kind == "Namespace":
        return "spec.namespace"
    if kind == "ResourceQuota":
        return "spec.gpu.quota"
    if kind in ("ValidatingAdmissionPolicy", "ValidatingAdmissionPolicyBinding"):
        return "spec.gpu"
    return "spec"
