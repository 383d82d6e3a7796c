"""engine/_packs/kubernetes-security, the opt-in pack of Gatekeeper ConstraintTemplates: each
template is one Gatekeeper would install (kinds, parameter schema, Rego the official OPA parses
as v0 and that reads only its input); its Rego, run by the official OPA on admission reviews as
Gatekeeper builds them, lets every allowed sample in and refuses every disallowed one with a
message naming the container and the object, wherever the pod spec sits; and on the same
objects it agrees with Gatekeeper's own privileged-containers and required-labels templates,
taken from Gatekeeper's Go module."""

from __future__ import annotations

import copy
import json
import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

import jsonschema  # type: ignore[import-untyped]
import pytest

from tests.packs.gatekeeper import (
    PACK,
    WORKLOAD_GROUPS,
    Control,
    Json,
    control,
    control_names,
    documents,
    evaluate,
    key,
    messages,
    opa,
    review,
)

CONTROLS = ["allow-privilege-escalation", "capabilities", "privileged-containers",
            "read-only-root-filesystem", "required-labels", "run-as-non-root", "seccomp"]
CONTAINER_CONTROLS = [name for name in CONTROLS if name != "required-labels"]

ESCALATES = "allows privilege escalation: set securityContext.allowPrivilegeEscalation to false"
PRIVILEGED = "is privileged: remove securityContext.privileged or set it to false"
WRITABLE = ("has a writable root filesystem: set securityContext.readOnlyRootFilesystem "
            "to true")
NO_DROP = "does not drop capabilities ALL: list them, or ALL, in securityContext.capabilities.drop"
MAY_BE_ROOT = ("may run as root: set runAsNonRoot to true or a non-zero runAsUser, on the pod "
               "or the container")
IS_ROOT = "runs as root (runAsUser 0): set a non-zero runAsUser"
NO_SECCOMP = ("has no seccomp profile: set securityContext.seccompProfile.type to one of "
              "Localhost, RuntimeDefault, on the pod or the container")
UNCONFINED = ("runs with seccomp profile Unconfined: the allowed ones are Localhost, "
              "RuntimeDefault")
RECOMMENDED = ["app.kubernetes.io/name", "app.kubernetes.io/instance", "app.kubernetes.io/version",
               "app.kubernetes.io/component", "app.kubernetes.io/part-of",
               "app.kubernetes.io/managed-by"]

# Every message each disallowed sample must get from its control, and no other.
EXPECTED: dict[str, dict[str, set[str]]] = {
    "allow-privilege-escalation": {
        "Deployment/escalation-unset": {
            f"container vllm of Deployment inference/escalation-unset {ESCALATES}"},
        "Pod/escalation-init-and-debug": {
            f"init container fetch-weights of Pod inference/escalation-init-and-debug {ESCALATES}",
            f"ephemeral container debugger of Pod inference/escalation-init-and-debug {ESCALATES}"},
        "CronJob/escalation-cron": {
            f"container eval of CronJob inference/escalation-cron {ESCALATES}"},
    },
    "privileged-containers": {
        "DaemonSet/nvidia-driver": {
            f"container driver of DaemonSet inference/nvidia-driver {PRIVILEGED}"},
        "Pod/privileged-pod": {
            f"init container sysctl of Pod inference/privileged-pod {PRIVILEGED}",
            f"container vllm of Pod inference/privileged-pod {PRIVILEGED}"},
        "CronJob/privileged-cron": {
            f"container eval of CronJob inference/privileged-cron {PRIVILEGED}"},
    },
    "read-only-root-filesystem": {
        "Job/writable-job": {f"container convert of Job inference/writable-job {WRITABLE}"},
        "Pod/writable-pod": {
            f"init container download of Pod inference/writable-pod {WRITABLE}",
            f"container vllm of Pod inference/writable-pod {WRITABLE}"},
        "CronJob/writable-cron": {f"container eval of CronJob inference/writable-cron {WRITABLE}"},
    },
    "capabilities": {
        "Deployment/adds-sys-admin": {
            "container vllm of Deployment inference/adds-sys-admin adds capabilities IPC_LOCK, "
            "SYS_ADMIN: the allowed ones are NET_BIND_SERVICE"},
        "Pod/keeps-capabilities": {
            f"init container download of Pod inference/keeps-capabilities {NO_DROP}",
            f"container vllm of Pod inference/keeps-capabilities {NO_DROP}"},
        "CronJob/capabilities-cron": {
            "container eval of CronJob inference/capabilities-cron adds capabilities NET_RAW: "
            "the allowed ones are NET_BIND_SERVICE"},
    },
    "run-as-non-root": {
        "Deployment/root-unset": {
            f"container vllm of Deployment inference/root-unset {MAY_BE_ROOT}"},
        "Pod/root-override": {
            f"init container chown of Pod inference/root-override {IS_ROOT}",
            f"container vllm of Pod inference/root-override {MAY_BE_ROOT}"},
        "CronJob/root-cron": {f"container eval of CronJob inference/root-cron {IS_ROOT}"},
    },
    "seccomp": {
        "Deployment/no-seccomp": {
            f"container vllm of Deployment inference/no-seccomp {NO_SECCOMP}"},
        "Pod/unconfined-override": {
            f"container profiler of Pod inference/unconfined-override {UNCONFINED}"},
        "CronJob/unconfined-cron": {
            f"container eval of CronJob inference/unconfined-cron {UNCONFINED}"},
    },
    "required-labels": {
        "Deployment/unlabelled": {
            "Deployment inference/unlabelled is missing labels app.kubernetes.io/component, "
            "app.kubernetes.io/managed-by, app.kubernetes.io/part-of, app.kubernetes.io/version",
            "pod template of Deployment inference/unlabelled is missing labels "
            "app.kubernetes.io/component, app.kubernetes.io/managed-by, app.kubernetes.io/name, "
            "app.kubernetes.io/part-of, app.kubernetes.io/version"},
        "Pod/empty-version": {
            "Pod inference/empty-version is missing labels app.kubernetes.io/version"},
        "CronJob/labels-cron": {
            "job template of CronJob inference/labels-cron is missing labels "
            + ", ".join(sorted(RECOMMENDED))},
    },
}

GATEKEEPER_VERSION = "v3.18.0"
GATEKEEPER_MODULE = f"github.com/open-policy-agent/gatekeeper/v3@{GATEKEEPER_VERSION}"


@pytest.fixture(scope="module")
def pack() -> dict[str, Control]:
    return {name: control(name) for name in control_names()}


# --- the pack's shape -------------------------------------------------------------------------


def test_the_pack_holds_its_seven_controls_each_with_its_files(pack: dict[str, Control]) -> None:
    assert sorted(pack) == CONTROLS
    readme = (PACK / "README.md").read_text(encoding="utf-8")
    for name, item in pack.items():
        assert item.allowed and item.disallowed, name
        assert f"`{name}`" in readme, f"README.md does not describe {name}"
        assert item.constraint["kind"] in readme, f"README.md does not name {name}'s kind"


@pytest.mark.parametrize("name", CONTROLS)
def test_the_template_and_its_constraint_are_what_gatekeeper_installs(
        pack: dict[str, Control], name: str) -> None:
    item = pack[name]
    template, constraint = item.template, item.constraint
    assert template["apiVersion"] == "templates.gatekeeper.sh/v1"
    assert template["kind"] == "ConstraintTemplate"
    kind = template["spec"]["crd"]["spec"]["names"]["kind"]
    assert template["metadata"]["name"] == kind.lower()  # Gatekeeper refuses any other name
    assert item.package == kind.lower()
    (target,) = template["spec"]["targets"]
    assert target["target"] == "admission.k8s.gatekeeper.sh"
    assert constraint["apiVersion"] == "constraints.gatekeeper.sh/v1beta1"
    assert constraint["kind"] == kind
    matched = {(group, k) for entry in constraint["spec"]["match"]["kinds"]
               for group in entry["apiGroups"] for k in entry["kinds"]}
    assert matched == {(group, k) for k, group in WORKLOAD_GROUPS.items()}
    schema = template["spec"]["crd"]["spec"]["validation"]["openAPIV3Schema"]
    assert untyped_nodes(schema) == []  # a v1 template needs a structural schema
    jsonschema.validate(item.parameters, schema)


@pytest.mark.parametrize(("name", "parameters", "complaint"), [
    ("capabilities", {"requiredDropCapabilities": "ALL"}, "is not of type 'array'"),
    ("capabilities", {"allowedCapabilities": [7]}, "is not of type 'string'"),
    ("seccomp", {"allowedProfileTypes": ["runtime/default"]}, "is not one of"),
    ("required-labels", {"labels": [{"allowedRegex": "^v"}]}, "'key' is a required property"),
    ("required-labels", {"labels": "app.kubernetes.io/name"}, "is not of type 'array'"),
])
def test_the_schema_refuses_parameters_of_the_wrong_shape(
        pack: dict[str, Control], name: str, parameters: Json, complaint: str) -> None:
    schema = pack[name].template["spec"]["crd"]["spec"]["validation"]["openAPIV3Schema"]
    with pytest.raises(jsonschema.ValidationError, match=re.escape(complaint)):
        jsonschema.validate(parameters, schema)


def untyped_nodes(schema: Json, path: str = "") -> list[str]:
    """The nodes of an OpenAPI schema that declare no type (a structural schema has none)."""
    found = [] if "type" in schema else [path or "/"]
    for name, child in (schema.get("properties") or {}).items():
        found += untyped_nodes(child, f"{path}/{name}")
    if "items" in schema:
        found += untyped_nodes(schema["items"], f"{path}[]")
    return found


def test_the_structural_check_finds_an_untyped_node() -> None:
    schema = {"type": "object", "properties": {"labels": {"type": "array", "items": {}}}}
    assert untyped_nodes(schema) == ["/labels[]"]


def test_every_template_parses_as_rego_v0_and_reads_only_its_input(
        pack: dict[str, Control], tmp_path: Path) -> None:
    """`opa parse` in v0 (Gatekeeper's dialect) and `opa check --strict` on them all; and no
    reference to `data`, which Gatekeeper would refuse (only data.inventory and data.lib are
    served to templates, and the pack needs neither)."""
    for name, item in pack.items():
        path = tmp_path / f"{name}.rego"
        path.write_text(item.rego, encoding="utf-8")
        parsed = opa("parse", "--v0-compatible", "--format", "json", str(path))
        assert parsed.returncode == 0, f"{name}: {parsed.stderr}"
        module = json.loads(parsed.stdout)
        assert [term["value"] for term in module["package"]["path"][1:]] == [item.package]
        heads = {rule["head"]["name"] for rule in module["rules"] if "name" in rule["head"]}
        assert "violation" in heads, name
        assert "data" not in refs_roots(module), f"{name} reads data"
    checked = opa("check", "--v0-compatible", "--strict", str(tmp_path))
    assert checked.returncode == 0, checked.stdout + checked.stderr


def refs_roots(node: Any) -> set[str]:
    """The variables references in a parsed module start from (input, data, locals)."""
    found: set[str] = set()
    if isinstance(node, dict):
        if node.get("type") == "ref" and node["value"] and node["value"][0]["type"] == "var":
            found.add(node["value"][0]["value"])
        for value in node.values():
            found |= refs_roots(value)
    elif isinstance(node, list):
        for value in node:
            found |= refs_roots(value)
    return found


def test_the_parse_check_refuses_rego_gatekeeper_cannot_read(tmp_path: Path) -> None:
    """Rego v1 keywords without a v0 import do not parse as v0, so a template written that way
    would fail here as it would fail in Gatekeeper; and a read of `data` is seen."""
    path = tmp_path / "v1.rego"
    path.write_text('package v1only\n\nviolation contains {"msg": "x"} if { input.review }\n',
                    encoding="utf-8")
    parsed = opa("parse", "--v0-compatible", str(path))
    assert parsed.returncode != 0
    path.write_text('package reads\n\nviolation[{"msg": m}] { m := data.other.msg }\n',
                    encoding="utf-8")
    parsed = opa("parse", "--v0-compatible", "--format", "json", str(path))
    assert parsed.returncode == 0, parsed.stderr
    assert "data" in refs_roots(json.loads(parsed.stdout))


SHARED = {
    "container": ("# --- shared container part", "# --- end of the shared container part ---"),
    "object": ("# --- shared object part", "# --- end of the shared object part ---"),
}


def shared_part(rego: str, part: str) -> str | None:
    start, end = SHARED[part]
    if start not in rego:
        return None
    return rego[rego.index(start):rego.index(end) + len(end)]


@pytest.mark.parametrize("part", sorted(SHARED))
def test_the_shared_rego_is_the_same_in_every_template(pack: dict[str, Control],
                                                       part: str) -> None:
    """Each template carries its own copy of the helpers, so it installs alone; the copies
    must not drift apart."""
    copies = {name: shared_part(item.rego, part) for name, item in pack.items()}
    users = CONTAINER_CONTROLS if part == "container" else CONTROLS
    assert sorted(name for name, text in copies.items() if text is not None) == users
    assert len({copies[name] for name in users}) == 1


# --- the Rego's decisions ---------------------------------------------------------------------


def test_every_allowed_sample_passes_every_control(pack: dict[str, Control],
                                                   tmp_path: Path) -> None:
    """The allowed samples are hardened workloads: the whole pack, with the parameters its
    constraints set, lets each of them in (so the pack can be satisfied all at once)."""
    samples = [obj for item in pack.values() for obj in item.allowed]
    cases = [(item.package, review(obj, item.parameters)) for item in pack.values()
             for obj in samples]
    results = evaluate(tmp_path, modules(pack), cases)
    refused = {(package, key(case["review"]["object"])): messages(found)
               for (package, case), found in zip(cases, results, strict=True) if found}
    assert refused == {}
    assert len(samples) >= 2 * len(pack)


def test_every_disallowed_sample_is_refused_with_its_messages(pack: dict[str, Control],
                                                              tmp_path: Path) -> None:
    cases = [(item.package, review(obj, item.parameters)) for item in pack.values()
             for obj in item.disallowed]
    results = evaluate(tmp_path, modules(pack), cases)
    got: dict[str, dict[str, set[str]]] = {}
    for (package, case), found in zip(cases, results, strict=True):
        name = next(n for n, item in pack.items() if item.package == package)
        got.setdefault(name, {})[key(case["review"]["object"])] = messages(found)
    assert got == EXPECTED
    for name, samples in EXPECTED.items():
        kinds = {sample.split("/")[0] for sample in samples}
        assert {"Pod", "CronJob"} <= kinds, f"{name} has no bare Pod or CronJob sample"


def modules(pack: dict[str, Control]) -> dict[str, str]:
    return {item.package: item.rego for item in pack.values()}


def wrapped(kind: str, pod: Json) -> Json:
    """The Pod's spec as the pod template of a `kind` controller of the same name."""
    metadata = pod["metadata"]
    template = {"metadata": {"labels": dict(metadata.get("labels") or {})},
                "spec": copy.deepcopy(pod["spec"])}
    group = WORKLOAD_GROUPS[kind]
    selector = {"matchLabels": {"app.kubernetes.io/instance": metadata["name"]}}
    spec: Json
    if kind == "CronJob":
        spec = {"schedule": "0 3 * * *", "jobTemplate": {"spec": {"template": template}}}
    elif kind == "Job":
        spec = {"template": template}
    else:
        spec = {"selector": selector, "template": template}
    return {"apiVersion": f"{group}/v1", "kind": kind,
            "metadata": {"name": metadata["name"], "namespace": metadata["namespace"]},
            "spec": spec}


POD_PATHS = {"Pod": "spec", "CronJob": "spec.jobTemplate.spec.template.spec"}


@pytest.mark.parametrize("name", CONTAINER_CONTROLS)
def test_a_pod_spec_is_judged_the_same_wherever_it_sits(pack: dict[str, Control], name: str,
                                                        tmp_path: Path) -> None:
    """The disallowed Pod's spec, moved into each controller's pod template, gets the same
    messages naming the controller, and details whose field is the path inside that object."""
    item = pack[name]
    (pod,) = (obj for obj in item.disallowed if obj["kind"] == "Pod")
    objects = [pod] + [wrapped(kind, pod) for kind in WORKLOAD_GROUPS if kind != "Pod"]
    cases = [(item.package, review(obj, item.parameters)) for obj in objects]
    results = evaluate(tmp_path, {item.package: item.rego}, cases)
    ref = f"{pod['metadata']['namespace']}/{pod['metadata']['name']}"
    expected = EXPECTED[name][key(pod)]
    assert expected
    for obj, found in zip(objects, results, strict=True):
        kind = obj["kind"]
        assert messages(found) == {m.replace(f"of Pod {ref}", f"of {kind} {ref}")
                                   for m in expected}, kind
        prefix = POD_PATHS.get(kind, "spec.template.spec")
        fields = {v["details"]["field"] for v in found}
        assert all(f.startswith(prefix + ".") and f[len(prefix) + 1:].startswith(
            ("containers[", "initContainers[", "ephemeralContainers[")) for f in fields), fields


def test_objects_without_a_pod_spec_give_no_container_violation(pack: dict[str, Control],
                                                                tmp_path: Path) -> None:
    objects: list[Json] = [
        {"apiVersion": "v1", "kind": "Service",
         "metadata": {"name": "chat", "namespace": "inference"},
         "spec": {"selector": {"app.kubernetes.io/instance": "chat"},
                  "ports": [{"port": 80}]}},
        {"apiVersion": "v1", "kind": "ConfigMap",
         "metadata": {"name": "chat", "namespace": "inference"}, "data": {"a": "b"}},
    ]
    cases = [(pack[name].package, review(obj, pack[name].parameters))
             for name in CONTAINER_CONTROLS for obj in objects]
    assert evaluate(tmp_path, modules(pack), cases) == [[] for _ in cases]


def test_details_name_the_container_and_the_field_to_change(pack: dict[str, Control],
                                                            tmp_path: Path) -> None:
    item = pack["allow-privilege-escalation"]
    (deployment,) = (o for o in item.disallowed if o["kind"] == "Deployment")
    (found,) = evaluate(tmp_path, modules(pack), [(item.package, review(deployment, {}))])
    assert [v["details"] for v in found] == [{
        "container": "vllm",
        "field": "spec.template.spec.containers[0].securityContext.allowPrivilegeEscalation"}]


def pod(name: str, security: Json, pod_security: Json | None = None,
        labels: dict[str, str] | None = None) -> Json:
    spec: Json = {"containers": [{"name": "app", "image": "ghcr.io/acme/app@sha256:" + "0" * 64,
                                  "securityContext": security}]}
    if pod_security is not None:
        spec["securityContext"] = pod_security
    metadata: Json = {"name": name, "namespace": "inference"}
    if labels is not None:
        metadata["labels"] = labels
    return {"apiVersion": "v1", "kind": "Pod", "metadata": metadata, "spec": spec}


# (control, parameters, object, expected messages): the parameters change the decision.
PARAMETER_CASES: list[tuple[str, Json, Json, set[str]]] = [
    # Without allowedCapabilities nothing may be added.
    ("capabilities", {"requiredDropCapabilities": ["ALL"]},
     pod("adds", {"capabilities": {"drop": ["ALL"], "add": ["NET_BIND_SERVICE"]}}),
     {"container app of Pod inference/adds adds capabilities NET_BIND_SERVICE: "
      "the allowed ones are none"}),
    ("capabilities", {"allowedCapabilities": ["*"]},
     pod("adds-any", {"capabilities": {"add": ["SYS_ADMIN"]}}), set()),
    # A named list of drops is met by dropping those (any spelling), not by dropping others.
    ("capabilities", {"requiredDropCapabilities": ["NET_RAW", "SYS_ADMIN"]},
     pod("drops-named", {"capabilities": {"drop": ["cap_net_raw", "Sys_Admin"]}}), set()),
    ("capabilities", {"requiredDropCapabilities": ["NET_RAW", "SYS_ADMIN"]},
     pod("drops-some", {"capabilities": {"drop": ["CHOWN", "NET_RAW"]}}),
     {"container app of Pod inference/drops-some does not drop capabilities SYS_ADMIN: "
      "list them, or ALL, in securityContext.capabilities.drop"}),
    # Without allowedProfileTypes the restricted profile types apply.
    ("seccomp", {}, pod("localhost", {"seccompProfile": {
        "type": "Localhost", "localhostProfile": "p.json"}}), set()),
    ("seccomp", {}, pod("unconfined", {"seccompProfile": {"type": "Unconfined"}}),
     {"container app of Pod inference/unconfined runs with seccomp profile Unconfined: "
      "the allowed ones are Localhost, RuntimeDefault"}),
    ("seccomp", {"allowedProfileTypes": ["RuntimeDefault"]},
     pod("localhost-refused", {}, {"seccompProfile": {"type": "Localhost",
                                                      "localhostProfile": "p.json"}}),
     {"container app of Pod inference/localhost-refused runs with seccomp profile Localhost: "
      "the allowed ones are RuntimeDefault"}),
    ("required-labels", {"labels": [{"key": "app.kubernetes.io/version",
                                     "allowedRegex": r"^\d+\.\d+\.\d+$"}]},
     pod("latest", {}, labels={"app.kubernetes.io/version": "latest"}),
     {r"label app.kubernetes.io/version=latest of Pod inference/latest does not match "
      r"^\d+\.\d+\.\d+$"}),
    ("required-labels", {"labels": [{"key": "app.kubernetes.io/version",
                                     "allowedRegex": r"^\d+\.\d+\.\d+$"}]},
     pod("semver", {}, labels={"app.kubernetes.io/version": "0.8.4"}), set()),
    ("required-labels", {"labels": [{"key": "team", "allowedRegex": ""}]},
     pod("any-team", {}, labels={"team": "ml"}), set()),
    # runAsNonRoot: true beside a non-zero user is fine; beside user 0 the kubelet would refuse
    # to start it, and the control says so first.
    ("run-as-non-root", {}, pod("both", {"runAsNonRoot": True, "runAsUser": 1000}), set()),
    ("run-as-non-root", {}, pod("contradiction", {"runAsNonRoot": True, "runAsUser": 0}),
     {"container app of Pod inference/contradiction runs as root (runAsUser 0): "
      "set a non-zero runAsUser"}),
    ("run-as-non-root", {}, pod("null-user", {"runAsUser": None}, {"runAsUser": 1000}), set()),
]


def test_parameters_and_edge_cases_decide_as_documented(pack: dict[str, Control],
                                                        tmp_path: Path) -> None:
    cases = [(pack[name].package, review(obj, parameters))
             for name, parameters, obj, _ in PARAMETER_CASES]
    results = evaluate(tmp_path, modules(pack), cases)
    got = [(key(obj), messages(found))
           for (_, _, obj, _), found in zip(PARAMETER_CASES, results, strict=True)]
    assert got == [(key(obj), expected) for _, _, obj, expected in PARAMETER_CASES]


def test_the_object_is_named_from_the_review_when_its_metadata_is_silent(
        pack: dict[str, Control], tmp_path: Path) -> None:
    """A Pod a controller creates has a generateName and, in the object, no namespace; a
    rendered manifest may leave the namespace to the apply step."""
    item = pack["privileged-containers"]
    generated = pod("x", {"privileged": True})
    generated["metadata"] = {"generateName": "chat-7d9f-"}
    anywhere = pod("chat", {"privileged": True})
    del anywhere["metadata"]["namespace"]
    in_namespace = review(generated, {})
    in_namespace["review"]["namespace"] = "inference"
    results = evaluate(tmp_path, modules(pack), [(item.package, in_namespace),
                                                 (item.package, review(anywhere, {}))])
    assert [messages(found) for found in results] == [
        {f"container app of Pod inference/chat-7d9f-* {PRIVILEGED}"},
        {f"container app of Pod chat {PRIVILEGED}"}]


# --- agreement with Gatekeeper's own templates -------------------------------------------------


def gatekeeper_module() -> Path:
    """Gatekeeper's Go module where `go mod download` leaves it (the module cache `go env
    GOMODCACHE` names); the test fails, saying how to fetch it, when it is not there."""
    go = shutil.which("go")
    if go is None:
        pytest.fail("the `go` command is not on PATH: it locates Gatekeeper's Go module "
                    f"({GATEKEEPER_MODULE}) in the module cache")
    cache = subprocess.run([go, "env", "GOMODCACHE"], capture_output=True, text=True,
                           timeout=60, check=True).stdout.strip()
    module = Path(cache) / GATEKEEPER_MODULE
    if not module.is_dir():
        pytest.fail(f"Gatekeeper's Go module is not in the module cache ({module}): run "
                    f"`cd /tmp && go mod download -json {GATEKEEPER_MODULE}`")
    return module


@pytest.fixture(scope="module")
def gatekeeper() -> Path:
    return gatekeeper_module()


def test_a_missing_gatekeeper_module_fails_saying_how_to_fetch_it(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GOMODCACHE", str(tmp_path))
    with pytest.raises(pytest.fail.Exception) as failed:
        gatekeeper_module()
    assert str(tmp_path / GATEKEEPER_MODULE) in str(failed.value)
    assert f"go mod download -json {GATEKEEPER_MODULE}" in str(failed.value)


def gatekeeper_rego(module: Path, relative: str) -> str:
    path = module / relative
    assert path.exists(), f"{path} is not in Gatekeeper {GATEKEEPER_VERSION}"
    (template,) = documents(path)
    return str(template["spec"]["targets"][0]["rego"])


PSP_TESTDATA = "pkg/webhook/testdata/psp-all-violations"
PRIVILEGED_THEIRS = f"{PSP_TESTDATA}/psp-templates/privileged-containers-template.yaml"
PRIVILEGED_THEIR_POD = f"{PSP_TESTDATA}/psp-pods/privileged-containers-example.yaml"
LABELS_THEIRS = "test/gator/test/fixtures/policies/default/template_k8srequiredlabels.yaml"


def as_pod(obj: Json) -> Json:
    """A controller's pod template as the Pod it would create: Gatekeeper's PSP templates read
    `spec.containers` of Pods only (in a cluster they judge the Pods a controller creates)."""
    if obj["kind"] == "Pod":
        return obj
    spec = obj["spec"]
    template = spec["jobTemplate"]["spec"]["template"] if obj["kind"] == "CronJob" \
        else spec["template"]
    return {"apiVersion": "v1", "kind": "Pod",
            "metadata": {"name": obj["metadata"]["name"],
                         "namespace": obj["metadata"].get("namespace", "default"),
                         "labels": dict((template.get("metadata") or {}).get("labels") or {})},
            "spec": template["spec"]}


def their_container(message: str) -> str:
    """The container a message of Gatekeeper's privileged-container template names."""
    flagged = re.fullmatch(r"Privileged container is not allowed: (\S+), securityContext: .*",
                           message)
    assert flagged is not None, message
    return flagged.group(1)


def test_privileged_containers_agree_with_gatekeepers_own_template(
        pack: dict[str, Control], gatekeeper: Path, tmp_path: Path) -> None:
    """Gatekeeper's privileged-container template and ours, on Gatekeeper's sample Pod and on
    every sample of every control as the Pod it makes, flag the same containers (theirs reads
    containers and init containers, so ephemeral ones are compared apart: none is privileged)."""
    theirs = gatekeeper_rego(gatekeeper, PRIVILEGED_THEIRS)
    (their_pod,) = documents(gatekeeper / PRIVILEGED_THEIR_POD)
    their_pod.setdefault("metadata", {}).setdefault("namespace", "default")
    ours = pack["privileged-containers"]
    pods = [their_pod] + [as_pod(obj) for item in pack.values()
                          for obj in item.allowed + item.disallowed]
    assert not any((c.get("securityContext") or {}).get("privileged")
                   for p in pods for c in p["spec"].get("ephemeralContainers") or [])
    cases = [(ours.package, review(p, ours.parameters)) for p in pods] + \
            [("k8spspprivileged", review(p, {})) for p in pods]
    results = evaluate(tmp_path, {ours.package: ours.rego, "k8spspprivileged": theirs}, cases)
    mine = [{v["details"]["container"] for v in found} for found in results[:len(pods)]]
    their_names = [{their_container(v["msg"]) for v in found} for found in results[len(pods):]]
    assert mine == their_names
    assert mine[0] == {"nginx"}  # their own sample is flagged by ours
    assert sum(1 for names in mine if names) >= 3 and sum(1 for names in mine if not names) >= 10


def test_required_labels_agree_with_gatekeepers_own_template_but_for_empty_values(
        pack: dict[str, Control], gatekeeper: Path, tmp_path: Path) -> None:
    """Gatekeeper's k8srequiredlabels (gator's test fixture) and ours, given the pack's labels,
    find the same labels missing on each sample object itself (ours also reads templates),
    except where a label is present with an empty value: ours counts it missing, theirs not."""
    theirs = gatekeeper_rego(gatekeeper, LABELS_THEIRS)
    ours = pack["required-labels"]
    objects = [obj for item in pack.values() for obj in item.allowed + item.disallowed]
    cases = [(ours.package, review(o, ours.parameters)) for o in objects] + \
            [("k8srequiredlabels", review(o, ours.parameters)) for o in objects]
    results = evaluate(tmp_path, {ours.package: ours.rego, "k8srequiredlabels": theirs}, cases)
    mine = {key(o): set().union(*[set(v["details"]["missing_labels"]) for v in found
                                  if v["details"].get("field") == "metadata.labels"])
            for o, found in zip(objects, results[:len(objects)], strict=True)}
    their_missing = {key(o): set().union(*[set(v.get("details", {}).get("missing_labels", []))
                                           for v in found])
                     for o, found in zip(objects, results[len(objects):], strict=True)}
    differ = {k: (mine[k], their_missing[k]) for k in mine if mine[k] != their_missing[k]}
    assert differ == {"Pod/empty-version": ({"app.kubernetes.io/version"}, set())}
    assert sum(1 for missing in mine.values() if missing) >= 3
