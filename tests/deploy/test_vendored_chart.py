"""The NVIDIA GPU operator installed from a chart committed in the governed repo
(`spec.gpu.operator.chart`), for clusters that cannot reach helm.ngc.nvidia.com: the real chart
(with node-feature-discovery vendored in it) as the operator's own Go module ships it
(tools/build_go_tools.py fetches it). The Release names the chart by the digest of its files,
written from git objects into the Pulumi workspace before the engine runs; on the live control
plane the provider installs it with Helm, waits for the operator and node-feature-discovery to
be Ready, and the workloads follow."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from engine.repo.scripted import Step
from tests.support.cli import assert_input_error, govops
from tests.support.cluster import TOOLS, Cluster, client, cluster
from tests.support.live_deploy import deploying, live_differences
from tests.support.repos import NOW, fixture, make_repo, unwaived
from tests.support.trust import trusted

__all__ = ["cluster"]  # the fixture, used by name

CHART = TOOLS / "gpu-operator-chart"
CHART_VERSION = "v1.0.0-devel"  # what the chart of the pinned module commit declares
STACK_FILE = "stacks/dev-sandbox.yaml"
OPERATOR = b"""    operator:                      # the team runs its own GPU operator on this cluster
      version: v25.3.4
      values:
        driver: {enabled: false}   # the nodes' image ships the NVIDIA driver
"""


def chart_files() -> dict[str, bytes]:
    assert (CHART / "Chart.yaml").is_file(), f"{CHART} missing: `make test` runs `make tools`"
    return {f"charts/gpu-operator/{p.relative_to(CHART)}": p.read_bytes()
            for p in sorted(CHART.rglob("*")) if p.is_file()}


def vendored(operator: bytes, stack: bytes | None = None) -> dict[str, bytes]:
    files = {**unwaived(fixture("acme-ml")), **chart_files()}
    text = stack if stack is not None else files[STACK_FILE]
    assert OPERATOR in text
    files[STACK_FILE] = text.replace(OPERATOR, operator)
    return files


LOCAL = (f"    operator:\n      version: {CHART_VERSION}\n      chart: charts/gpu-operator\n"
         "      values:\n        driver: {enabled: false}\n").encode()


def plan(repo: Path, out: Path) -> dict[str, Any]:
    run = govops("plan", "--repo", str(repo), "--stack", "dev-sandbox", "--output", str(out),
                 "--now", NOW, "--format", "json")
    assert run.exit_code == 0, run.stderr
    return dict(run.json())


def test_the_release_names_the_committed_chart_by_its_content(tmp_path: Path) -> None:
    make_repo(tmp_path / "repo", Step("vendored", vendored(LOCAL)))
    first = plan(tmp_path / "repo", tmp_path / "a")
    release = yaml.safe_load((tmp_path / "a" / "gpu-operator.release.gpu-operator.yaml")
                             .read_text())
    assert release["spec"]["chart"].startswith("./charts/")
    assert len(release["spec"]["chart"]) == len("./charts/") + 64
    assert "repositoryOpts" not in release["spec"]
    assert release["spec"]["version"] == CHART_VERSION

    # one byte of one template changed: another chart name, another plan
    files = vendored(LOCAL)
    template = "charts/gpu-operator/templates/operator.yaml"
    files[template] = files[template] + b"\n"
    make_repo(tmp_path / "edited", Step("vendored", files))
    second = plan(tmp_path / "edited", tmp_path / "b")
    edited = yaml.safe_load((tmp_path / "b" / "gpu-operator.release.gpu-operator.yaml")
                            .read_text())
    assert edited["spec"]["chart"] != release["spec"]["chart"]
    assert second["digest"] != first["digest"]


@pytest.mark.parametrize(("operator", "message"), [
    (LOCAL.replace(b"charts/gpu-operator", b"charts/missing"),
     "spec.gpu.operator.chart: no chart at 'charts/missing': nothing is committed there"),
    (LOCAL.replace(CHART_VERSION.encode(), b"v25.3.4"),
     f"spec.gpu.operator.chart: the chart at 'charts/gpu-operator' is version {CHART_VERSION}, "
     "not v25.3.4"),
    (LOCAL.replace(b"charts/gpu-operator", b"charts/gpu-operator/templates"),
     "spec.gpu.operator.chart: 'charts/gpu-operator/templates' is not a Helm chart"),
    (LOCAL.replace(b"      values:", b"      repository: https://mirror.acme.test/nvidia\n"
                   b"      values:"),
     "spec.gpu.operator: chart (a folder in this repo) and repository (where Helm downloads "
     "it) exclude each other"),
])
def test_a_chart_that_cannot_be_used_is_an_input_error(tmp_path: Path, operator: bytes,
                                                        message: str) -> None:
    make_repo(tmp_path / "repo", Step("vendored", vendored(operator)))
    stack = (tmp_path / "repo" / STACK_FILE).read_bytes()
    line = stack[:stack.index(b"      chart:")].count(b"\n") + 1
    run = govops("plan", "--repo", str(tmp_path / "repo"), "--stack", "dev-sandbox", "--now",
                 NOW)
    assert_input_error(run, f"{STACK_FILE}:{line}: {message}")


@pytest.fixture(scope="module")
def live(cluster: Cluster, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """dev-sandbox as stack `ops` in namespace `ops` of the test cluster's context, its
    operator from the committed chart, attested and recorded."""
    tmp = tmp_path_factory.mktemp("vendored")
    assert govops("keygen", "--output", str(tmp / "ci")).exit_code == 0
    base = unwaived(fixture("acme-ml"))[STACK_FILE]
    stack = (base.replace(b"name: dev-sandbox", b"name: ops")
             .replace(b"namespace: sandbox", b"namespace: ops"))
    files = {**vendored(LOCAL, stack), "keys/ci.pub": (tmp / "ci.pub").read_bytes()}
    del files[STACK_FILE]
    files["stacks/ops.yaml"] = stack.replace(OPERATOR, LOCAL)
    git = make_repo(tmp / "repo", Step("ops with a vendored operator chart", files))
    trusted(tmp / "repo", tmp / "trust", tmp / "ci.pub")
    run = govops("attest", "--repo", str(tmp / "repo"), "--rev", str(git.head.target), "--key",
                 str(tmp / "ci.key"), "--output", str(tmp / "out"), "--now", NOW, "--record")
    assert run.exit_code == 0, run.stderr
    with deploying(cluster, tmp, "gpu-dev-1"):
        yield tmp


def test_the_operator_is_installed_from_the_committed_chart(live: Path, cluster: Cluster) -> None:
    from kubernetes import client as k8s

    from engine.ledger.store import Ledger
    from engine.repo import open_repo

    run = govops("apply", "--repo", str(live / "repo"), "--stack", "ops", "--key",
                 str(live / "ci.key"))
    assert run.exit_code == 0, run.stdout + run.stderr
    entry = Ledger(open_repo(live / "repo")).entries()[-1]
    assert entry.entry.type == "apply" and entry.entry.stack == "ops"
    assert live_differences(cluster, entry) == {}

    receipt = json.loads(entry.files["deployment.json"])
    assert receipt["live"]["matchesApproved"] is True, receipt["live"]

    api = client(cluster)
    # Helm's own record: one deployed revision of the release, of the committed chart
    records = k8s.CoreV1Api(api).list_namespaced_secret(
        "gpu-operator", label_selector="owner=helm,name=gpu-operator").items
    assert [(r.metadata.labels["status"], r.metadata.labels["version"]) for r in records] == [
        ("deployed", "1")]
    apps = k8s.AppsV1Api(api)
    operator = apps.read_namespaced_deployment("gpu-operator", "gpu-operator")
    assert operator.status.ready_replicas == 1
    assert operator.metadata.labels["helm.sh/chart"] == f"gpu-operator-{CHART_VERSION}"
    workers = apps.list_namespaced_daemon_set("gpu-operator").items
    assert any("node-feature-discovery" in d.metadata.name for d in workers)
    crds = k8s.ApiextensionsV1Api(api).list_custom_resource_definition().items
    assert "clusterpolicies.nvidia.com" in {c.metadata.name for c in crds}
    # the workloads followed the operator onto the A100s
    pods = k8s.CoreV1Api(api).list_namespaced_pod("ops").items
    assert pods and all(p.spec.node_name.startswith("gpu-a100-") for p in pods)
