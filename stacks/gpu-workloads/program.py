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


def _ports(workload: Any, container: dict[str, Any]) -> list[dict[str, Any]]:
    """The container's ports: as declared, else `http` on SERVE_PORT for inference."""
    declared = container.get("ports")
    if declared:
        return list(declared)
    return [{"name": "http", "port": SERVE_PORT}] if workload.kind == "inference" else []


def _env(workload: Any, container: dict[str, Any]) -> list[k8s.core.v1.EnvVarArgs]:
    """govops's own variables first, then the workload's: plain values, or references to a
    Secret (never a secret's value: the catalog refuses one)."""
    env = [k8s.core.v1.EnvVarArgs(name="GOVOPS_MODEL", value=workload.model),
           k8s.core.v1.EnvVarArgs(name="GOVOPS_MODEL_DIGEST", value=workload.model_digest)]
    for entry in container.get("env") or []:
        ref = entry.get("secretRef")
        env.append(k8s.core.v1.EnvVarArgs(name=entry["name"], value=entry.get("value"),
                   value_from=None if ref is None else k8s.core.v1.EnvVarSourceArgs(
                       secret_key_ref=k8s.core.v1.SecretKeySelectorArgs(name=ref["name"],
                                                                        key=ref["key"]))))
    return env


def _resources(workload: Any, container: dict[str, Any]) -> k8s.core.v1.ResourceRequirementsArgs:
    """GPUs requested and limited alike; CPU requested only (a CPU limit throttles the
    tokenizer and the scheduler loop of an inference server); memory and ephemeral storage
    requested and limited alike, so the pod is never killed for using what it asked for."""
    gpus = str(workload.gpus_per_replica)
    wanted = container.get("resources") or {}
    requests = {GPU: gpus}
    limits = {GPU: gpus}
    if "cpu" in wanted:
        requests["cpu"] = str(wanted["cpu"])
    for field, name in (("memory", "memory"), ("ephemeralStorage", "ephemeral-storage")):
        if field in wanted:
            requests[name] = limits[name] = str(wanted[field])
    return k8s.core.v1.ResourceRequirementsArgs(limits=limits, requests=requests)


def _probe(wanted: dict[str, Any] | None, ports: list[dict[str, Any]]
           ) -> k8s.core.v1.ProbeArgs | None:
    if wanted is None:
        return None
    return k8s.core.v1.ProbeArgs(
        http_get=k8s.core.v1.HTTPGetActionArgs(path=wanted["path"],
                                               port=wanted.get("port", ports[0]["name"])),
        initial_delay_seconds=wanted.get("initialDelaySeconds"),
        period_seconds=wanted.get("periodSeconds"),
        timeout_seconds=wanted.get("timeoutSeconds"),
        failure_threshold=wanted.get("failureThreshold"))


def _volumes(container: dict[str, Any]) -> tuple[list[k8s.core.v1.VolumeArgs],
                                                  list[k8s.core.v1.VolumeMountArgs]]:
    """Model caches (an existing claim, or an ephemeral volume made with each pod) and a
    memory-backed /dev/shm of the asked size (NCCL and PyTorch's data loaders need more than
    the container runtime's 64 MB)."""
    volumes, mounts = [], []
    for wanted in container.get("volumes") or []:
        claim, ephemeral = wanted.get("claim"), wanted.get("ephemeral")
        volumes.append(k8s.core.v1.VolumeArgs(
            name=wanted["name"],
            persistent_volume_claim=None if claim is None else
            k8s.core.v1.PersistentVolumeClaimVolumeSourceArgs(
                claim_name=claim, read_only=wanted.get("readOnly")),
            ephemeral=None if ephemeral is None else k8s.core.v1.EphemeralVolumeSourceArgs(
                volume_claim_template=k8s.core.v1.PersistentVolumeClaimTemplateArgs(
                    spec=k8s.core.v1.PersistentVolumeClaimSpecArgs(
                        access_modes=["ReadWriteOnce"],
                        storage_class_name=ephemeral.get("storageClass"),
                        resources=k8s.core.v1.VolumeResourceRequirementsArgs(
                            requests={"storage": str(ephemeral["size"])}))))))
        mounts.append(k8s.core.v1.VolumeMountArgs(name=wanted["name"],
                                                  mount_path=wanted["mountPath"],
                                                  read_only=wanted.get("readOnly")))
    if "shm" in container:
        volumes.append(k8s.core.v1.VolumeArgs(
            name="dshm", empty_dir=k8s.core.v1.EmptyDirVolumeSourceArgs(
                medium="Memory", size_limit=str(container["shm"]))))
        mounts.append(k8s.core.v1.VolumeMountArgs(name="dshm", mount_path="/dev/shm"))
    return volumes, mounts


def _pod(spec: Any, workload: Any, container: dict[str, Any],
         restart: str) -> k8s.core.v1.PodTemplateSpecArgs:
    ports = _ports(workload, container)
    volumes, mounts = _volumes(container)
    return k8s.core.v1.PodTemplateSpecArgs(
        metadata=_pod_metadata(spec, workload),
        spec=k8s.core.v1.PodSpecArgs(
            restart_policy=restart,
            node_selector={PRODUCT_LABEL: spec.gpu_product},
            tolerations=[k8s.core.v1.TolerationArgs(key=GPU, operator="Exists",
                                                    effect="NoSchedule")],
            volumes=volumes or None,
            containers=[k8s.core.v1.ContainerArgs(
                name=workload.name,
                image=workload.image,
                command=container.get("command"),
                args=container.get("args"),
                ports=[k8s.core.v1.ContainerPortArgs(name=p["name"], container_port=p["port"])
                       for p in ports] or None,
                env=_env(workload, container),
                resources=_resources(workload, container),
                readiness_probe=_probe(container.get("readiness"), ports),
                liveness_probe=_probe(container.get("liveness"), ports),
                startup_probe=_probe(container.get("startup"), ports),
                volume_mounts=mounts or None,
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
    container = json.loads(workload.container)
    k8s.apps.v1.Deployment(
        f"{base}-deployment", opts=opts,
        metadata=_meta(spec, workload.name, workload,
                       {"pulumi.com/timeoutSeconds": str(spec.rollout_timeout)}),
        spec=k8s.apps.v1.DeploymentSpecArgs(
            replicas=workload.replicas,
            progress_deadline_seconds=spec.rollout_timeout,
            selector=k8s.meta.v1.LabelSelectorArgs(match_labels=_selector(spec, workload)),
            template=_pod(spec, workload, container, "Always"),
        ))
    declared = container.get("ports")
    ports = ([k8s.core.v1.ServicePortArgs(name=p["name"], port=p["port"], target_port=p["name"],
                                          protocol="TCP") for p in declared] if declared else
             [k8s.core.v1.ServicePortArgs(name="http", port=80, target_port="http",
                                          protocol="TCP")])
    k8s.core.v1.Service(
        f"{base}-service", opts=opts,
        metadata=_meta(spec, workload.name, workload),
        spec=k8s.core.v1.ServiceSpecArgs(selector=_selector(spec, workload), ports=ports))
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
            template=_pod(spec, workload, json.loads(workload.container), "Never"),
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
        # a chart committed in the repo is installed from the workspace copy govops wrote
        # (named by its content); otherwise Helm fetches the pinned version from the repository
        chart=wanted.local_chart or wanted.chart,
        version=wanted.version,
        repository_opts=None if wanted.local_chart else k8s.helm.v3.RepositoryOptsArgs(
            repo=wanted.repository),
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
