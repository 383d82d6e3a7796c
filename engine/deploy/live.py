"""Live equals approved: compare an object read back from the API server with the manifest
govops planned for it, on the fields govops owns.

The API server adds what a manifest leaves out (uid, resourceVersion, status, defaulted fields
such as a Deployment's strategy or a port's protocol) and other controllers add their own
annotations; none of that is drift. What is: a field the manifest sets whose live value differs
or is gone, a list of a different length (a container, a port, an env var added or removed),
and an object that is not there at all. Values are compared as the API serves them: manifests
are normalised to the same forms (quantities as strings, integers as integers).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any


def owned_differences(planned: Any, live: Any, path: str = "") -> list[str]:
    """Where `live` departs from `planned` on what `planned` sets: one `path: why` each, in
    document order; [] when the live object is what was approved."""
    here = path or "."
    if isinstance(planned, Mapping):
        if not isinstance(live, Mapping):
            return [f"{here}: is {_kind(live)}, planned a map"]
        found: list[str] = []
        for key, value in planned.items():
            where = f"{path}.{key}" if path else str(key)
            if key not in live or live[key] is None:
                if value not in (None, {}, []):
                    found.append(f"{where}: missing")
                continue
            found.extend(owned_differences(value, live[key], where))
        return found
    if isinstance(planned, Sequence) and not isinstance(planned, str | bytes):
        if not isinstance(live, Sequence) or isinstance(live, str | bytes):
            return [f"{here}: is {_kind(live)}, planned a list"]
        if len(live) != len(planned):
            return [f"{here}: has {len(live)} items, planned {len(planned)}"]
        found = []
        for index, (want, have) in enumerate(zip(planned, live, strict=True)):
            found.extend(owned_differences(want, have, f"{path}[{index}]"))
        return found
    if planned != live and str(planned) != str(live):
        return [f"{here}: is {live!r}, planned {planned!r}"]
    return []


def _kind(value: Any) -> str:
    return "absent" if value is None else type(value).__name__


def object_key(manifest: Mapping[str, Any]) -> tuple[str, str, str, str]:
    """(apiVersion, kind, namespace, name): how an object is found again in the cluster."""
    metadata = manifest.get("metadata", {})
    return (str(manifest["apiVersion"]), str(manifest["kind"]),
            str(metadata.get("namespace") or ""), str(metadata["name"]))
