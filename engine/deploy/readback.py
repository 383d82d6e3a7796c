"""Read a deployment back from the API server: what actually runs, not what Pulumi reported.

After `up`, every object of the plan is fetched again (the same kubeconfig and context the
provider used) and compared with its manifest on the fields govops sets (engine.deploy.live).
The live digest is the manifests digest computed over the live objects cut down to those
fields, so it equals the approved `manifestsDigest` exactly when the cluster holds what was
approved, and an auditor can compare the two numbers without the cluster. The cluster is named
by what a kubeconfig cannot fake without the CA's key: its API server URL, the sha256 of the CA
certificate the connection was verified with, and the version it reports.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from engine.deploy.helm_live import HelmReadFailed, as_manifest, deployed_release
from engine.deploy.live import owned_differences
from engine.deploy.manifests import Manifest, digest_of, dump
from engine.errors import GovopsError


class ReadBackFailed(GovopsError):
    """The cluster could not be read back (unreachable, refused, an unknown kind)."""


@dataclass(frozen=True)
class ClusterIdentity:
    server: str
    ca_sha256: str | None  # of the CA certificate (DER) the kubeconfig trusts; None: system CAs
    version: str  # the API server's gitVersion

    def as_json(self) -> dict[str, Any]:
        return {"server": self.server, "caSha256": self.ca_sha256, "version": self.version}


@dataclass(frozen=True)
class LiveState:
    digest: str  # engine.deploy.manifests.digest_of over the live objects' owned fields
    differences: tuple[tuple[str, tuple[str, ...]], ...]  # (file, what differs), in file order
    cluster: ClusterIdentity
    # Objects labelled as the stack's, of the kinds and namespaces it deploys, that no
    # manifest names: made beside govops (`Kind namespace/name`).
    added: tuple[str, ...] = ()

    @property
    def matches(self) -> bool:
        return not self.differences and not self.added

    def as_json(self) -> dict[str, Any]:
        return {"digest": self.digest, "matchesApproved": self.matches,
                "differences": {file: list(found) for file, found in self.differences},
                "added": list(self.added), "cluster": self.cluster.as_json()}


def owned_part(planned: Any, live: Any) -> Any:
    """`live` cut down to the shape of `planned`: the values govops set, as the cluster holds
    them (a value equal to the planned one in its text keeps the planned form, so an
    unchanged object dumps to the same bytes as its manifest)."""
    if isinstance(planned, Mapping):
        if not isinstance(live, Mapping):
            return live
        return {key: owned_part(value, live.get(key)) for key, value in planned.items()
                if key in live and live[key] is not None}
    if isinstance(planned, list):
        if not isinstance(live, list) or len(live) != len(planned):
            return live
        return [owned_part(want, have) for want, have in zip(planned, live, strict=True)]
    return planned if planned == live or str(planned) == str(live) else live


def _ca_sha256(configuration: Any) -> str | None:
    path = getattr(configuration, "ssl_ca_cert", None)
    if not path:
        return None
    from cryptography import x509
    from cryptography.hazmat.primitives.serialization import Encoding

    pem = Path(path).read_bytes()
    der = x509.load_pem_x509_certificate(pem).public_bytes(Encoding.DER)
    return "sha256:" + hashlib.sha256(der).hexdigest()


STACK_LABEL = "govops.dev/stack"
HELM_API, HELM_KIND = "helm.sh/v3", "Release"  # read from Helm's records (engine.deploy.helm_live)


def _added(dynamic: Any, manifests: Sequence[Manifest], stack: str) -> tuple[str, ...]:
    """Namespaced objects carrying the stack's label, of a kind and in a namespace the stack
    deploys to, that no manifest names."""
    planned = {(m.kind, m.namespace, m.name) for m in manifests}
    found = []
    for api_version, kind, namespace in sorted({(m.api_version, m.kind, m.namespace)
                                                 for m in manifests
                                                 if m.namespace and m.kind != HELM_KIND}):
        resource = dynamic.resources.get(api_version=api_version, kind=kind)
        listed = resource.get(namespace=namespace, label_selector=f"{STACK_LABEL}={stack}")
        for item in listed.items:
            name = item.metadata.name
            if (kind, namespace, name) not in planned and item.metadata.ownerReferences is None:
                found.append(f"{kind} {namespace}/{name}")
    return tuple(found)


def cluster_client(context: str, kubeconfig: str | None = None) -> Any:
    """A kubernetes ApiClient for `context` of the kubeconfig the provider reads (the first
    file in $KUBECONFIG, else ~/.kube/config), so govops looks at the cluster Pulumi changed.
    Raises the client's ConfigException or OSError for the caller to word."""
    from kubernetes import config

    path = kubeconfig or os.environ.get("KUBECONFIG", "").split(os.pathsep)[0] or None
    return config.new_client_from_config(  # type: ignore[no-untyped-call]
        config_file=path, context=context)


def read_back(manifests: Sequence[Manifest], context: str, stack: str | None = None,
              kubeconfig: str | None = None) -> LiveState:
    """The live state of `manifests` in the cluster of `context` (the kubeconfig in
    $KUBECONFIG or ~/.kube/config, as the provider reads it); with `stack`, also the objects
    labelled as the stack's that no manifest names."""
    try:
        from kubernetes import config
        from kubernetes.client import CoreV1Api, VersionApi
        from kubernetes.client.exceptions import ApiException
        from kubernetes.dynamic import DynamicClient
        from kubernetes.dynamic.exceptions import NotFoundError, ResourceNotFoundError
    except ImportError as exc:  # pragma: no cover - a dependency of govops
        raise ReadBackFailed(f"the kubernetes client is not installed: {exc}") from None
    try:
        api = cluster_client(context, kubeconfig)
        version = VersionApi(api).get_code().git_version
        dynamic = DynamicClient(api)  # type: ignore[no-untyped-call]
    except (config.ConfigException, ApiException, OSError) as exc:
        raise ReadBackFailed(f"cannot read the cluster of context {context!r} back: "
                             f"{str(exc).splitlines()[0]}") from None
    differences: list[tuple[str, tuple[str, ...]]] = []
    live_files: dict[str, bytes] = {}
    for manifest in manifests:
        try:
            if manifest.kind == HELM_KIND and manifest.api_version == HELM_API:
                release = deployed_release(CoreV1Api(api), manifest.name,
                                           manifest.namespace or "default")
                if release is None:
                    differences.append((manifest.file, ("missing from the cluster",)))
                    continue
                live = as_manifest(manifest.doc, release)
            else:
                resource = dynamic.resources.get(api_version=manifest.api_version,
                                                 kind=manifest.kind)
                live = resource.get(name=manifest.name, namespace=manifest.namespace).to_dict()
        except NotFoundError:
            differences.append((manifest.file, ("missing from the cluster",)))
            continue
        except (ResourceNotFoundError, ApiException, HelmReadFailed) as exc:
            raise ReadBackFailed(f"cannot read {manifest.kind} {manifest.name} back: "
                                 f"{str(exc).splitlines()[0]}") from None
        found = owned_differences(manifest.doc, live)
        if found:
            differences.append((manifest.file, tuple(found)))
        live_files[manifest.file] = dump(owned_part(manifest.doc, live))
    try:
        added = _added(dynamic, manifests, stack) if stack else ()
    except (ResourceNotFoundError, ApiException) as exc:
        raise ReadBackFailed(f"cannot list the stack's objects: {str(exc).splitlines()[0]}"
                             ) from None
    server = str(api.configuration.host)
    identity = ClusterIdentity(server, _ca_sha256(api.configuration), str(version))
    return LiveState(digest_of(live_files), tuple(differences), identity, added)


