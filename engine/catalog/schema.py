"""Format v1 of the governed repo: which fields each kind has, their types, which are required.

Structural mistakes (a missing `spec.source`, `quota: "16"`, a typo such as `licence`) are input
errors found here, with the line, before any policy runs; whether a value is *acceptable*
(a pinned revision, an allowed licence) is for the policies to say.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Iterable
from typing import Any

from engine.catalog.schema_plan import fits, plan_for
from engine.errors import InputError

API_VERSION = "govops.dev/v1"
OBJECT_KINDS = ("Model", "Dataset", "Environment", "Stack", "Waiver")
CONFIG_KIND = "Config"

# type names: str, int, number, bool, map (fields listed), free (anything), strmap (str -> str),
# list[str], list[map], date, version (an exact release such as v25.3.4), enum:a|b, quantity
# (a Kubernetes quantity), port (1-65535), envname, portname (IANA_SVC_NAME), abspath, image
# (a container image reference as registries read it)
_COMMON: dict[str, tuple[str, bool]] = {
    "apiVersion": ("str", True),
    "kind": ("str", True),
    "metadata": ("map", True),
    "metadata.name": ("name", True),
    "metadata.owners": ("list[str]", False),
    "metadata.labels": ("strmap", False),
    "metadata.annotations": ("strmap", False),
    "metadata.description": ("str", False),
    "spec": ("map", True),
}

FIELDS: dict[str, dict[str, tuple[str, bool]]] = {
    "Model": {
        "spec.source": ("str", True),
        "spec.revision": ("str", False),
        "spec.digest": ("str", False),
        "spec.format": ("str", False),
        "spec.license": ("str", False),
        "spec.parameters": ("number", False),
        "spec.precision": ("str", False),
        "spec.task": ("str", False),
        "spec.architecture": ("str", False),
        "spec.datasets": ("list[str]", False),
        "spec.baseModel": ("str", False),  # the Model this one was fine-tuned from (lineage)
        "spec.risk": ("enum:minimal|limited|high", False),
        "spec.evaluations": ("list[map]", False),
        "spec.evaluations[].metric": ("str", True),
        "spec.evaluations[].value": ("number", True),
        "spec.evaluations[].dataset": ("str", False),
        # what the model is for and where it falls short (the model card's considerations)
        "spec.intendedUse": ("list[str]", False),
        "spec.limitations": ("list[str]", False),
        # files beside the weights that change behaviour (chat template, tokenizer config),
        # each its own AIBOM component with its hash
        "spec.files": ("list[map]", False),
        "spec.files[].path": ("str", True),
        "spec.files[].digest": ("str", True),
        "spec.files[].kind": ("enum:chat-template|tokenizer-config|config|other", False),
        # an OpenSSF model signature (OMS bundle in the repo) and who must have signed it:
        # a public key in the repo, or a Sigstore identity (exactly one; engine.catalog.load)
        "spec.signature": ("map", False),
        "spec.signature.bundle": ("str", True),
        "spec.signature.key": ("str", False),
        "spec.signature.identity": ("map", False),
        "spec.signature.identity.subject": ("str", True),
        "spec.signature.identity.issuer": ("str", True),
    },
    "Dataset": {
        "spec.source": ("str", True),
        "spec.revision": ("str", False),
        "spec.digest": ("str", False),
        "spec.license": ("str", False),
        "spec.pii": ("bool", False),
        "spec.classification": ("str", False),
    },
    "Environment": {
        "spec.python": ("str", False),
        "spec.cuda": ("str", False),
        "spec.image": ("image", True),
        "spec.lockfile": ("str", False),
    },
    "Stack": {
        "spec.cluster": ("map", True),
        "spec.cluster.name": ("str", True),
        "spec.cluster.context": ("str", False),
        "spec.namespace": ("name", True),
        "spec.gpu": ("map", True),
        "spec.gpu.type": ("str", True),
        "spec.gpu.quota": ("int", True),
        "spec.gpu.operator": ("map", False),
        "spec.gpu.operator.version": ("version", True),
        "spec.gpu.operator.namespace": ("name", False),
        "spec.gpu.operator.repository": ("str", False),
        "spec.gpu.operator.chart": ("str", False),  # a chart folder committed in the repo
        "spec.gpu.operator.values": ("free", False),
        "spec.workloads": ("list[map]", True),
        "spec.workloads[].name": ("name", True),
        "spec.workloads[].kind": ("enum:inference|training", True),
        "spec.workloads[].model": ("str", True),
        "spec.workloads[].environment": ("str", True),
        "spec.workloads[].replicas": ("int", False),
        "spec.workloads[].gpusPerReplica": ("int", False),
        "spec.workloads[].command": ("list[str]", False),
        "spec.workloads[].args": ("list[str]", False),
        "spec.workloads[].env": ("list[map]", False),
        "spec.workloads[].env[].name": ("envname", True),
        "spec.workloads[].env[].value": ("str", False),
        "spec.workloads[].env[].secretRef": ("map", False),
        "spec.workloads[].env[].secretRef.name": ("name", True),
        "spec.workloads[].env[].secretRef.key": ("str", True),
        "spec.workloads[].resources": ("map", False),
        "spec.workloads[].resources.cpu": ("quantity", False),
        "spec.workloads[].resources.memory": ("quantity", False),
        "spec.workloads[].resources.ephemeralStorage": ("quantity", False),
        "spec.workloads[].shm": ("quantity", False),
        "spec.workloads[].ports": ("list[map]", False),
        "spec.workloads[].ports[].name": ("portname", True),
        "spec.workloads[].ports[].port": ("port", True),
        **{f"spec.workloads[].{probe}{field}": kind
           for probe in ("readiness", "liveness", "startup")
           for field, kind in (("", ("map", False)), (".path", ("str", True)),
                               (".port", ("portname", False)),
                               (".initialDelaySeconds", ("int", False)),
                               (".periodSeconds", ("int", False)),
                               (".timeoutSeconds", ("int", False)),
                               (".failureThreshold", ("int", False)))},
        "spec.workloads[].volumes": ("list[map]", False),
        "spec.workloads[].volumes[].name": ("name", True),
        "spec.workloads[].volumes[].mountPath": ("abspath", True),
        "spec.workloads[].volumes[].readOnly": ("bool", False),
        "spec.workloads[].volumes[].claim": ("name", False),
        "spec.workloads[].volumes[].ephemeral": ("map", False),
        "spec.workloads[].volumes[].ephemeral.size": ("quantity", True),
        "spec.workloads[].volumes[].ephemeral.storageClass": ("name", False),
        # who the container runs as (default 1000, never 0: engine.catalog.stack_rules) and
        # whether its root filesystem is writable (default read-only)
        "spec.workloads[].securityContext": ("map", False),
        "spec.workloads[].securityContext.runAsUser": ("int", False),
        "spec.workloads[].securityContext.runAsGroup": ("int", False),
        "spec.workloads[].securityContext.fsGroup": ("int", False),
        "spec.workloads[].securityContext.readOnlyRootFilesystem": ("bool", False),
        "spec.rollout": ("map", False),
        "spec.rollout.timeoutSeconds": ("int", False),
        "spec.pulumi": ("map", False),
        "spec.pulumi.program": ("str", False),
        "spec.pulumi.config": ("free", False),
    },
    "Waiver": {
        "spec.policy": ("str", True),
        "spec.target": ("map", True),
        "spec.target.kind": ("enum:" + "|".join(OBJECT_KINDS), True),
        "spec.target.name": ("str", True),
        "spec.target.packages": ("list[str]", False),
        "spec.target.advisories": ("list[str]", False),
        "spec.reason": ("str", False),
        "spec.approvedBy": ("list[str]", False),
        "spec.expires": ("date", False),
    },
}

CONFIG_FIELDS: dict[str, tuple[str, bool]] = {
    "apiVersion": ("str", True),
    "kind": ("str", True),
    "metadata": ("free", False),
    "policies": ("map", False),
    "policies.paths": ("list[str]", False),
    "policies.data": ("free", False),
    "policies.gpus": ("free", False),  # checked entry by entry in engine.catalog.gpu_tables
    "policies.precisionBits": ("free", False),
    "trust": ("map", False),
    "trust.keys": ("list[str]", False),
    "trust.identities": ("list[map]", False),
    "trust.identities[].issuer": ("str", True),
    "trust.identities[].subject": ("str", True),
    "advisories": ("map", False),
    # built-in names or {name, url, format}: checked in engine.advisories.sources
    "advisories.sources": ("free", False),
    "advisories.maxAgeDays": ("int", False),
    # Kubernetes policies (conftest and Gatekeeper style) run against rendered manifests:
    # checked further in engine.catalog.load (paths) and engine.policy.manifest_sources
    "manifests": ("map", False),
    "manifests.policies": ("list[str]", False),
    "manifests.namespaces": ("list[str]", False),
    "manifests.packs": ("list[str]", False),
    "manifests.files": ("list[str]", False),
}

_NAME = re.compile(r"^[a-z0-9]([-a-z0-9.]{0,251}[a-z0-9])?$")
_ENV_NAME = re.compile(r"^[-._a-zA-Z][-._a-zA-Z0-9]*$")
_PORT_NAME = re.compile(r"^(?=.*[a-z])[a-z0-9]([-a-z0-9]{0,13}[a-z0-9])?$")
_QUANTITY = re.compile(r"^[0-9]+(\.[0-9]+)?(m|k|M|G|T|P|E|Ki|Mi|Gi|Ti|Pi|Ei)?$")
_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
_EXACT_VERSION = re.compile(r"^v?\d+\.\d+\.\d+(-[0-9A-Za-z.-]+)?(\+[0-9A-Za-z.-]+)?$")
_INDEX = re.compile(r"\[\d+\]")
# The grammar of distribution/reference (what docker, containerd and every registry parse):
# [host[:port]/]path[:tag][@digest], the digest as the OCI image spec writes one (any length:
# whether it pins strongly enough is ENV-002's to judge). Checked here so that anything `check`
# accepts also has a package URL in the AIBOM (`ghcr.io/acme/@sha256:...` has no name).
_PATH_PART = r"[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*"
_HOST_PART = r"(?:[a-zA-Z0-9]|[a-zA-Z0-9][a-zA-Z0-9-]*[a-zA-Z0-9])"
_IMAGE = re.compile(
    rf"^(?:(?:{_HOST_PART}(?:\.{_HOST_PART})*|\[[a-fA-F0-9:]+\])(?::[0-9]+)?/)?"
    rf"{_PATH_PART}(?:/{_PATH_PART})*"
    r"(?::[A-Za-z0-9_][A-Za-z0-9_.-]{0,127})?"
    r"(?:@[a-z0-9]+(?:[+._-][a-z0-9]+)*:[a-zA-Z0-9=_-]+)?$")


def pattern_of(kind: str) -> str:
    """The regular expression a string of type `kind` must match, as the loader applies it
    (engine.catalog.json_schema ships the same one in the JSON Schemas)."""
    return {"name": _NAME.pattern, "date": _DATE.pattern, "version": _EXACT_VERSION.pattern,
            "quantity": _QUANTITY.pattern, "envname": _ENV_NAME.pattern,
            "portname": _PORT_NAME.pattern, "abspath": r"^/[^:]*$", "image": _IMAGE.pattern}[kind]


def _type_ok(kind: str, value: Any) -> str | None:
    """None when `value` fits `kind`, else what was expected."""
    if kind in ("free",):
        return None
    if kind == "quantity":  # a Kubernetes quantity: 8, "500m", "64Gi"
        text = str(value) if isinstance(value, int) and not isinstance(value, bool) else value
        ok = isinstance(text, str) and bool(_QUANTITY.match(text))
        return None if ok else "a Kubernetes quantity such as 8, 500m or 64Gi"
    if kind == "port":
        ok = isinstance(value, int) and not isinstance(value, bool) and 1 <= value <= 65535
        return None if ok else "a port number from 1 to 65535"
    if kind in ("envname", "portname", "abspath", "image"):
        if not isinstance(value, str):
            return "a string"
        if kind == "image" and (not _IMAGE.match(value) or len(value.partition("@")[0]) > 255):
            return ("a container image reference such as registry.example/team/name:tag or "
                    "registry.example/team/name@sha256:<hex> (lowercase repository path)")
        if kind == "envname" and not _ENV_NAME.match(value):
            return "an environment variable name (letters, digits, '_', '-', '.')"
        if kind == "portname" and not _PORT_NAME.match(value):
            return "a port name: at most 15 lowercase letters, digits and '-', with a letter"
        if kind == "abspath" and (not value.startswith("/") or ":" in value):
            return "an absolute path inside the container"
        return None
    if kind in ("str", "name", "date", "version") or kind.startswith("enum:"):
        if not isinstance(value, str):
            hint = "; quote it" if isinstance(value, int | float | bool) else ""
            return f"a string{hint}"
        if kind == "name" and not _NAME.match(value):
            return "a lowercase name of letters, digits, '-' and '.' (as Kubernetes names)"
        if kind == "date" and not _DATE.match(value):
            return "a date YYYY-MM-DD"
        if kind == "version" and not _EXACT_VERSION.match(value):
            return ("an exact version such as v25.3.4 (pinned: not a range, a partial version "
                    "or 'latest')")
        if kind.startswith("enum:") and value not in kind[5:].split("|"):
            return "one of " + ", ".join(kind[5:].split("|"))
        return None
    if kind == "int":
        return None if isinstance(value, int) and not isinstance(value, bool) else "an integer"
    if kind == "number":
        ok = isinstance(value, int | float) and not isinstance(value, bool)
        return None if ok else "a number"
    if kind == "bool":
        return None if isinstance(value, bool) else "true or false"
    if kind in ("map", "strmap"):
        if not isinstance(value, dict):
            return "a mapping"
        if kind == "strmap" and not all(isinstance(v, str) for v in value.values()):
            return "a mapping of strings"
        return None
    if kind == "list[str]":
        ok = isinstance(value, list) and all(isinstance(v, str) for v in value)
        return None if ok else "a list of strings"
    if kind == "list[map]":
        ok = isinstance(value, list) and all(isinstance(v, dict) for v in value)
        return None if ok else "a list of mappings"
    raise AssertionError(kind)


def _expand(doc: Any, pattern: str) -> list[tuple[str, Any, bool]]:
    """Concrete paths for a pattern such as `spec.workloads[].name`: (path, value, present)."""
    current: list[tuple[str, Any]] = [("", doc)]
    results: list[tuple[str, Any, bool]] = []
    parts = pattern.split(".")
    for i, part in enumerate(parts):
        is_list = part.endswith("[]")
        key = part[:-2] if is_list else part
        last = i == len(parts) - 1
        nxt: list[tuple[str, Any]] = []
        for where, value in current:
            path = f"{where}.{key}" if where else key
            if not isinstance(value, dict) or key not in value:
                if last:
                    results.append((path, None, False))
                continue
            child = value[key]
            if last:
                results.append((path, child, True))
            elif is_list and isinstance(child, list):
                nxt.extend((f"{path}[{j}]", item) for j, item in enumerate(child))
            elif not is_list:
                nxt.append((path, child))
        current = nxt
    return results


def _parent_line(lines: dict[str, int], path: str) -> int:
    while path:
        if path in lines:
            return lines[path]
        cut = max(path.rfind("."), path.rfind("["))
        path = path[:cut] if cut > 0 else ""
    return 1


def _parent(pattern: str) -> str:
    return pattern.rsplit(".", 1)[0] if "." in pattern else ""


def _known_paths(fields: dict[str, tuple[str, bool]]) -> tuple[set[str], set[str]]:
    known = set(fields)
    free = {p for p, (kind, _) in fields.items() if kind in ("free", "strmap")}
    return known, free


def suggest(word: str, candidates: Iterable[str]) -> str | None:
    """The candidate `word` most likely misspells (case aside: `PII` is `pii`), or None. A
    word that begins a candidate was cut short (`nvidia-h100` for `nvidia-h100-80gb`), which
    beats a closer-looking sibling (`nvidia-h200`)."""
    by_lower = {c.lower(): c for c in sorted(candidates)}
    if word.lower() in by_lower:
        return by_lower[word.lower()]
    longer = sorted((c for c in by_lower if len(word) >= 3 and c.startswith(word.lower())),
                    key=len)
    if longer:
        return by_lower[longer[0]]
    close = difflib.get_close_matches(word.lower(), list(by_lower), n=1)
    return by_lower[close[0]] if close else None


def _misspelt(doc: Any, concrete: str, known: set[str], pattern: str) -> str | None:
    """A key beside missing field `concrete` that misspells it (`metdata` for `metadata`),
    as a concrete path, or None."""
    parent, _, name = concrete.rpartition(".")
    holder: Any = doc
    for step in _steps(parent):
        holder = holder.get(step) if isinstance(holder, dict) else (
            holder[step] if isinstance(holder, list) and isinstance(step, int)
            and step < len(holder) else None)
    if not isinstance(holder, dict):
        return None
    scope = _parent(pattern)
    strays = [str(k) for k in holder if (f"{scope}.{k}" if scope else str(k)) not in known]
    found = next((k for k in strays if suggest(k, [name]) == name), None)
    return None if found is None else (f"{parent}.{found}" if parent else found)


def _steps(concrete: str) -> list[str | int]:
    """`spec.workloads[2].name` as ["spec", "workloads", 2, "name"]."""
    out: list[str | int] = []
    for part in concrete.split(".") if concrete else []:
        name, *indexes = part.split("[")
        out.append(name)
        out += [int(i.rstrip("]")) for i in indexes]
    return out


def _check_unknown(path: str, doc: Any, lines: dict[str, int],
                   fields: dict[str, tuple[str, bool]]) -> None:
    known, free = _known_paths(fields)

    def walk(value: Any, concrete: str, pattern: str) -> None:
        if pattern in free:
            return
        if isinstance(value, dict):
            for key, child in value.items():
                c = f"{concrete}.{key}" if concrete else key
                p = f"{pattern}.{key}" if pattern else key
                if p not in known:
                    siblings = [k.rsplit(".", 1)[-1] for k in known if _parent(k) == pattern]
                    close = suggest(str(key), siblings)
                    hint = f" (did you mean {close!r}?)" if close else ""
                    raise InputError(path, lines.get(c), f"unknown field {c}{hint}")
                walk(child, c, p)
        elif isinstance(value, list):
            for j, item in enumerate(value):
                if isinstance(item, dict):
                    walk(item, f"{concrete}[{j}]", f"{pattern}[]")

    walk(doc, "", "")


def validate(path: str, doc: Any, lines: dict[str, int],
             fields: dict[str, tuple[str, bool]]) -> None:
    """Raise InputError for the first structural problem, in document order of the fields."""
    if not isinstance(doc, dict):
        raise InputError(path, 1, "expected a mapping with apiVersion, kind, metadata and spec")
    if fits(doc, plan_for(fields), _type_ok):
        return
    for pattern, (kind, required) in fields.items():
        for concrete, value, present in _expand(doc, pattern):
            if not present:
                if required:
                    typo = _misspelt(doc, concrete, set(fields), pattern)
                    if typo is not None:
                        raise InputError(path, lines.get(typo, _parent_line(lines, concrete)),
                                         f"unknown field {typo} (did you mean "
                                         f"{concrete.rpartition('.')[2]!r}?)")
                    raise InputError(path, _parent_line(lines, concrete),
                                     f"missing required field {concrete}")
                continue
            problem = _type_ok(kind, value)
            if problem:
                raise InputError(path, lines.get(concrete, _parent_line(lines, concrete)),
                                 f"{concrete} must be {problem}")
    _check_unknown(path, doc, lines, fields)


def fields_for(kind: str) -> dict[str, tuple[str, bool]]:
    return {**_COMMON, **FIELDS[kind]}
