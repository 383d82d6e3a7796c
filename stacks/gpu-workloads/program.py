"""The gpu-workloads Pulumi program: one govops Stack as Kubernetes objects.

`program(spec)` registers, through one explicit Provider bound to the stack's cluster context:
a Namespace; a ResourceQuota capping `requests.nvidia.com/gpu`; per inference workload a
Deployment and a Service (plus a PodDisruptionBudget when the stack is `tier: production`); per
training workload a Job; the stack's admission policy (a ValidatingAdmissionPolicy and its
binding, which every workload waits for, so nothing reaches the namespace around govops once
govops has deployed to it); and, when the stack asks for it (`spec.gpu.operator`), the NVIDIA GPU
operator as a Helm release pinned to one chart version, in its own privileged namespace, which
every workload waits for (pods that request `nvidia.com/gpu` stay Pending until its device
plugin runs). Every object has an explicit `metadata.name` derived from the stack and
workload names, GPU limits, a node selector on `nvidia.com/gpu.product`, the `nvidia.com/gpu`
NoSchedule toleration, the environment's image by digest, and labels/annotations carrying the
model digest, the decision id and the AIBOM serial number (pod templates carry only the model
digest and image, so a revision that leaves a workload alone does not restart it).
A Deployment's rollout is given `spec.rollout.timeoutSeconds` (the provider's await and the
progress deadline); a Job is not awaited beyond its creation.

It must stay a pure function of the spec: no git, no clock, no environment, no network.
`spec` is an engine.deploy.spec.StackSpec (or anything with the same attributes).
"""

from __future__ import annotations

import json
import re
from typing import Any

import pulumi
import pulumi_kubernetes as k8s

GPU = "nvidia.com/gpu"
PRODUCT_LABEL = "nvidia.com/gpu.product"
SERVE_PORT = 8000
OPERATOR_RELEASE = "gpu-operator"
OPERATOR_TIMEOUT = 900  # seconds: the driver container alone can take minutes per node
OPERATOR_HISTORY = 10
_LABEL_VALUE = re.compile(r"^(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?$")


def label_value_ok(value: str) -> bool:
    """Whether Kubernetes accepts `value` as a label value (else it goes in an annotation)."""
    return len(value) <= 63 and bool(_LABEL_VALUE.match(value))


def _labels(spec: Any, workload: Any | None = None) -> dict[str, str]:
    labels = {
        "app.kubernetes.io/managed-by": "govops",
        "app.kubernetes.io/part-of": spec.name,
        "govops.dev/stack": spec.name,
    }
    if workload is not None:
        labels["app.kubernetes.io/name"] = workload.name
        labels["govops.dev/workload"] = workload.name
        labels["govops.dev/model"] = workload.model
        labels["govops.dev/environment"] = workload.environment
    optional = {"govops.dev/aibom-serial": spec.aibom_serial.removeprefix("urn:uuid:")}
    if workload is not None:
        optional["govops.dev/model-digest"] = workload.model_digest
    optional["govops.dev/decision-id"] = spec.decision_id
    labels.update({k: v for k, v in optional.items() if label_value_ok(v)})
    return labels


def _annotations(spec: Any, workload: Any | None = None) -> dict[str, str]:
    notes = {
        "govops.dev/revision": spec.revision,
        "govops.dev/decision-id": spec.decision_id,
        "govops.dev/aibom-serial": spec.aibom_serial,
    }
    if workload is not None:
        notes["govops.dev/model-digest"] = workload.model_digest
        notes["govops.dev/image"] = workload.image
    return notes


def _pod_metadata(spec: Any, workload: Any) -> k8s.meta.v1.ObjectMetaArgs:
    """Only what the pods depend on: a new revision that leaves a workload alone must not
    restart its pods (nor replace its Job, whose template is immutable)."""
    labels = {k: v for k, v in _labels(spec, workload).items()
              if k not in ("govops.dev/aibom-serial", "govops.dev/decision-id")}
    notes = {"govops.dev/model-digest": workload.model_digest, "govops.dev/image": workload.image}
    return k8s.meta.v1.ObjectMetaArgs(labels={**labels, **_selector(spec, workload)},
                                      annotations=notes)


def _selector(spec: Any, workload: Any) -> dict[str, str]:
    return {"govops.dev/stack": spec.name, "govops.dev/workload": workload.name}


def _pod(spec: Any, workload: Any, restart: str) -> k8s.core.v1.PodTemplateSpecArgs:
    gpus = str(workload.gpus_per_replica)
    ports = ([k8s.core.v1.ContainerPortArgs(name="http", container_port=SERVE_PORT)]
             if workload.kind == "inference" else None)
    return k8s.core.v1.PodTemplateSpecArgs(
        metadata=_pod_metadata(spec, workload),
        spec=k8s.core.v1.PodSpecArgs(
            restart_policy=restart,
            node_selector={PRODUCT_LABEL: spec.gpu_product},
            tolerations=[k8s.core.v1.TolerationArgs(key=GPU, operator="Exists",
                                                    effect="NoSchedule")],
            containers=[k8s.core.v1.ContainerArgs(
                name=workload.name,
                image=workload.image,
                ports=ports,
                env=[k8s.core.v1.EnvVarArgs(name="GOVOPS_MODEL", value=workload.model),
                     k8s.core.v1.EnvVarArgs(name="GOVOPS_MODEL_DIGEST",
                                            value=workload.model_digest)],
                resources=k8s.core.v1.ResourceRequirementsArgs(
                    limits={GPU: gpus}, requests={GPU: gpus}),
            )],
        ),
    )


def _meta(spec: Any, name: str, workload: Any | None = None,
          engine: dict[str, str] | None = None) -> k8s.meta.v1.ObjectMetaArgs:
    """`engine`: the provider's own `pulumi.com/` annotations (how it awaits the object)."""
    return k8s.meta.v1.ObjectMetaArgs(name=name, namespace=spec.namespace,
                                      labels=_labels(spec, workload),
                                      annotations={**_annotations(spec, workload),
                                                   **(engine or {})})


def _inference(spec: Any, workload: Any, opts: pulumi.ResourceOptions) -> None:
    base = f"{spec.name}-{workload.name}"
    k8s.apps.v1.Deployment(
        f"{base}-deployment", opts=opts,
        metadata=_meta(spec, workload.name, workload,
                       {"pulumi.com/timeoutSeconds": str(spec.rollout_timeout)}),
        spec=k8s.apps.v1.DeploymentSpecArgs(
            replicas=workload.replicas,
            progress_deadline_seconds=spec.rollout_timeout,
            selector=k8s.meta.v1.LabelSelectorArgs(match_labels=_selector(spec, workload)),
            template=_pod(spec, workload, "Always"),
        ))
    k8s.core.v1.Service(
        f"{base}-service", opts=opts,
        metadata=_meta(spec, workload.name, workload),
        spec=k8s.core.v1.ServiceSpecArgs(
            selector=_selector(spec, workload),
            ports=[k8s.core.v1.ServicePortArgs(name="http", port=80, target_port="http",
                                               protocol="TCP")],
        ))
    if spec.tier == "production":
        k8s.policy.v1.PodDisruptionBudget(
            f"{base}-pdb", opts=opts,
            metadata=_meta(spec, workload.name, workload),
            spec=k8s.policy.v1.PodDisruptionBudgetSpecArgs(
                max_unavailable=1,
                selector=k8s.meta.v1.LabelSelectorArgs(match_labels=_selector(spec, workload)),
            ))


def _training(spec: Any, workload: Any, opts: pulumi.ResourceOptions) -> None:
    """A training run lasts hours or days: apply waits for the Job to be accepted, not for it
    to finish (the provider would otherwise hold the apply until the Job completes, and fail
    it at its timeout)."""
    k8s.batch.v1.Job(
        f"{spec.name}-{workload.name}-job", opts=opts,
        metadata=_meta(spec, workload.name, workload, {"pulumi.com/skipAwait": "true"}),
        spec=k8s.batch.v1.JobSpecArgs(
            parallelism=workload.replicas,
            completions=workload.replicas,
            backoff_limit=0,
            template=_pod(spec, workload, "Never"),
        ))


def _gpu_operator(spec: Any, provider: k8s.Provider) -> k8s.helm.v3.Release | None:
    """The pinned operator release. Its inputs never carry the revision or decision id, so a
    new revision does not upgrade the release; only a new version or values do."""
    wanted = spec.gpu_operator
    if wanted is None:
        return None
    namespace = k8s.core.v1.Namespace(
        f"{spec.name}-gpu-operator-namespace", opts=pulumi.ResourceOptions(provider=provider),
        metadata=k8s.meta.v1.ObjectMetaArgs(
            name=wanted.namespace,
            labels={**_labels(spec), "pod-security.kubernetes.io/enforce": "privileged"},
            annotations=_annotations(spec)))
    return k8s.helm.v3.Release(
        f"{spec.name}-gpu-operator",
        opts=pulumi.ResourceOptions(provider=provider, depends_on=[namespace]),
        name=OPERATOR_RELEASE,
        chart=wanted.chart,
        version=wanted.version,
        repository_opts=k8s.helm.v3.RepositoryOptsArgs(repo=wanted.repository),
        namespace=wanted.namespace,
        create_namespace=False,
        values=json.loads(wanted.values),
        atomic=True,
        cleanup_on_fail=True,
        timeout=OPERATOR_TIMEOUT,
        max_history=OPERATOR_HISTORY)


def _admission(spec: Any, provider: k8s.Provider) -> list[pulumi.Resource]:
    """The stack's admission policy and its binding, exactly as govops wrote them into the
    spec (camelCase keys pass through the SDK unchanged). The binding waits for the policy, so
    the API server never holds a binding to a policy it does not know."""
    policy, binding = json.loads(spec.admission)
    made = k8s.admissionregistration.v1.ValidatingAdmissionPolicy(
        f"{spec.name}-admission-policy", opts=pulumi.ResourceOptions(provider=provider),
        metadata=policy["metadata"], spec=policy["spec"])
    bound = k8s.admissionregistration.v1.ValidatingAdmissionPolicyBinding(
        f"{spec.name}-admission-binding",
        opts=pulumi.ResourceOptions(provider=provider, depends_on=[made]),
        metadata=binding["metadata"], spec=binding["spec"])
    return [made, bound]


def program(spec: Any) -> None:
    provider = k8s.Provider(f"{spec.name}-{spec.cluster_name}", context=spec.cluster_context)
    namespace = k8s.core.v1.Namespace(
        f"{spec.name}-namespace", opts=pulumi.ResourceOptions(provider=provider),
        metadata=k8s.meta.v1.ObjectMetaArgs(name=spec.namespace, labels=_labels(spec),
                                            annotations=_annotations(spec)))
    operator = _gpu_operator(spec, provider)
    waits: list[pulumi.Resource] = [namespace, *_admission(spec, provider)]
    waits += [operator] if operator is not None else []
    quota = k8s.core.v1.ResourceQuota(
        f"{spec.name}-gpu-quota", opts=pulumi.ResourceOptions(provider=provider, depends_on=waits),
        metadata=_meta(spec, f"{spec.name}-gpu-quota"),
        spec=k8s.core.v1.ResourceQuotaSpecArgs(hard={f"requests.{GPU}": str(spec.gpu_quota)}))
    # Pods created before the quota is in force escape it: every workload waits for it (the
    # provider awaits a ResourceQuota until the quota controller has counted the namespace).
    opts = pulumi.ResourceOptions(provider=provider, depends_on=[*waits, quota])
    for workload in spec.workloads:
        if workload.kind == "training":
            _training(spec, workload, opts)
        else:
            _inference(spec, workload, opts)
