"""Why a rollout the engine gave up on is stuck, in the cluster's own words.

When a Deployment cannot create its pods (the namespace's GPU ResourceQuota refuses them, the
admission policy does), the provider waits until its timeout and then reports only that the
minimum number of pods was not attained: the reason is in the Deployment's `ReplicaFailure`
condition, which the provider does not read, or, when the pods exist but no node can take them
(every GPU of the product in use), in their `PodScheduled` condition. After a failed `up`,
govops reads both for the plan's Deployments, so the one line the user gets says "exceeded
quota" or "Insufficient nvidia.com/gpu", and by how much.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from engine.deploy.manifests import Manifest
from engine.deploy.readback import cluster_client


def stuck_rollouts(manifests: Sequence[Manifest], context: str,
                   kubeconfig: str | None = None) -> list[str]:
    """`Deployment NS/NAME: <why>` for each planned Deployment whose pods could not be made or
    placed. Never raises: a cluster that cannot be read adds nothing to the error being
    reported."""
    deployments = [(m.namespace, m.name, _selector(m.doc)) for m in manifests
                   if m.kind == "Deployment" and m.namespace]
    if not deployments:
        return []
    try:
        from kubernetes.client import AppsV1Api, CoreV1Api

        api = cluster_client(context, kubeconfig)
        apps, core = AppsV1Api(api), CoreV1Api(api)
        found = []
        for namespace, name, selector in deployments:
            why = (_replica_failure(apps, namespace, name)
                   or _unschedulable(core, namespace, selector))
            if why:
                found.append(f"Deployment {namespace}/{name}: {' '.join(why.split())}")
        return found
    except Exception:  # whatever stops the diagnosis, the engine's own error stands
        return []


def _selector(doc: Mapping[str, Any]) -> str:
    labels = ((doc.get("spec") or {}).get("selector") or {}).get("matchLabels") or {}
    return ",".join(f"{k}={v}" for k, v in sorted(labels.items()))


def _replica_failure(apps: Any, namespace: str, name: str) -> str | None:
    """Pods the ReplicaSet could not create (a quota, an admission policy refused them)."""
    live = apps.read_namespaced_deployment_status(name, namespace)
    for condition in (live.status.conditions or []) if live.status else []:
        if condition.type == "ReplicaFailure" and condition.status == "True":
            return str(condition.message)
    return None


def _unschedulable(core: Any, namespace: str, selector: str) -> str | None:
    """A pod no node can take (no GPU of its product left, a taint it does not tolerate)."""
    if not selector:
        return None
    for pod in core.list_namespaced_pod(namespace, label_selector=selector).items:
        for condition in (pod.status.conditions or []) if pod.status else []:
            if (condition.type == "PodScheduled" and condition.status == "False"
                    and condition.reason == "Unschedulable"):
                return f"pod {pod.metadata.name} cannot be scheduled: {condition.message}"
    return None
