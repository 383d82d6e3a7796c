"""tools/build_go_tools.py: the Go programs the deployment tests run are built at the pinned
versions (each reports its own version), the Pulumi CLI and provider are the releases of the
Python SDKs govops installs, a warm machine rebuilds nothing, and a build that fails names the
tool and leaves nothing that looks complete."""

from __future__ import annotations

import importlib.metadata
import subprocess
import sys
from pathlib import Path

import pytest

from tests.support.tool_scripts import load_tool

ROOT = Path(__file__).resolve().parents[1]
SCRIPT = ROOT / "tools" / "build_go_tools.py"


tools = load_tool("build_go_tools")


def _tool(name: str) -> object:
    return next(t for t in tools.TOOLS if t.name == name)


def test_pulumi_and_its_provider_are_the_releases_of_the_python_sdks() -> None:
    assert _tool("pulumi").version == "v" + importlib.metadata.version("pulumi")
    assert _tool("pulumi-kubernetes").version == importlib.metadata.version("pulumi_kubernetes")


@pytest.mark.parametrize(("binary", "args", "expected"), [
    ("pulumi", ("version",), "v3.260.0"),
    ("etcd", ("--version",), "etcd Version: 3.6.16"),
    ("kube-apiserver", ("--version",), "Kubernetes v1.34.3"),
    ("kube-controller-manager", ("--version",), "Kubernetes v1.34.3"),
    ("kube-scheduler", ("--version",), "Kubernetes v1.34.3"),
    ("kwok", ("--version",), "v0.8.0"),
    ("opa", ("version",), "Version: 1.22.4"),
    ("conftest", ("--version",), "Conftest: 0.71.1"),
])
def test_every_built_program_reports_its_pinned_version(binary: str, args: tuple[str, ...],
                                                        expected: str) -> None:
    path = tools.BIN / binary
    assert path.exists(), f"{path} missing: `make test` runs `make tools` first"
    run = subprocess.run([str(path), *args], capture_output=True, text=True, timeout=60,
                         check=False)
    assert expected in run.stdout + run.stderr, run.stdout + run.stderr


def test_the_provider_is_the_pinned_commit_reporting_the_sdks_version() -> None:
    """The provider has no --version flag: its build info names the module version it was
    built from, and the schema it serves carries the version it was generated with."""
    path = tools.BIN / "pulumi-resource-kubernetes"
    info = subprocess.run(["go", "version", "-m", str(path)], capture_output=True, text=True,
                          timeout=60, check=True).stdout
    assert ("github.com/pulumi/pulumi-kubernetes/provider/v4\t"
            "v4.0.0-20260115033456-f47bc2d6f199") in info
    assert b'"version":"4.25.0"' in path.read_bytes()


def test_a_warm_machine_rebuilds_nothing() -> None:
    run = subprocess.run([sys.executable, str(SCRIPT)], capture_output=True, text=True,
                         timeout=600, check=False)
    assert run.returncode == 0, run.stderr
    lines = [line for line in run.stdout.splitlines() if line.startswith("go tools: ")]
    assert len(lines) == len(tools.TOOLS) + 1
    assert all(" cached " in line for line in lines[:-1]), run.stdout


def test_an_unknown_tool_is_one_line_and_exit_2() -> None:
    run = subprocess.run([sys.executable, str(SCRIPT), "kubelet"], capture_output=True,
                         text=True, timeout=60, check=False)
    assert run.returncode == 2
    assert run.stderr.strip() == "build_go_tools: no tool named kubelet"


def test_a_failed_build_names_the_tool_and_leaves_nothing_complete(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    modules, cache = tmp_path / "modules", tmp_path / "cache"
    (modules / "broken").mkdir(parents=True)
    (modules / "broken" / "go.mod").write_text("module govops.local/build/broken\n\ngo 1.24\n")
    (modules / "broken" / "go.sum").write_text("")
    (modules / "broken" / "main.go").write_text("package main\n\nfunc main() { undefined() }\n")
    monkeypatch.setattr(tools, "MODULES", modules)
    monkeypatch.setattr(tools, "CACHE", cache)
    broken = tools.Tool("broken", "v0.0.1", (".",), ("broken",))
    with pytest.raises(tools.BuildFailed, match=r"^broken v0\.0\.1: go build failed:"):
        tools.build(broken)
    assert not list(cache.glob("*/.complete"))
    assert not list(cache.glob("*.partial"))


def test_the_gpu_operator_chart_is_the_pinned_modules_own() -> None:
    """The chart folder of the operator's module at the pinned commit, its node-feature-discovery
    dependency vendored inside, copied whole and writable (the module cache is read-only)."""
    chart = tools.BIN / "gpu-operator-chart"
    meta = (chart / "Chart.yaml").read_text()
    assert "name: gpu-operator\n" in meta and "version: v1.0.0-devel\n" in meta
    assert (chart / "charts" / "node-feature-discovery" / "Chart.yaml").is_file()
    assert (chart / "crds").is_dir() and (chart / "templates" / "operator.yaml").is_file()
    assert all(p.stat().st_mode & 0o200 for p in chart.rglob("*"))
    pins = (tools.MODULES / "gpu-operator-chart" / "go.sum").read_text()
    assert "github.com/NVIDIA/gpu-operator v0.0.0-20250917190837-d73a0086a6ba h1:" in pins
