"""Read a Helm release back from the cluster, for the read-back that compares live with approved.

A `helm.sh/v3` Release is not an API object: Helm records each revision of a release in a Secret
of the release's namespace (`sh.helm.release.v1.<name>.v<revision>`, labels `owner=helm`,
`name`, `status`, `version`), its `release` data the release as base64 of gzipped JSON. The
deployed revision says which chart version runs and with which values: those two replace the
planned ones in the document compared with the manifest. The other inputs of the Release (the
chart's location, timeouts, history) are how Helm was driven, not what runs; Helm does not
record them, so they are compared as planned.
"""

from __future__ import annotations

import base64
import copy
import gzip
import json
from collections.abc import Mapping
from typing import Any

from engine.errors import GovopsError

GZIP_MAGIC = b"\x1f\x8b"


class HelmReadFailed(GovopsError):
    """The release's record could not be read or decoded."""


def deployed_release(core: Any, name: str, namespace: str) -> dict[str, Any] | None:
    """The deployed revision of release `name` as Helm recorded it (None: not installed)."""
    found = core.list_namespaced_secret(
        namespace, label_selector=f"owner=helm,name={name},status=deployed").items
    if not found:
        return None
    latest = max(found, key=lambda s: int((s.metadata.labels or {}).get("version", "0")))
    try:
        data = base64.b64decode(base64.b64decode(latest.data["release"]))
        if data.startswith(GZIP_MAGIC):
            data = gzip.decompress(data)
        release = json.loads(data)
    except (KeyError, TypeError, ValueError, OSError) as exc:
        raise HelmReadFailed(f"Helm's record of release {namespace}/{name} cannot be decoded: "
                             f"{exc}") from None
    if not isinstance(release, dict):
        raise HelmReadFailed(f"Helm's record of release {namespace}/{name} is not a release")
    return release


def as_manifest(planned: Mapping[str, Any], release: Mapping[str, Any]) -> dict[str, Any]:
    """The planned Release document with the chart version and values Helm deployed."""
    doc = copy.deepcopy(dict(planned))
    spec = dict(doc.get("spec") or {})
    chart = release.get("chart") or {}
    version = str((chart.get("metadata") or {}).get("version", ""))
    planned_version = str(spec.get("version", ""))
    # `v1.0` and `1.0` name the same chart version for Helm
    same = version.removeprefix("v") == planned_version.removeprefix("v")
    spec["version"] = planned_version if same else version
    spec["values"] = release.get("config") or {}
    doc["spec"] = spec
    return doc
