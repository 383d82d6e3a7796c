"""A real Kubernetes control plane on 127.0.0.1 for the deployment tests: etcd, kube-apiserver,
kube-controller-manager and kube-scheduler of one release, built from their Go modules by
tools/build_go_tools.py, and kwok (the Kubernetes SIG's kubelet simulator) keeping four GPU
nodes alive: 8 x nvidia.com/gpu each, labelled with their GPU product and tainted
nvidia.com/gpu (plus one untainted system node without GPUs), so pods are admitted,
quota-checked and scheduled by the real components and become Ready without containers.

The session fixture starts every process itself, on free loopback ports, writes a kubeconfig
whose context is the one the test stacks name, and stops every process it started (by PID) at
the end. A missing binary fails the tests that need the cluster; it never skips them.
"""

from __future__ import annotations

import datetime as dt
import ipaddress
import os
import secrets
import socket
import subprocess
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import yaml
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.x509.oid import NameOID

ROOT = Path(__file__).resolve().parents[2]
TOOLS = ROOT / ".cache" / "go-tools" / "bin"
CONTEXT = "govops-test"  # the context tests' stacks name in spec.cluster.context
GPU_NODES = (("gpu-h100-0", "NVIDIA-H100-80GB-HBM3"), ("gpu-h100-1", "NVIDIA-H100-80GB-HBM3"),
             ("gpu-a100-0", "NVIDIA-A100-SXM4-80GB"), ("gpu-a100-1", "NVIDIA-A100-SXM4-80GB"))
GPUS_PER_NODE = 8
# An untainted node without GPUs, where system pods go (the GPU operator's own controller,
# node-feature-discovery's master), as in any real GPU cluster.
CPU_NODES = (("cpu-0", ""),)
NODES = GPU_NODES + CPU_NODES
STARTUP_SECONDS = 90


@dataclass(frozen=True)
class Cluster:
    server: str  # https://127.0.0.1:PORT
    kubeconfig: Path
    context: str
    token: str  # an admin's bearer token (group system:masters)
    ca: Path  # the API server's CA, PEM
    folder: Path  # logs of every process: <name>.log


@dataclass
class Processes:
    folder: Path
    started: list[tuple[str, subprocess.Popen[bytes]]] = field(default_factory=list)

    def start(self, name: str, *args: str) -> subprocess.Popen[bytes]:
        binary = TOOLS / name
        if not binary.exists():
            pytest.fail(f"{binary} is missing: run `make tools` (tools/build_go_tools.py)")
        log = (self.folder / f"{name}.log").open("wb")
        # kwok reads $KWOK_WORKDIR/kwok.yaml (default ~/.kwok) before its --config: not here.
        env = {**os.environ, "KWOK_WORKDIR": str(self.folder / "kwok-home")}
        process = subprocess.Popen([str(binary), *args], stdout=log, stderr=subprocess.STDOUT,
                                   stdin=subprocess.DEVNULL, start_new_session=True, env=env,
                                   preexec_fn=_die_with_parent)
        log.close()
        self.started.append((name, process))
        return process

    def stop(self) -> None:
        """SIGTERM every process started here (last first), then SIGKILL what is left."""
        for _, process in reversed(self.started):
            if process.poll() is None:
                process.terminate()
        deadline = time.monotonic() + 15
        for _, process in reversed(self.started):
            try:
                process.wait(timeout=max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()

    def check_alive(self) -> None:
        for name, process in self.started:
            if process.poll() is not None:
                tail = (self.folder / f"{name}.log").read_text(errors="replace")[-3000:]
                pytest.fail(f"{name} exited with {process.returncode}:\n{tail}")


def _die_with_parent() -> None:
    """In the child, before exec: SIGTERM it when the test process dies, so a run killed before
    its fixtures finish (no teardown then) leaves no control plane behind."""
    import ctypes
    import signal

    ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _write_pem(path: Path, data: bytes) -> Path:
    path.write_bytes(data)
    path.chmod(0o600)
    return path


def _certificates(folder: Path) -> tuple[Path, Path, Path]:
    """(CA cert, serving cert, serving key) for 127.0.0.1 and the in-cluster names."""
    now = dt.datetime.now(dt.UTC)
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "govops test cluster CA")])
    ca = (x509.CertificateBuilder().subject_name(ca_name).issuer_name(ca_name)
          .public_key(ca_key.public_key()).serial_number(x509.random_serial_number())
          .not_valid_before(now - dt.timedelta(hours=1))
          .not_valid_after(now + dt.timedelta(days=2))
          .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
          .sign(ca_key, hashes.SHA256()))
    key = ec.generate_private_key(ec.SECP256R1())
    names = [x509.DNSName(n) for n in ("localhost", "kubernetes", "kubernetes.default",
                                       "kubernetes.default.svc")]
    serving = (x509.CertificateBuilder()
               .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "apiserver")]))
               .issuer_name(ca_name).public_key(key.public_key())
               .serial_number(x509.random_serial_number())
               .not_valid_before(now - dt.timedelta(hours=1))
               .not_valid_after(now + dt.timedelta(days=2))
               .add_extension(x509.SubjectAlternativeName(
                   [*names, x509.IPAddress(ipaddress.ip_address("127.0.0.1")),
                    x509.IPAddress(ipaddress.ip_address("10.96.0.1"))]), critical=False)
               .sign(ca_key, hashes.SHA256()))
    pem = serialization.Encoding.PEM
    return (_write_pem(folder / "ca.crt", ca.public_bytes(pem)),
            _write_pem(folder / "apiserver.crt", serving.public_bytes(pem)),
            _write_pem(folder / "apiserver.key", key.private_bytes(
                pem, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())))


def _service_account_keys(folder: Path) -> tuple[Path, Path]:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    pem = serialization.Encoding.PEM
    return (_write_pem(folder / "sa.key", key.private_bytes(
                pem, serialization.PrivateFormat.TraditionalOpenSSL,
                serialization.NoEncryption())),
            _write_pem(folder / "sa.pub", key.public_key().public_bytes(
                pem, serialization.PublicFormat.SubjectPublicKeyInfo)))


def write_kubeconfig(path: Path, server: str, ca: Path, token: str, context: str) -> Path:
    config = {
        "apiVersion": "v1", "kind": "Config", "current-context": context,
        "clusters": [{"name": context, "cluster": {"server": server,
                                                   "certificate-authority": str(ca)}}],
        "users": [{"name": "admin", "user": {"token": token}}],
        "contexts": [{"name": context, "context": {"cluster": context, "user": "admin"}}],
    }
    path.write_text(yaml.safe_dump(config, sort_keys=False))
    path.chmod(0o600)
    return path


def wait_ready(url: str, token: str | None, ca: Path | None, processes: Processes,
                what: str) -> None:
    import ssl

    context = ssl.create_default_context(cafile=str(ca)) if ca else None
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    deadline = time.monotonic() + STARTUP_SECONDS
    last = ""
    while time.monotonic() < deadline:
        processes.check_alive()
        try:
            request = urllib.request.Request(url, headers=headers)
            with urllib.request.urlopen(request, timeout=5, context=context) as reply:
                if reply.status == 200:
                    return
        except (urllib.error.URLError, OSError) as exc:
            last = str(exc)
        time.sleep(0.5)
    pytest.fail(f"{what} was not ready at {url} within {STARTUP_SECONDS} s ({last})")


def _node(name: str, product: str) -> dict[str, object]:
    """A Node kwok keeps alive (its annotation selects it). With a GPU `product`: GPU capacity,
    the label the stacks' node selectors name and the taint their pods tolerate; without, a
    plain untainted node."""
    capacity = {"cpu": "96", "memory": "1024Gi", "pods": "110", "ephemeral-storage": "1Ti"}
    labels = {"type": "kwok", "kubernetes.io/hostname": name, "kubernetes.io/os": "linux",
              "kubernetes.io/arch": "amd64"}
    spec: dict[str, object] = {}
    if product:
        capacity["nvidia.com/gpu"] = str(GPUS_PER_NODE)
        labels |= {"nvidia.com/gpu.product": product, "nvidia.com/gpu.count": str(GPUS_PER_NODE)}
        spec = {"taints": [{"key": "nvidia.com/gpu", "value": "present", "effect": "NoSchedule"}]}
    return {
        "apiVersion": "v1", "kind": "Node",
        "metadata": {"name": name, "annotations": {"kwok.x-k8s.io/node": "fake"},
                     "labels": labels},
        "spec": spec,
        "status": {"capacity": capacity, "allocatable": capacity},
    }


def start_cluster(folder: Path, processes: Processes,
                  nodes: tuple[tuple[str, str], ...] = NODES) -> Cluster:
    folder.mkdir(parents=True, exist_ok=True)
    ca, serving_cert, serving_key = _certificates(folder)
    sa_key, sa_pub = _service_account_keys(folder)
    token = secrets.token_hex(24)
    (folder / "tokens.csv").write_text(f'{token},admin,admin,"system:masters"\n')
    etcd_port, peer_port, api_port = free_port(), free_port(), free_port()
    etcd = f"http://127.0.0.1:{etcd_port}"
    processes.start(
        "etcd", "--name", "govops-test", "--data-dir", str(folder / "etcd"),
        "--listen-client-urls", etcd, "--advertise-client-urls", etcd,
        "--listen-peer-urls", f"http://127.0.0.1:{peer_port}",
        "--initial-advertise-peer-urls", f"http://127.0.0.1:{peer_port}",
        "--initial-cluster", f"govops-test=http://127.0.0.1:{peer_port}",
        "--listen-metrics-urls", f"http://127.0.0.1:{free_port()}",
        "--unsafe-no-fsync")
    wait_ready(f"{etcd}/health", None, None, processes, "etcd")
    server = f"https://127.0.0.1:{api_port}"
    processes.start(
        "kube-apiserver", "--etcd-servers", etcd, "--bind-address", "127.0.0.1",
        "--advertise-address", "127.0.0.1", "--secure-port", str(api_port),
        "--tls-cert-file", str(serving_cert), "--tls-private-key-file", str(serving_key),
        "--client-ca-file", str(ca), "--token-auth-file", str(folder / "tokens.csv"),
        "--authorization-mode", "RBAC",
        "--service-account-issuer", "https://kubernetes.default.svc",
        "--service-account-key-file", str(sa_pub),
        "--service-account-signing-key-file", str(sa_key),
        "--service-cluster-ip-range", "10.96.0.0/16", "--allow-privileged=true",
        # The `kubernetes` Service's endpoints may not be a loopback address.
        "--endpoint-reconciler-type", "none",
        "--cert-dir", str(folder / "apiserver-certs"))
    wait_ready(f"{server}/readyz", token, ca, processes, "kube-apiserver")
    kubeconfig = write_kubeconfig(folder / "kubeconfig", server, ca, token, CONTEXT)
    processes.start(
        "kube-controller-manager", "--kubeconfig", str(kubeconfig),
        "--authentication-kubeconfig", str(kubeconfig),
        "--authorization-kubeconfig", str(kubeconfig), "--leader-elect=false",
        "--bind-address", "127.0.0.1", "--secure-port", str(free_port()),
        "--service-account-private-key-file", str(sa_key), "--root-ca-file", str(ca),
        "--cert-dir", str(folder / "kcm-certs"))
    processes.start(
        "kube-scheduler", "--kubeconfig", str(kubeconfig),
        "--authentication-kubeconfig", str(kubeconfig),
        "--authorization-kubeconfig", str(kubeconfig), "--leader-elect=false",
        "--bind-address", "127.0.0.1", "--secure-port", str(free_port()),
        "--cert-dir", str(folder / "scheduler-certs"))
    processes.start(
        "kwok", "--kubeconfig", str(kubeconfig), "--config", str(TOOLS / "kwok-stages.yaml"),
        "--manage-all-nodes=false",
        "--manage-nodes-with-annotation-selector", "kwok.x-k8s.io/node=fake",
        "--cidr", "10.0.0.0/16", "--node-ip", "10.0.0.1",
        # Without leases the node lifecycle controller marks the nodes NotReady after its
        # grace period, and kwok's stages never make the evicted pods Ready again.
        "--node-lease-duration-seconds", "40",
        "--server-address", f"127.0.0.1:{free_port()}")
    cluster = Cluster(server, kubeconfig, CONTEXT, token, ca, folder)
    _add_nodes(cluster, processes, nodes)
    return cluster


def client(cluster: Cluster) -> Any:
    """A kubernetes ApiClient for the cluster, as its admin."""
    from kubernetes import config

    return config.new_client_from_config(config_file=str(cluster.kubeconfig),
                                         context=cluster.context)


def _add_nodes(cluster: Cluster, processes: Processes,
                   nodes: tuple[tuple[str, str], ...]) -> None:
    from kubernetes import client as k8s

    api = k8s.CoreV1Api(client(cluster))
    for name, product in nodes:
        api.create_node(_node(name, product))
    deadline = time.monotonic() + STARTUP_SECONDS
    while time.monotonic() < deadline:
        processes.check_alive()
        # Ready, and the node lifecycle controller has lifted its not-ready taint (until then
        # the scheduler still keeps every pod off the node).
        ready = [n.metadata.name for n in api.list_node().items
                 if any(c.type == "Ready" and c.status == "True"
                        for c in (n.status.conditions or []))
                 and not any(t.key.startswith("node.kubernetes.io/")
                             for t in (n.spec.taints or []))]
        accounts = api.list_namespaced_service_account("default").items
        if len(ready) == len(nodes) and accounts:
            return
        time.sleep(0.5)
    pytest.fail(f"the nodes were not Ready within {STARTUP_SECONDS} s (kwok.log in "
                f"{cluster.folder})")


@pytest.fixture(scope="session")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Cluster]:
    """The control plane and its GPU nodes, for the whole session; every process it started
    is stopped at the end, whatever the tests did."""
    folder = tmp_path_factory.mktemp("cluster")
    processes = Processes(folder)
    try:
        yield start_cluster(folder, processes)
    finally:
        processes.stop()


__all__ = ["Cluster", "Processes", "client", "cluster", "free_port", "start_cluster",
           "wait_ready", "write_kubeconfig"]
