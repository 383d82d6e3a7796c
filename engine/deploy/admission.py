"""Admission, so nothing reaches a stack's GPUs around govops: a ValidatingAdmissionPolicy (CEL,
built into Kubernetes since 1.30; no webhook server to run) and its binding to the stack's
namespace, refusing Pods, Deployments and Jobs that

- run an image not pinned by digest (`@sha256:`), in any container or init container;
- lack what govops puts on every workload it deploys: the `govops.dev/stack` label naming this
  stack and the `govops.dev/model-digest` annotation on the pod (template), and on a
  Deployment or Job the `govops.dev/decision-id` annotation of the decision it was approved by;
- ask a container for more `nvidia.com/gpu` than the stack gives any workload.

The ResourceQuota govops deploys bounds the namespace's total; this bounds each pod. The API
server evaluates both; a request that breaks a rule is refused with the rule's message.
Failure policy Fail: an expression that cannot be evaluated refuses (fail closed).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

POD_SPEC = "object.kind == 'Pod' ? object.spec : object.spec.template.spec"
POD_META = "object.kind == 'Pod' ? object.metadata : object.spec.template.metadata"
CONTAINERS = ("variables.spec.containers + (has(variables.spec.initContainers) ? "
              "variables.spec.initContainers : [])")


def _rules() -> list[dict[str, Any]]:
    return [{"apiGroups": [group], "apiVersions": ["v1"], "operations": ["CREATE", "UPDATE"],
             "resources": [resource]}
            for group, resource in (("", "pods"), ("apps", "deployments"), ("batch", "jobs"))]


def _validations(stack: str, max_gpus: int) -> list[dict[str, str]]:
    containers = "variables.containers"
    return [
        {"expression": f"{containers}.all(c, c.image.contains('@sha256:'))",
         "message": "every image must be pinned by digest (image@sha256:...)"},
        {"expression": ("has(variables.meta.labels) && 'govops.dev/stack' in "
                        f"variables.meta.labels && variables.meta.labels['govops.dev/stack'] "
                        f"== '{stack}'"),
         "message": f"the pod must carry the label govops.dev/stack: {stack} (deployed by govops)"},
        {"expression": ("has(variables.meta.annotations) && 'govops.dev/model-digest' in "
                        "variables.meta.annotations && variables.meta.annotations"
                        "['govops.dev/model-digest'].startsWith('sha256:')"),
         "message": "the pod must carry the govops.dev/model-digest annotation of its model"},
        {"expression": ("object.kind == 'Pod' || (has(object.metadata.annotations) && "
                        "'govops.dev/decision-id' in object.metadata.annotations && "
                        "object.metadata.annotations['govops.dev/decision-id']"
                        ".startsWith('sha256:'))"),
         "message": "a Deployment or Job must carry the govops.dev/decision-id annotation of "
                    "the decision it was approved by"},
        {"expression": (f"{containers}.all(c, !has(c.resources) || !has(c.resources.limits) "
                        "|| !('nvidia.com/gpu' in c.resources.limits) || "
                        f"int(string(c.resources.limits['nvidia.com/gpu'])) <= {max_gpus})"),
         "message": f"a container may ask for at most {max_gpus} nvidia.com/gpu in stack "
                    f"{stack}"},
    ]


GPUS_PER_REPLICA = 1  # what a workload without gpusPerReplica gets


def stack_admission(stack: str, spec: Mapping[str, Any]) -> list[dict[str, Any]]:
    """The documents for a Stack's `spec` as the governed repo writes it: its namespace, and
    the most GPUs any of its workloads gives a replica."""
    max_gpus = max((int(w.get("gpusPerReplica", GPUS_PER_REPLICA))
                    for w in spec.get("workloads") or []), default=0)
    return admission_documents(stack, str(spec["namespace"]), max_gpus)


def admission_documents(stack: str, namespace: str, max_gpus: int) -> list[dict[str, Any]]:
    """The policy and its binding (cluster-scoped; named after the stack)."""
    name = f"govops-{stack}"
    policy = {
        "apiVersion": "admissionregistration.k8s.io/v1", "kind": "ValidatingAdmissionPolicy",
        "metadata": {"name": name, "labels": {"app.kubernetes.io/managed-by": "govops",
                                              "govops.dev/stack": stack}},
        "spec": {"failurePolicy": "Fail",
                 "matchConstraints": {"resourceRules": _rules()},
                 "variables": [{"name": "spec", "expression": POD_SPEC},
                               {"name": "meta", "expression": POD_META},
                               {"name": "containers", "expression": CONTAINERS}],
                 "validations": _validations(stack, max_gpus)},
    }
    binding = {
        "apiVersion": "admissionregistration.k8s.io/v1",
        "kind": "ValidatingAdmissionPolicyBinding",
        "metadata": {"name": name, "labels": {"app.kubernetes.io/managed-by": "govops",
                                              "govops.dev/stack": stack}},
        "spec": {"policyName": name, "validationActions": ["Deny"],
                 "matchResources": {"namespaceSelector": {"matchLabels": {
                     "kubernetes.io/metadata.name": namespace}}}},
    }
    return [policy, binding]
