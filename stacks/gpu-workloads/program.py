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

Secure by default, so the manifests pass the restricted Pod Security Standard and conftest's
Kubernetes example (deny.rego, labels.rego) as they are:
- the workloads' Namespace enforces `restricted`, pinned to POD_SECURITY_VERSION (and warns and
  audits at `latest`, so a cluster upgrade that tightens the profile shows before it bites);
- every pod runs as a non-root user with the runtime's default seccomp profile, and every
  container without privilege escalation, without any capability and on a read-only root
  filesystem; a workload may name its own user, group and fsGroup (never user 0: the catalog
  refuses it with the line) and opt out of the read-only root with
  `securityContext.readOnlyRootFilesystem: false`. Whatever it sets, it keeps a writable /tmp
  and a writable HOME (emptyDir volumes), where inference servers keep their caches;
- Deployments, Jobs, Services and PodDisruptionBudgets, and the pod templates, carry the six
  recommended `app.kubernetes.io/` labels (see _recommended), every value a valid label value;
  a Deployment selects its pods by `app` and `release` besides govops's own two labels.

It must stay a pure function of the spec: no git, no clock, no environment, no network.
`spec` is an engine.deploy.spec.StackSpec (or anything with the same attributes).
"""

from __future__ import annotations

import hashlib
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
_HEX = re.compile(r"[0-9a-f]+")
# The user (and, unless the workload says otherwise, group and fsGroup) every pod runs as:
# 1000 is the first id `useradd` hands out on Debian and Ubuntu, the bases of the CUDA, PyTorch
# and vLLM images, so an image that ships one non-root user most likely ships it as 1000
# (Ubuntu 24.04's own `ubuntu` user is 1000); it lies above the system accounts (0-999), so
# it is no daemon of the image; and the NVIDIA device nodes are world read-write, so it reaches
# the GPUs. Many such images declare USER root, which `runAsNonRoot` alone would make the
# kubelet refuse to start: a numeric user here is what lets them run.
DEFAULT_ID = 1000
SCRATCH_DIR = "/tmp"
HOME_DIR = "/home/govops"  # HOME, unless the workload sets it: ~/.cache, ~/.config, ~/.triton
# The restricted profile as Kubernetes 1.30 (the oldest version govops deploys to: its
# ValidatingAdmissionPolicy is v1 from 1.30) defines it, so a cluster upgrade never tightens
# what is enforced without a new govops revision.
POD_SECURITY_VERSION = "v1.30"
POD_SECURITY = {
    "pod-security.kubernetes.io/enforce": "restricted",
    "pod-security.kubernetes.io/enforce-version": POD_SECURITY_VERSION,
    "pod-security.kubernetes.io/warn": "restricted",
    "pod-security.kubernetes.io/warn-version": "latest",
    "pod-security.kubernetes.io/audit": "restricted",
    "pod-security.kubernetes.io/audit-version": "latest",
}
SHORT_DIGEST = 12  # hex digits of a model digest in app.kubernetes.io/version
JOB_ACCEPTED = "jsonpath={.metadata.uid}"  # a Job is awaited until the API server holds it


def label_value_ok(value: str) -> bool:
    """Whether Kubernetes accepts `value` as a label value (else it goes in an annotation)."""
    return len(value) <= 63 and bool(_LABEL_VALUE.match(value))


def label_safe(value: str) -> str:
    """`value` itself when it is a valid label value, else one that still names it: its first
    50 characters (any a label cannot hold as `-`) and the first 12 hex digits of its sha256,
    so two long names that begin alike stay apart, and the same name always gives the same."""
    if label_value_ok(value):
        return value
    head = re.sub(r"[^A-Za-z0-9_.-]", "-", value)[:50].strip("-_.")
    tail = hashlib.sha256(value.encode()).hexdigest()[:SHORT_DIGEST]
    return f"{head}-{tail}" if head else tail


def model_version(digest: str) -> str:
    """The model's digest as a label value: its first 12 hex digits (as `docker images` and
    `git log --oneline` shorten theirs), which `sha256:...` itself cannot be (a `:`, and 71
    characters). A digest of another form (MDL-001 fails it) is made label-safe, and an empty
    one is `unknown`, so the label is never empty."""
    hexdigits = digest.partition(":")[2][:SHORT_DIGEST]
    if len(hexdigits) == SHORT_DIGEST and _HEX.fullmatch(hexdigits):
        return hexdigits
    return label_safe(digest) or "unknown"


def _recommended(spec: Any, workload: Any) -> dict[str, str]:
    """Kubernetes' recommended labels, with the values a platform engineer looks for:
    `name` the workload, `instance` the workload in this stack (`<stack>-<workload>`, unique in
    a cluster where two stacks run a `chat`), `component` its kind (inference or training),
    `part-of` the stack (set on every object, see _labels) and `managed-by` govops. `version`
    is what the workload runs: the model (the short form of its digest), since the model is
    what a revision of an inference or training workload changes and what the AIBOM and the
    ledger name it by; the image is in the `govops.dev/image` annotation. It is stable: the
    same model keeps the same version across revisions, so it never restarts pods by itself."""
    return {
        "app.kubernetes.io/name": label_safe(workload.name),
        "app.kubernetes.io/instance": label_safe(f"{spec.name}-{workload.name}"),
        "app.kubernetes.io/component": workload.kind,
        "app.kubernetes.io/version": model_version(workload.model_digest),
    }


def _labels(spec: Any, workload: Any | None = None) -> dict[str, str]:
    labels = {
        "app.kubernetes.io/managed-by": "govops",
        "app.kubernetes.io/part-of": label_safe(spec.name),
        "govops.dev/stack": spec.name,
    }
    if workload is not None:
        labels.update(_recommended(spec, workload))
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
    return k8s.meta.v1.ObjectMetaArgs(labels={**labels, **_pod_selector(spec, workload)},
                                      annotations=notes)


def _selector(spec: Any, workload: Any) -> dict[str, str]:
    """How a Service and a PodDisruptionBudget find the workload's pods: govops's own labels."""
    return {"govops.dev/stack": spec.name, "govops.dev/workload": workload.name}


def _pod_selector(spec: Any, workload: Any) -> dict[str, str]:
    """A Deployment's selector, which Kubernetes never lets change: govops's labels and the
    `app` (the workload) and `release` (the stack) that conftest's example policy and many
    dashboards select by. The Service and PDB keep _selector: the same pods, and no reason to
    replace a PodDisruptionBudget (whose spec the provider can only replace)."""
    return {**_selector(spec, workload), "app": label_safe(workload.name),
            "release": label_safe(spec.name)}


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
    if not _sets_home(container):  # before the workload's, which may refer to $(HOME)
        env.append(k8s.core.v1.EnvVarArgs(name="HOME", value=HOME_DIR))
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


def _sets_home(container: dict[str, Any]) -> bool:
    return any(entry["name"] == "HOME" for entry in container.get("env") or [])


def _volumes(container: dict[str, Any]) -> tuple[list[k8s.core.v1.VolumeArgs],
                                                  list[k8s.core.v1.VolumeMountArgs]]:
    """Model caches (an existing claim, or an ephemeral volume made with each pod), a
    memory-backed /dev/shm of the asked size (NCCL and PyTorch's data loaders need more than
    the container runtime's 64 MB), and the scratch space a read-only root filesystem leaves
    out: an emptyDir at /tmp and one at HOME_DIR (Hugging Face, vLLM, Triton and CUDA's JIT
    cache all write under HOME), each unless the workload mounts its own volume there (or,
    for HOME, sets HOME itself). They count towards the pod's ephemeral storage, as the
    container's writable layer would."""
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
    taken = {str(wanted["mountPath"]).rstrip("/") for wanted in container.get("volumes") or []}
    scratch = [("govops-tmp", SCRATCH_DIR)]
    scratch += [] if _sets_home(container) else [("govops-home", HOME_DIR)]
    for name, path in scratch:
        if path not in taken:
            volumes.append(k8s.core.v1.VolumeArgs(
                name=name, empty_dir=k8s.core.v1.EmptyDirVolumeSourceArgs()))
            mounts.append(k8s.core.v1.VolumeMountArgs(name=name, mount_path=path))
    return volumes, mounts


def _identity(container: dict[str, Any]) -> tuple[int, int, int]:
    """(user, group, fsGroup): DEFAULT_ID unless the workload names its own; a group left out
    follows the user, and fsGroup the group, so `runAsUser: 1001` alone runs as 1001:1001."""
    wanted = container.get("securityContext") or {}
    user = int(wanted.get("runAsUser", DEFAULT_ID))
    group = int(wanted.get("runAsGroup", user))
    return user, group, int(wanted.get("fsGroup", group))


def _pod_security(container: dict[str, Any]) -> k8s.core.v1.PodSecurityContextArgs:
    """Non-root under a numeric user (see DEFAULT_ID), the runtime's default seccomp profile.
    `OnRootMismatch`: the kubelet changes a volume's owner to fsGroup only when its root
    directory is not already right, instead of walking every file of a model cache of
    hundreds of gigabytes at each pod start."""
    user, group, fs_group = _identity(container)
    return k8s.core.v1.PodSecurityContextArgs(
        run_as_non_root=True, run_as_user=user, run_as_group=group, fs_group=fs_group,
        fs_group_change_policy="OnRootMismatch",
        seccomp_profile=k8s.core.v1.SeccompProfileArgs(type="RuntimeDefault"))


def _container_security(container: dict[str, Any]) -> k8s.core.v1.SecurityContextArgs:
    """No privilege, no escalation, no capability (an inference server binds to an
    unprivileged port); a read-only root filesystem unless the workload opts out."""
    wanted = container.get("securityContext") or {}
    return k8s.core.v1.SecurityContextArgs(
        allow_privilege_escalation=False, privileged=False,
        capabilities=k8s.core.v1.CapabilitiesArgs(drop=["ALL"]),
        read_only_root_filesystem=bool(wanted.get("readOnlyRootFilesystem", True)))


def _pod(spec: Any, workload: Any, container: dict[str, Any],
         restart: str) -> k8s.core.v1.PodTemplateSpecArgs:
    ports = _ports(workload, container)
    volumes, mounts = _volumes(container)
    return k8s.core.v1.PodTemplateSpecArgs(
        metadata=_pod_metadata(spec, workload),
        spec=k8s.core.v1.PodSpecArgs(
            restart_policy=restart,
            security_context=_pod_security(container),
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
                security_context=_container_security(container),
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
            selector=k8s.meta.v1.LabelSelectorArgs(match_labels=_pod_selector(spec, workload)),
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
    it at its timeout). The provider's own wait is replaced by JOB_ACCEPTED rather than
    skipped: `pulumi.com/skipAwait` would also skip waiting for the Job's deletion (the
    provider keeps that for Jobs, pulumi-kubernetes issues 1232 and 3154), and a Job whose
    template changes is replaced (deleted, then created under the same name), so the new Job
    raced the old one's deletion and was refused as "field is immutable"."""
    k8s.batch.v1.Job(
        f"{spec.name}-{workload.name}-job", opts=opts,
        metadata=_meta(spec, workload.name, workload, {"pulumi.com/waitFor": JOB_ACCEPTED}),
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
        metadata=k8s.meta.v1.ObjectMetaArgs(name=spec.namespace,
                                            labels={**_labels(spec), **POD_SECURITY},
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
