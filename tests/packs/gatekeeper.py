"""Gatekeeper's side of the pack tests: the pack read from disk, objects presented as
Gatekeeper's admission webhook presents them, and their templates' Rego run by the official
OPA, many reviews in one process. It never decides what a policy means: the Rego does."""

from __future__ import annotations

import json
import subprocess
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from tests.support.repos import ROOT
from tests.support.resident import OPA_BINARY

PACK = ROOT / "engine" / "_packs" / "kubernetes-security"

# The kinds whose objects carry a pod spec, each with the API group it belongs to.
WORKLOAD_GROUPS = {"Pod": "", "Deployment": "apps", "StatefulSet": "apps", "DaemonSet": "apps",
                   "ReplicaSet": "apps", "Job": "batch", "CronJob": "batch"}

Json = dict[str, Any]


@dataclass(frozen=True)
class Control:
    """One folder of the pack: its ConstraintTemplate, the constraint that enables it and its
    samples."""

    name: str
    template: Json
    constraint: Json
    allowed: tuple[Json, ...]
    disallowed: tuple[Json, ...]

    @property
    def rego(self) -> str:
        return str(self.template["spec"]["targets"][0]["rego"])

    @property
    def package(self) -> str:
        return package_of(self.rego)

    @property
    def parameters(self) -> Json:
        return dict(self.constraint["spec"].get("parameters") or {})


def documents(path: Path) -> tuple[Json, ...]:
    """Every YAML document of the file (a sample file holds several objects)."""
    with path.open(encoding="utf-8") as stream:
        return tuple(doc for doc in yaml.safe_load_all(stream) if doc is not None)


def control(name: str) -> Control:
    folder = PACK / name
    (template,) = documents(folder / "template.yaml")
    (constraint,) = documents(folder / "constraint.yaml")
    return Control(name, template, constraint, documents(folder / "samples" / "allowed.yaml"),
                   documents(folder / "samples" / "disallowed.yaml"))


def control_names() -> list[str]:
    return sorted(p.name for p in PACK.iterdir() if (p / "template.yaml").exists())


def package_of(rego: str) -> str:
    """The module's package, from its `package` line (the pack uses one-segment packages)."""
    for line in rego.splitlines():
        if line.startswith("package "):
            return line.removeprefix("package ").strip()
    raise AssertionError(f"no package line in:\n{rego}")


def review(obj: Json, parameters: Mapping[str, Any], operation: str = "CREATE") -> Json:
    """The input Gatekeeper gives a template's Rego for an admission request about `obj`."""
    group, _, version = str(obj["apiVersion"]).rpartition("/")
    metadata = obj.get("metadata") or {}
    return {"review": {"kind": {"group": group, "version": version, "kind": obj["kind"]},
                       "name": metadata.get("name", ""),
                       "namespace": metadata.get("namespace", ""),
                       "operation": operation, "object": obj},
            "parameters": dict(parameters)}


def key(obj: Json) -> str:
    """How the tests name a sample: Kind/name."""
    return f"{obj['kind']}/{obj['metadata']['name']}"


def evaluate(workdir: Path, modules: Mapping[str, str],
             cases: Sequence[tuple[str, Json]]) -> list[list[Json]]:
    """The violations of each case, in case order: a case is (package, review input) and is
    evaluated against that package's `violation` rule, all in one `opa eval` of the official
    binary, in Rego v0 as Gatekeeper reads templates."""
    folder = workdir / "opa"
    folder.mkdir(parents=True)
    for package, rego in modules.items():
        (folder / f"{package}.rego").write_text(rego, encoding="utf-8")
    grouped: dict[str, list[Json]] = {}
    where: list[tuple[str, int]] = []
    for package, document in cases:
        grouped.setdefault(package, []).append(document)
        where.append((package, len(grouped[package]) - 1))
    harness = ["package govops_pack_harness", ""]
    for package in grouped:
        harness.append(f'results["{package}"] = found {{\n'
                       f'  found := {{i: vs | c := data.cases["{package}"][i]; '
                       f"vs := [v | v := data.{package}.violation[_]] with input as c}}\n"
                       "}\n")
    (folder / "govops_pack_harness.rego").write_text("\n".join(harness), encoding="utf-8")
    (folder / "data.json").write_text(json.dumps({"cases": grouped}), encoding="utf-8")
    run = subprocess.run([str(OPA_BINARY), "eval", "--v0-compatible", "--format", "json",
                          "--data", str(folder), "data.govops_pack_harness.results"],
                         capture_output=True, text=True, timeout=120, check=False)
    assert run.returncode == 0, run.stdout + run.stderr
    results = json.loads(run.stdout)["result"][0]["expressions"][0]["value"]
    return [list(results[package][str(index)]) for package, index in where]


def messages(violations: Sequence[Json]) -> set[str]:
    return {str(v["msg"]) for v in violations}


def opa(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([str(OPA_BINARY), *args], capture_output=True, text=True, timeout=120,
                          check=False)
