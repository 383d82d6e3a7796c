"""JSON Schema (draft 2020-12) of every kind of the governed-repo format, generated from the
loader's own field table (engine.catalog.schema), so the schema an editor checks against and
the loader cannot drift apart: there is one source of truth, and a test holds the two to the
same answers.

The schemas cover what the field table says (fields, types, enums, patterns, required,
unknown fields). The loader checks a few things no schema of one document can (a stack's
workload names unique within it, object names unique across the repo, a lock file that
exists); those stay input errors of `govops check`, and docs/reference.md says which.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from engine.catalog.schema import (
    API_VERSION,
    CONFIG_FIELDS,
    CONFIG_KIND,
    OBJECT_KINDS,
    fields_for,
    pattern_of,
)

DIALECT = "https://json-schema.org/draft/2020-12/schema"
SCHEMA_ID = "https://govops.dev/schemas/v1/{kind}.schema.json"
KINDS = (*OBJECT_KINDS, CONFIG_KIND)

_TYPES: dict[str, dict[str, Any]] = {
    "str": {"type": "string"},
    "int": {"type": "integer"},
    "number": {"type": "number"},
    "bool": {"type": "boolean"},
    "free": {},
    "strmap": {"type": "object", "additionalProperties": {"type": "string"}},
    "list[str]": {"type": "array", "items": {"type": "string"}},
    "port": {"type": "integer", "minimum": 1, "maximum": 65535},
}
_DESCRIBED = {
    "name": "a lowercase name of letters, digits, '-' and '.' (as Kubernetes names)",
    "date": "a date YYYY-MM-DD (quoted or not: YAML 1.2 reads it as a string)",
    "version": "an exact version such as v25.3.4",
    "quantity": "a Kubernetes quantity such as 8, 500m or 64Gi",
    "envname": "an environment variable name",
    "portname": "an IANA service name: at most 15 lowercase letters, digits and '-'",
    "abspath": "an absolute path inside the container",
    "image": "a container image reference: [registry[:port]/]path[:tag][@sha256:<hex>]",
}


def _leaf(kind: str) -> dict[str, Any]:
    if kind in _TYPES:
        return dict(_TYPES[kind])
    if kind.startswith("enum:"):
        return {"type": "string", "enum": kind[5:].split("|")}
    pattern = pattern_of(kind)
    if kind == "quantity":
        return {"anyOf": [{"type": "integer", "minimum": 0},
                          {"type": "string", "pattern": pattern}],
                "description": _DESCRIBED[kind]}
    return {"type": "string", "pattern": pattern, "description": _DESCRIBED[kind]}


def _object(fields: Mapping[str, tuple[str, bool]], prefix: str) -> dict[str, Any]:
    """The schema of the mapping at `prefix` ("" for the document): its direct fields."""
    properties: dict[str, Any] = {}
    required: list[str] = []
    for path, (kind, needed) in fields.items():
        parent, _, name = path.rpartition(".")
        if parent != prefix:
            continue
        if kind == "map":
            node = _object(fields, path)
        elif kind == "list[map]":
            node = {"type": "array", "items": _object(fields, f"{path}[]")}
        else:
            node = _leaf(kind)
        properties[name] = node
        if needed:
            required.append(name)
    out: dict[str, Any] = {"type": "object", "properties": properties,
                           "additionalProperties": False}
    if required:
        out["required"] = required
    return out


def schema_for(kind: str) -> dict[str, Any]:
    """The JSON Schema of one kind (Model, Dataset, Environment, Stack, Waiver, Config)."""
    if kind not in KINDS:
        raise KeyError(kind)
    fields = CONFIG_FIELDS if kind == CONFIG_KIND else fields_for(kind)
    body = _object(fields, "")
    body["properties"]["apiVersion"] = {"const": API_VERSION}
    body["properties"]["kind"] = {"const": kind}
    return {"$schema": DIALECT, "$id": SCHEMA_ID.format(kind=kind.lower()),
            "title": f"govops {kind} ({API_VERSION})", **body}


def rendered(kind: str) -> str:
    """The schema as shipped: indented JSON, keys in a stable order, a final newline."""
    return json.dumps(schema_for(kind), indent=2) + "\n"


def file_name(kind: str) -> str:
    return f"{kind.lower()}.schema.json"


_WORDS = {
    "str": "string", "int": "integer", "number": "number", "bool": "true/false",
    "map": "mapping", "free": "anything", "strmap": "mapping of strings",
    "list[str]": "list of strings", "list[map]": "list of mappings",
    "port": "port number 1-65535", **_DESCRIBED,
}
_LOADER_ONLY = """\
## What `govops check` checks beyond these schemas

The schemas hold every field, type, pattern and enum above; an editor using them (the
`yaml-language-server` comment `govops init` writes at the top of each file) flags the same
structural mistakes `govops check` does. These rules need more than one document, or more than
a schema says, and only `govops check` applies them (as input errors, exit 2, with file:line):

- `apiVersion` and `kind` first: a file with another kind is not read further.
- Object names are unique per kind across the repository; `govops.yaml` only at the root.
- A Stack's workload, port, volume and env names are unique where Kubernetes requires it.
- An Environment's `spec.lockfile` exists in the revision, inside the repository, and parses
  (pip requirements, uv.lock, pylock.toml, conda lock files).
- `policies.gpus` and `policies.precisionBits` in govops.yaml are checked entry by entry.
- A whole number written with a fraction (`replicas: 2.0`) is not an integer for govops
  (JSON Schema counts it as one).
- Limits, each an input error naming the file (and line): files are UTF-8 (a UTF-16 or UTF-32
  file that mentions `govops.dev/` is refused, not skipped; a UTF-8 byte order mark is fine);
  no control characters in YAML but as escapes in double quotes; values nested at most 32
  levels below the document; governed files at most 1 MiB and lock files 16 MiB; `-r`
  includes at most 32 files deep; no YAML anchors, aliases or merge keys; integers of at
  most 4,300 digits (Python's limit).
- Whether a value is acceptable (a pinned revision, an allowed licence, a GPU type the cluster
  has) is for the policies (docs/policies.md), not the schema.
"""


def _word(kind: str) -> str:
    if kind.startswith("enum:"):
        return "one of " + ", ".join(f"`{v}`" for v in kind[5:].split("|"))
    return _WORDS[kind]


def reference() -> str:
    """docs/reference.md: every kind's fields, from the same table as the schemas."""
    lines = [
        "# The governed-repo format (govops.dev/v1)",
        "",
        "Generated by `python tools/gen_schemas.py` from the loader's field table "
        "(engine/catalog/schema.py), as are the JSON Schemas shipped in the package "
        "(`engine/_schemas/<kind>.schema.json`, also written into a repo by `govops init` "
        "under `.govops/schemas/`). Do not edit by hand.",
        "",
        "Every file is one YAML 1.2 document: `apiVersion: govops.dev/v1`, a `kind`, and for "
        "the object kinds `metadata` and `spec`.",
        "",
    ]
    for kind in KINDS:
        fields = CONFIG_FIELDS if kind == CONFIG_KIND else fields_for(kind)
        where = ("`govops.yaml` at the repository root" if kind == CONFIG_KIND
                 else "any `.yaml`/`.yml` file of the repository")
        lines += [f"## {kind}", "", f"In {where}. Schema: "
                  f"`engine/_schemas/{file_name(kind)}`.", "",
                  "| field | type | required |", "|---|---|---|"]
        for path, (type_name, needed) in fields.items():
            if path in ("apiVersion", "kind"):
                shown = f"`{API_VERSION}`" if path == "apiVersion" else f"`{kind}`"
            else:
                shown = _word(type_name)
            lines.append(f"| `{path}` | {shown} | {'yes' if needed else ''} |")
        lines.append("")
    return "\n".join(lines) + "\n" + _LOADER_ONLY
