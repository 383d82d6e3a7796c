"""Whether a Gatekeeper constraint applies to an object: `spec.match` as Gatekeeper reads it.

kinds (apiGroups x kinds, `*` for any), scope (`*`, Cluster, Namespaced), namespaces and
excludedNamespaces (a trailing `*` is a prefix), name, labelSelector and namespaceSelector
(matchLabels and matchExpressions with In, NotIn, Exists, DoesNotExist). Namespace fields do not
restrict cluster-scoped objects other than Namespaces, which match by their own name and labels.
A namespaceSelector needs the namespace's labels: a rendered stack has its Namespace, and an
object whose namespace is not known does not match a namespaceSelector.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

CLUSTER_SCOPED = frozenset({"Namespace", "ValidatingAdmissionPolicy",
                            "ValidatingAdmissionPolicyBinding", "ClusterRole",
                            "ClusterRoleBinding", "CustomResourceDefinition",
                            "PersistentVolume", "StorageClass", "PriorityClass"})


def group_version_kind(obj: Mapping[str, Any]) -> tuple[str, str, str]:
    """(group, version, kind) of an object: `apps/v1` is (apps, v1), `v1` is ("", v1)."""
    api = str(obj.get("apiVersion") or "")
    group, _, version = api.rpartition("/")
    return group, version, str(obj.get("kind") or "")


def namespace_of(obj: Mapping[str, Any]) -> str | None:
    """The namespace a constraint sees the object in: a Namespace is its own."""
    metadata = obj.get("metadata") or {}
    if obj.get("kind") == "Namespace":
        return str(metadata.get("name") or "")
    if obj.get("kind") in CLUSTER_SCOPED:
        return None
    namespace = metadata.get("namespace")
    return str(namespace) if namespace else None


def matches(match: Mapping[str, Any], obj: Mapping[str, Any],
            namespace_labels: Mapping[str, Mapping[str, str]]) -> bool:
    """Whether a constraint with this `spec.match` judges `obj`; `namespace_labels` are the
    labels of the namespaces known (by name)."""
    group, _, kind = group_version_kind(obj)
    kinds = match.get("kinds")
    if kinds is not None and not any(_kind_matches(k, group, kind) for k in kinds):
        return False
    namespace = namespace_of(obj)
    scoped = obj.get("kind") not in CLUSTER_SCOPED
    scope = match.get("scope", "*")
    if (scope == "Cluster" and scoped) or (scope == "Namespaced" and not scoped):
        return False
    metadata = obj.get("metadata") or {}
    name = str(metadata.get("name") or "")
    if "name" in match and not _glob(str(match["name"]), name):
        return False
    if namespace is not None:
        wanted = match.get("namespaces")
        if wanted is not None and not any(_glob(str(p), namespace) for p in wanted):
            return False
        if any(_glob(str(p), namespace) for p in match.get("excludedNamespaces") or ()):
            return False
    if "labelSelector" in match and not selects(match["labelSelector"],
                                                metadata.get("labels") or {}):
        return False
    if "namespaceSelector" in match:
        if namespace is None:
            return obj.get("kind") in CLUSTER_SCOPED  # not restricted, as in Gatekeeper
        labels = namespace_labels.get(namespace)
        if labels is None or not selects(match["namespaceSelector"], labels):
            return False
    return True


def _kind_matches(entry: Any, group: str, kind: str) -> bool:
    if not isinstance(entry, Mapping):
        return False
    groups: Sequence[str] = entry.get("apiGroups") or ["*"]
    kinds: Sequence[str] = entry.get("kinds") or ["*"]
    return ("*" in groups or group in groups) and ("*" in kinds or kind in kinds)


def _glob(pattern: str, value: str) -> bool:
    """Gatekeeper's namespace and name patterns: exact, or a prefix ending in `*`."""
    if pattern.endswith("*"):
        return value.startswith(pattern[:-1])
    return pattern == value


def selects(selector: Any, labels: Mapping[str, Any]) -> bool:
    """A Kubernetes label selector against labels; an empty selector selects everything."""
    if not isinstance(selector, Mapping):
        return False
    for key, value in (selector.get("matchLabels") or {}).items():
        if labels.get(key) != value:
            return False
    for expression in selector.get("matchExpressions") or ():
        key = expression.get("key")
        operator = expression.get("operator")
        values = list(expression.get("values") or ())
        present = key in labels
        if operator == "In" and not (present and labels[key] in values):
            return False
        if operator == "NotIn" and present and labels[key] in values:
            return False
        if operator == "Exists" and not present:
            return False
        if operator == "DoesNotExist" and present:
            return False
        if operator not in ("In", "NotIn", "Exists", "DoesNotExist"):
            return False
    return True
