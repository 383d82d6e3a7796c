"""Why a rollout the engine gave up on is stuck, in the cluster's own words.

When a Deployment cannot create its pods (the namespace's GPU ResourceQuota refuses them, the
admission policy does), the provider waits until its timeout and then reports only that the
minimum number of pods was not attained: the reason is in the Deployment's `ReplicaFailure`
condition, which the provider does not read. After a failed `up`, govops reads that condition
for the plan's Deployments, so the one line the user gets says "exceeded quota" and by how much.
"""

from __future__ import annotations

import os
from collections.abc import Sequence

from engine.deploy.manifests import Manifest


def stuck_rollouts(manifests: Sequence[Manifest], context: str,
                   kubeconfig: str | None = None) -> list[str]:
    """`Deployment NS/NAME: <message>` for each planned Deployment whose ReplicaFailure
    condition is true. Never raises: a cluster that cannot be read adds nothing to the error
    being reported."""
    deployments = [(m.namespace, m.name) for m in manifests
                   if m.kind == "Deployment" and m.namespace]
    if not deployments:
        return []
    try:
        from kubernetes import config
        from kubernetes.client import AppsV1Api

        path = kubeconfig or os.environ.get("KUBECONFIG", "").split(os.pathsep)[0] or None
        api = AppsV1Api(config.new_client_from_config(  # type: ignore[no-untyped-call]
            config_file=path, context=context))
        found = []
        for namespace, name in deployments:
            live = api.read_namespaced_deployment_status(name, namespace)
            for condition in (live.status.conditions or []) if live.status else []:
                if condition.type == "ReplicaFailure" and condition.status == "True":
                    found.append(f"Deployment {namespace}/{name}: "
                                 f"{' '.join(str(condition.message).split())}")
        return found
    except Exception:
        return []
