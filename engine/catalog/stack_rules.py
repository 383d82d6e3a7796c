"""What the field table cannot say about a Stack's workloads: which fields go together.

Run at load time, like the schema, so `check` (and the pre-commit hook) reports them with the
line before a plan is ever made: an env entry is a value or a secret reference, never both; a
variable whose name says it holds a secret must come from a Secret, so no secret value is ever
committed, planned or recorded; a volume is a claim or an ephemeral volume; names, ports and
mount paths are unique in a workload; a probe names a port the container declares; a
workload never runs as root (user id 0): the program runs every pod as a non-root user, and the
stack's namespace enforces the restricted Pod Security Standard, which refuses root anyway, but
only once a pod is created, long after the commit.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Mapping
from functools import partial
from typing import Any, NoReturn

from engine.errors import InputError

# a name part, so HF_TOKEN and AWS_SECRET_ACCESS_KEY match, TOKENIZERS_PARALLELISM does not
SECRET_NAME = re.compile(r"(^|_)(TOKEN|SECRET|PASSWORD|PASSWD|API_?KEY|ACCESS_?KEY|"
                         r"PRIVATE_?KEY|CREDENTIALS?)($|_)", re.IGNORECASE)
RESERVED_ENV = "GOVOPS_"
SHM_PATH = "/dev/shm"
DEFAULT_PORT = "http"  # an inference workload that declares no ports serves `http` on 8000
PROBES = ("readiness", "liveness", "startup")
RESERVED_VOLUME = "govops-"  # the program's own scratch volumes (govops-tmp, govops-home)
MAX_ID = 2**31 - 1  # the largest user or group id Kubernetes accepts


def check_stack(path: str, doc: Mapping[str, Any], lines: Mapping[str, int]) -> None:
    """Raise InputError for the first workload whose fields do not fit together."""
    for i, workload in enumerate(doc.get("spec", {}).get("workloads") or []):
        fail: Fail = partial(_fail, path, lines, f"spec.workloads[{i}]")
        _check_env(workload.get("env") or [], fail)
        ports = [str(p["name"]) for p in workload.get("ports") or []]
        _unique(ports, "ports", "name", fail)
        _unique([str(p["port"]) for p in workload.get("ports") or []], "ports", "port", fail)
        declared = ports or ([DEFAULT_PORT] if workload.get("kind") == "inference" else [])
        for probe in PROBES:
            wanted = workload.get(probe)
            if wanted is not None:
                port = wanted.get("port", declared[0] if declared else None)
                if port not in declared:
                    fail(f"{probe}.port" if "port" in wanted else probe,
                         f"names port {port!r}, which the workload does not declare "
                         f"(ports: {', '.join(declared) or 'none'})")
        _check_volumes(workload.get("volumes") or [], fail)
        _check_identity(workload.get("securityContext") or {}, fail)


Fail = Callable[[str, str], NoReturn]  # (field under the workload, message)


def _fail(path: str, lines: Mapping[str, int], at: str, field: str, message: str) -> NoReturn:
    where = f"{at}.{field}"
    raise InputError(path, lines.get(where, lines.get(at)), f"{where}: {message}")


def _unique(values: Iterable[str], field: str, key: str, fail: Fail) -> None:
    seen: set[str] = set()
    for j, value in enumerate(values):
        if value in seen:
            fail(f"{field}[{j}].{key}", f"{value!r} appears twice in {field}")
        seen.add(value)


def _check_env(env: list[Mapping[str, Any]], fail: Fail) -> None:
    _unique([str(e["name"]) for e in env], "env", "name", fail)
    for j, entry in enumerate(env):
        name = str(entry["name"])
        if ("value" in entry) == ("secretRef" in entry):
            fail(f"env[{j}]", f"{name} needs exactly one of value or secretRef")
        if name.startswith(RESERVED_ENV):
            fail(f"env[{j}].name", f"{name}: {RESERVED_ENV}* variables are set by govops")
        if "value" in entry and SECRET_NAME.search(name):
            fail(f"env[{j}].value", f"{name} looks like a secret: reference a Kubernetes Secret "
                 "(secretRef: {name: ..., key: ...}) instead of committing its value")


def _check_volumes(volumes: list[Mapping[str, Any]], fail: Fail) -> None:
    _unique([str(v["name"]) for v in volumes], "volumes", "name", fail)
    _unique([str(v["mountPath"]).rstrip("/") for v in volumes], "volumes", "mountPath", fail)
    for j, volume in enumerate(volumes):
        if ("claim" in volume) == ("ephemeral" in volume):
            fail(f"volumes[{j}]", f"volume {volume['name']!r} needs exactly one of claim (an "
                 "existing PersistentVolumeClaim) or ephemeral (a volume made with each pod)")
        if str(volume["mountPath"]).rstrip("/") == SHM_PATH:
            fail(f"volumes[{j}].mountPath", f"{SHM_PATH} is sized with the workload's shm field")
        if volume["name"] == "dshm":
            fail(f"volumes[{j}].name", "'dshm' is the volume govops makes for shm")
        if str(volume["name"]).startswith(RESERVED_VOLUME):
            fail(f"volumes[{j}].name", f"{RESERVED_VOLUME}* names are the volumes govops makes "
                 "(govops-tmp at /tmp, govops-home for HOME)")


def _check_identity(wanted: Mapping[str, Any], fail: Fail) -> None:
    for field in ("runAsUser", "runAsGroup", "fsGroup"):
        if field not in wanted:
            continue
        value = int(wanted[field])
        if field == "runAsUser" and value == 0:
            fail("securityContext.runAsUser", "0 is root; govops runs workloads as a non-root "
                 "user (the namespace enforces the restricted Pod Security Standard): give the "
                 "image's own non-root user id, or leave runAsUser out for 1000")
        if not 0 <= value <= MAX_ID:
            fail(f"securityContext.{field}", f"{value} is not a user or group id "
                 f"(0 to {MAX_ID})")
