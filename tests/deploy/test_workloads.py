"""What a real inference server needs from a Stack workload: command and args, env (values and
Secret references, never a secret's value), CPU/memory/ephemeral storage, /dev/shm, model-cache
volumes (a claim or an ephemeral volume), ports and probes. Planned into the pod template the
Kubernetes schema accepts, checked at load time with the line, and visible to policies."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import kubernetes_validate
import pytest
import yaml

from engine.repo.scripted import Step
from tests.support.cli import assert_input_error, check, govops
from tests.support.repos import NOW, fixture, make_repo, unwaived
from tests.support.samples import ACME_CHAT

STACK_FILE = "stacks/prod-inference.yaml"
VLLM = ACME_CHAT + b"""      command: [python3, -m, vllm.entrypoints.openai.api_server]
      args: [--model, /models/llama-3-8b-instruct, --port, "8000", --max-model-len, "8192"]
      env:
        - name: HF_HOME
          value: /models
        - name: TOKENIZERS_PARALLELISM
          value: "false"
        - name: HF_TOKEN
          secretRef: {name: huggingface, key: token}
      resources: {cpu: 8, memory: 64Gi, ephemeralStorage: 20Gi}
      shm: 16Gi
      ports:
        - {name: openai, port: 8000}
        - {name: metrics, port: 9090}
      startup: {path: /health, failureThreshold: 60, periodSeconds: 10}
      readiness: {path: /health, periodSeconds: 5}
      liveness: {path: /health, port: openai, timeoutSeconds: 3}
      volumes:
        - {name: model-cache, mountPath: /models, claim: model-cache, readOnly: true}
        - name: scratch
          mountPath: /scratch
          ephemeral: {size: 100Gi, storageClass: local-nvme}
"""


def repo_with(tmp_path: Path, chat: bytes) -> Path:
    files = unwaived(fixture("acme-ml"))
    assert ACME_CHAT in files[STACK_FILE]
    files[STACK_FILE] = files[STACK_FILE].replace(ACME_CHAT, chat)
    make_repo(tmp_path / "repo", Step("acme", files))
    return tmp_path / "repo"


def line_of(text: bytes, fragment: bytes) -> int:
    return text[:text.index(fragment)].count(b"\n") + 1


@pytest.fixture(scope="module")
def planned(tmp_path_factory: pytest.TempPathFactory) -> dict[str, dict[str, Any]]:
    tmp = tmp_path_factory.mktemp("vllm")
    repo = repo_with(tmp, VLLM)
    run = govops("plan", "--repo", str(repo), "--stack", "prod-inference", "--output",
                 str(tmp / "plan"), "--now", NOW)
    assert run.exit_code == 0, run.stderr
    return {p.name: yaml.safe_load(p.read_text()) for p in (tmp / "plan").glob("*.yaml")}


def test_the_container_gets_what_the_workload_asks_for(
        planned: dict[str, dict[str, Any]]) -> None:
    pod = planned["inference.deployment.chat.yaml"]["spec"]["template"]["spec"]
    (container,) = pod["containers"]
    assert container["command"] == ["python3", "-m", "vllm.entrypoints.openai.api_server"]
    assert container["args"][:2] == ["--model", "/models/llama-3-8b-instruct"]
    assert container["env"][3:] == [
        {"name": "HF_HOME", "value": "/models"},
        {"name": "TOKENIZERS_PARALLELISM", "value": "false"},
        {"name": "HF_TOKEN", "valueFrom": {"secretKeyRef": {"key": "token",
                                                            "name": "huggingface"}}}]
    assert [e["name"] for e in container["env"][:3]] == ["GOVOPS_MODEL", "GOVOPS_MODEL_DIGEST",
                                                         "HOME"]
    assert container["env"][2] == {"name": "HOME", "value": "/home/govops"}
    assert container["resources"] == {
        "requests": {"cpu": "8", "memory": "64Gi", "ephemeral-storage": "20Gi",
                     "nvidia.com/gpu": "1"},
        "limits": {"memory": "64Gi", "ephemeral-storage": "20Gi", "nvidia.com/gpu": "1"}}
    assert container["ports"] == [{"containerPort": 8000, "name": "openai"},
                                  {"containerPort": 9090, "name": "metrics"}]
    assert container["startupProbe"] == {"failureThreshold": 60, "periodSeconds": 10,
                                         "httpGet": {"path": "/health", "port": "openai"}}
    assert container["readinessProbe"]["httpGet"] == {"path": "/health", "port": "openai"}
    assert container["livenessProbe"] == {"httpGet": {"path": "/health", "port": "openai"},
                                          "timeoutSeconds": 3}
    assert container["volumeMounts"] == [
        {"mountPath": "/models", "name": "model-cache", "readOnly": True},
        {"mountPath": "/scratch", "name": "scratch"},
        {"mountPath": "/dev/shm", "name": "dshm"},
        {"mountPath": "/tmp", "name": "govops-tmp"},
        {"mountPath": "/home/govops", "name": "govops-home"}]
    assert pod["volumes"] == [
        {"name": "model-cache", "persistentVolumeClaim": {"claimName": "model-cache",
                                                          "readOnly": True}},
        {"name": "scratch", "ephemeral": {"volumeClaimTemplate": {"spec": {
            "accessModes": ["ReadWriteOnce"], "storageClassName": "local-nvme",
            "resources": {"requests": {"storage": "100Gi"}}}}}},
        {"name": "dshm", "emptyDir": {"medium": "Memory", "sizeLimit": "16Gi"}},
        {"name": "govops-tmp", "emptyDir": {}},
        {"name": "govops-home", "emptyDir": {}}]


def test_the_service_exposes_the_declared_ports(planned: dict[str, dict[str, Any]]) -> None:
    assert planned["inference.service.chat.yaml"]["spec"]["ports"] == [
        {"name": "openai", "port": 8000, "protocol": "TCP", "targetPort": "openai"},
        {"name": "metrics", "port": 9090, "protocol": "TCP", "targetPort": "metrics"}]
    # a workload that declares nothing keeps the default: http on 8000 behind port 80
    assert planned["inference.service.embeddings.yaml"]["spec"]["ports"] == [
        {"name": "http", "port": 80, "protocol": "TCP", "targetPort": "http"}]
    embeddings = planned["inference.deployment.embeddings.yaml"]["spec"]["template"]["spec"]
    # nor volumes of its own: only the scratch space of its read-only root filesystem
    assert embeddings["volumes"] == [{"name": "govops-tmp", "emptyDir": {}},
                                     {"name": "govops-home", "emptyDir": {}}]
    assert embeddings["containers"][0]["resources"] == {"limits": {"nvidia.com/gpu": "1"},
                                                        "requests": {"nvidia.com/gpu": "1"}}


def test_the_kubernetes_schema_accepts_every_planned_object(
        planned: dict[str, dict[str, Any]]) -> None:
    for doc in planned.values():
        kubernetes_validate.validate(doc, "1.30.0", strict=True)


def test_a_policy_sees_the_workload_fields(tmp_path: Path) -> None:
    """A team's own rule over the new fields: production inference needs a readiness probe."""
    policy = b"""package govops.policies.acme_probes

import rego.v1

deny contains v if {
\tsome name, stack in input.objects.Stack
\tstack.metadata.labels.tier == "production"
\tsome i, workload in stack.spec.workloads
\tworkload.kind == "inference"
\tnot workload.readiness
\tv := {"id": "ACME-002", "msg": concat("", [name, "/", workload.name, " has no readiness probe"]),
\t\t"kind": "Stack", "name": name, "field": sprintf("spec.workloads[%d]", [i])}
}
"""
    files = unwaived(fixture("acme-ml"))
    files[STACK_FILE] = files[STACK_FILE].replace(ACME_CHAT, VLLM)
    make_repo(tmp_path / "repo", Step("acme", {**files, "policies/probes.rego": policy}))
    run = check(tmp_path / "repo", "--format", "json")
    found = sorted(r["msg"] for r in run.json()["results"] if r["id"] == "ACME-002")
    assert found == ["prod-inference/chat-fallback has no readiness probe",
                     "prod-inference/embeddings has no readiness probe"]


@pytest.mark.parametrize(("edit", "fragment", "message"), [
    ((b"          value: /models\n", b"          value: /models\n"
      b"          secretRef: {name: x, key: y}\n"), b"        - name: HF_HOME",
     "spec.workloads[0].env[0]: HF_HOME needs exactly one of value or secretRef"),
    ((b"          secretRef: {name: huggingface, key: token}",
      b"          value: hf_abcdefghijklmnop"), b"          value: hf_abc",
     "spec.workloads[0].env[2].value: HF_TOKEN looks like a secret: reference a Kubernetes "
     "Secret"),
    ((b"- name: HF_HOME", b"- name: GOVOPS_MODEL"), b"- name: GOVOPS_MODEL",
     "spec.workloads[0].env[0].name: GOVOPS_MODEL: GOVOPS_* variables are set by govops"),
    ((b"memory: 64Gi", b"memory: lots"), b"resources:",
     "spec.workloads[0].resources.memory must be a Kubernetes quantity such as 8, 500m or 64Gi"),
    ((b"{name: metrics, port: 9090}", b"{name: metrics, port: 8000}"),
     b"        - {name: metrics",
     "spec.workloads[0].ports[1].port: '8000' appears twice in ports"),
    ((b"{name: metrics, port: 9090}", b"{name: prometheus-metrics, port: 9090}"),
     b"        - {name: prometheus",
     "spec.workloads[0].ports[1].name must be a port name: at most 15 lowercase letters"),
    ((b"port: openai, timeoutSeconds", b"port: grpc, timeoutSeconds"), b"      liveness:",
     "spec.workloads[0].liveness.port: names port 'grpc', which the workload does not declare "
     "(ports: openai, metrics)"),
    ((b"claim: model-cache, readOnly", b"readOnly"), b"        - {name: model-cache",
     "spec.workloads[0].volumes[0]: volume 'model-cache' needs exactly one of claim"),
    ((b"mountPath: /scratch", b"mountPath: /dev/shm"), b"          mountPath: /dev/shm",
     "spec.workloads[0].volumes[1].mountPath: /dev/shm is sized with the workload's shm field"),
    ((b"mountPath: /scratch", b"mountPath: scratch"), b"          mountPath: scratch",
     "spec.workloads[0].volumes[1].mountPath must be an absolute path inside the container"),
    ((b"      shm: 16Gi", b"      shmSize: 16Gi"), b"      shmSize",
     "unknown field spec.workloads[0].shmSize (did you mean 'shm'?)"),
])
def test_fields_that_do_not_fit_are_input_errors_with_the_line(
        tmp_path: Path, edit: tuple[bytes, bytes], fragment: bytes, message: str) -> None:
    old, new = edit
    assert old in VLLM
    chat = VLLM.replace(old, new, 1)
    repo = repo_with(tmp_path, chat)
    stack = (repo / STACK_FILE).read_bytes()
    run = check(repo)
    assert_input_error(run, f"{STACK_FILE}:{line_of(stack, fragment)}: {message}")
