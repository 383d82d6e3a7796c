"""Normalise captured resources into Kubernetes manifests, and the digest of the desired state.

One manifest per object: keys sorted, integral numbers as integers (Pulumi's wire format carries
every number as a float), absent values dropped, quoting that YAML 1.1 (what kubectl reads) and
YAML 1.2 both read back as the same strings.
File names are `<namespace>.<kind>.<name>.yaml` (`_cluster` for cluster-scoped objects), which
no two objects can share. The digest is sha256 over `sha256sum`-style lines of the files in
name order, so `cd DIR && sha256sum *.yaml | sha256sum` recomputes it.

A Helm release (pulumi-kubernetes' `helm.sh/v3` Release) is not a Kubernetes object but is
part of the desired state: it is written in the same shape, `apiVersion: helm.sh/v3`,
`kind: Release`, its release name and namespace in `metadata` and every other input in `spec`,
so it has a file name, a digest and create/update/delete like any object.

Must never write a Pulumi secret or an unknown value into a manifest: both are refused.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from engine.atomic import write_all_or_none
from engine.errors import GovopsError

# Pulumi's wire signatures (sdk/go/common/resource/properties.go), kept here so reading them
# does not import pulumi.
_SIG_KEY = "4dabf18193072939515e22adb298388d"
_SECRET_SIG = "1b47061264138c4ac30d75fd1eb44270"
_UNKNOWN = "04da6b54-80e4-46f7-96ec-b56ff0331ba9"
CLUSTER_SCOPED = frozenset({"Namespace", "ValidatingAdmissionPolicy",
                            "ValidatingAdmissionPolicyBinding"})
HELM_RELEASE = "kubernetes:helm.sh/v3:Release"
CLUSTER = "_cluster"


class SecretRefused(GovopsError):
    """A program put a Pulumi secret into an object: plans never write secrets to disk."""


class ManifestError(GovopsError):
    """A captured resource that cannot be a manifest (no name, unknown value...)."""


@dataclass(frozen=True)
class Manifest:
    file: str
    api_version: str
    kind: str
    namespace: str | None
    name: str
    doc: Mapping[str, Any]
    text: bytes
    sha256: str

    def as_json(self) -> dict[str, Any]:
        return {"file": self.file, "apiVersion": self.api_version, "kind": self.kind,
                "namespace": self.namespace, "name": self.name, "sha256": self.sha256}


def normalise(value: Any, where: str, path: str = "") -> Any:
    """`value` with keys sorted, None dropped and integral floats as ints; `where` names the
    resource and `path` the field in errors."""
    if isinstance(value, Mapping):
        if value.get(_SIG_KEY) == _SECRET_SIG:
            raise SecretRefused(f"{where}: {path or 'the object'} is a Pulumi secret; plans "
                                "refuse to write secrets (create a Kubernetes Secret outside "
                                "the plan and reference it)")
        return {str(k): normalise(v, where, f"{path}.{k}" if path else str(k))
                for k, v in sorted(value.items()) if v is not None}
    if isinstance(value, list | tuple):
        return [normalise(v, where, f"{path}[{i}]") for i, v in enumerate(value)]
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if value == _UNKNOWN or _is_unknown(value):
        raise ManifestError(f"{where}: {path} is unknown until deployment; a plan needs "
                            "every value")
    if not isinstance(value, str | int | float | bool):
        raise ManifestError(f"{where}: {path} is a {type(value).__name__}, which a manifest "
                            "cannot hold")
    return value


def _is_unknown(value: Any) -> bool:
    """Pulumi's in-process marker for a value known only after deployment (the wire format
    uses the _UNKNOWN string; mocks may hand over the object)."""
    kind = type(value)
    return kind.__name__ == "Unknown" and kind.__module__ == "pulumi.output"


def file_name(kind: str, namespace: str | None, name: str) -> str:
    return f"{namespace or CLUSTER}.{kind.lower()}.{name}.yaml"


_PLAIN = re.compile(r"[A-Za-z_/][A-Za-z0-9_./:@+=-]*")
_RESERVED = frozenset({"y", "yes", "n", "no", "true", "false", "on", "off", "null"})


def _scalar(value: Any) -> str:
    """A plain scalar when YAML 1.1 and 1.2 both read it back as this very string (starts with
    a letter, `_` or `/`, no spaces, no `: `, not a boolean or null word); a JSON string when
    ASCII; otherwise (non-ASCII that needs quoting, non-integral numbers) PyYAML's own scalar."""
    if value is True:
        return "true"
    if value is False:
        return "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, str):
        if _PLAIN.fullmatch(value) and not value.endswith(":") and value.lower() not in _RESERVED:
            return value
        if value.isascii():
            return json.dumps(value)
    text: str = yaml.dump(value, Dumper=yaml.CSafeDumper, allow_unicode=True, width=1 << 30,
                          default_style='"')
    return text.removesuffix("\n...\n").rstrip("\n")


def _lines(value: Any, indent: str, out: list[str], lead: str) -> None:
    """Append `value` as block YAML; `lead` is what precedes its first line (the indent, or
    the `- ` of the list item it opens)."""
    if isinstance(value, dict):
        first = True
        for key, child in value.items():
            prefix = lead if first else indent
            first = False
            head = f"{prefix}{_scalar(key)}:"
            if isinstance(child, dict) and child:
                out.append(head)
                _lines(child, indent + "  ", out, indent + "  ")
            elif isinstance(child, list) and child:
                out.append(head)
                _lines(child, indent, out, indent)
            else:
                out.append(f"{head} {_inline(child)}")
    elif isinstance(value, list):
        first = True
        for item in value:
            prefix = (lead if first else indent) + "- "
            first = False
            if isinstance(item, dict | list) and item:
                _lines(item, indent + "  ", out, prefix)
            else:
                out.append(prefix + _inline(item))
    else:
        out.append(lead + _scalar(value))


def _inline(value: Any) -> str:
    """A scalar, or an empty mapping or list (the only containers written on one line)."""
    if isinstance(value, dict):
        return "{}"
    if isinstance(value, list):
        return "[]"
    return _scalar(value)


def dump(doc: Mapping[str, Any]) -> bytes:
    """Block YAML of a normalised document (keys already sorted), in the layout PyYAML's
    `safe_dump` uses. Written here because PyYAML's Python representer was a fifth of a
    500-object plan; tests hold it to `yaml.safe_load(dump(doc)) == doc` on every manifest and
    on strings chosen to trip YAML's implicit types."""
    out: list[str] = []
    _lines(doc, "", out, "")
    return ("\n".join(out) + "\n").encode()


def _release(inputs: Mapping[str, Any]) -> dict[str, Any]:
    spec = {k: v for k, v in inputs.items() if k not in ("name", "namespace")}
    metadata = {"name": inputs.get("name"), "namespace": inputs.get("namespace")}
    return {"apiVersion": "helm.sh/v3", "kind": "Release", "metadata": metadata, "spec": spec}


def manifest_of(type_: str, resource: str, inputs: Mapping[str, Any]) -> Manifest:
    where = f"{type_} {resource!r}"
    doc = normalise(_release(inputs) if type_ == HELM_RELEASE else inputs, where)
    metadata = doc.get("metadata") or {}
    name = metadata.get("name")
    kind, api_version = doc.get("kind"), doc.get("apiVersion")
    if not isinstance(name, str) or not name:
        raise ManifestError(f"{where}: has no explicit metadata.name")
    if not isinstance(kind, str) or not isinstance(api_version, str):
        raise ManifestError(f"{where}: has no kind or apiVersion")
    namespace = None if kind in CLUSTER_SCOPED else metadata.get("namespace")
    text = dump(doc)
    return Manifest(file_name(kind, namespace, name), api_version, kind, namespace, name, doc,
                    text, hashlib.sha256(text).hexdigest())


def check_unique(manifests: Sequence[Manifest]) -> list[Manifest]:
    seen: set[str] = set()
    for m in manifests:
        if m.file in seen:
            raise ManifestError(f"two objects are {m.kind} {m.namespace or ''}/{m.name}")
        seen.add(m.file)
    return sorted(manifests, key=lambda m: m.file)


def digest_of(files: Mapping[str, bytes] | Iterable[Manifest]) -> str:
    """sha256 over `<sha256>  <file>` lines in file-name order (like `sha256sum *.yaml`)."""
    pairs = ([(name, hashlib.sha256(text).hexdigest()) for name, text in files.items()]
             if isinstance(files, Mapping) else [(m.file, m.sha256) for m in files])
    lines = "".join(f"{sha}  {name}\n" for name, sha in sorted(pairs))
    return "sha256:" + hashlib.sha256(lines.encode()).hexdigest()


def read_manifests(directory: Path) -> dict[str, bytes]:
    """The manifests a plan wrote to `directory` (its `*.yaml` files)."""
    if not directory.is_dir():
        raise GovopsError(f"{directory}: no such manifests directory")
    return {p.name: p.read_bytes() for p in sorted(directory.glob("*.yaml")) if p.is_file()}


def write_manifests(directory: Path, manifests: Sequence[Manifest]) -> None:
    """Write one file per manifest; earlier `*.yaml` files there that this plan does not
    produce are removed, so the directory holds exactly the desired state."""
    try:
        directory.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise GovopsError(f"{directory}: cannot create: {exc.strerror}") from None
    keep = {m.file for m in manifests}
    # All of this plan's files, or none (a full disk leaves the previous plan as it was).
    write_all_or_none({directory / m.file: m.text for m in manifests})
    for stale in directory.glob("*.yaml"):
        if stale.name not in keep:
            stale.unlink()


def parse_recorded(files: Mapping[str, bytes]) -> list[Manifest]:
    """The Manifests of a deployment's recorded files (an entry's `manifests.json`, its
    digest already checked), kept byte for byte: what a read-back compares the cluster with."""
    found = []
    for file, text in sorted(files.items()):
        doc = yaml.safe_load(text)
        if not isinstance(doc, Mapping) or not isinstance(doc.get("metadata"), Mapping):
            raise ManifestError(f"{file}: a recorded manifest is not a Kubernetes object")
        metadata = doc["metadata"]
        kind = str(doc.get("kind"))
        namespace = None if kind in CLUSTER_SCOPED else metadata.get("namespace")
        found.append(Manifest(file, str(doc.get("apiVersion")), kind, namespace,
                              str(metadata.get("name")), doc, text,
                              hashlib.sha256(text).hexdigest()))
    return found
