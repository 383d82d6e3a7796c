"""Build the Go programs the deployment tests run: the Pulumi CLI and its Kubernetes provider, a
Kubernetes control plane (etcd, kube-apiserver, kube-controller-manager, kube-scheduler),
kwok, the Kubernetes SIG's kubelet simulator, the official OPA, conftest and Gatekeeper's gator,
and fetch the GPU operator's Helm chart and the policies conftest and Gatekeeper publish.
Nothing else can be downloaded here (no release archives, no container images, no Helm
repository), so each comes from its Go module with the ordinary `go` client at a pinned version.

Each program has a build module in tools/go/<name>/ whose go.mod and go.sum pin every module it
compiles, by hash. A build goes to .cache/go-tools/<name>-<version>-<digest of go.mod and
go.sum>/ and is marked complete only when every binary is there: a warm machine rebuilds
nothing, a changed pin builds anew, an interrupted build starts over. The binaries are linked
into .cache/go-tools/bin, the one folder tests put on PATH. Each build's time is printed.

    python tools/build_go_tools.py [NAME ...]
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
MODULES = ROOT / "tools" / "go"
CACHE = ROOT / ".cache" / "go-tools"
BIN = CACHE / "bin"

K8S = "v1.34.3"
K8S_VERSION = " ".join([
    f"-X k8s.io/component-base/version.gitVersion={K8S}",
    "-X k8s.io/component-base/version.gitMajor=1",
    "-X k8s.io/component-base/version.gitMinor=34",
    "-X k8s.io/component-base/version.gitTreeState=clean",
    f"-X k8s.io/client-go/pkg/version.gitVersion={K8S}",
])


@dataclass(frozen=True)
class Tool:
    name: str  # its build module, tools/go/<name>
    version: str  # what it reports, and part of its cache key
    packages: tuple[str, ...]  # main packages, built into one folder
    binaries: tuple[str, ...]  # what the build leaves there
    ldflags: str = ""
    # (module, folder in it): `go run ./generate <that folder>` runs before the build, with
    # VERSION set (the provider embeds files its module zip does not hold).
    generate_from: tuple[str, str] | None = None
    # (module, files in it, output name): data the program needs from its own release,
    # joined as one YAML stream beside the binaries (kwok's node and pod stages).
    data_from: tuple[str, tuple[str, ...], str] | None = None
    # (module, folder in it, output name) of each folder copied whole from a module (a Helm
    # chart the module ships, policies a peer publishes); a tool with only these has no
    # packages to build.
    trees: tuple[tuple[str, str, str], ...] = ()

    @property
    def outputs(self) -> tuple[str, ...]:
        return (self.binaries + ((self.data_from[2],) if self.data_from else ())
                + tuple(output for _, _, output in self.trees))


TOOLS = (
    # The CLI the Automation API drives; its version is the Python SDK's (pyproject.toml).
    Tool("pulumi", "v3.260.0", ("github.com/pulumi/pulumi/pkg/v3/cmd/pulumi",), ("pulumi",),
         "-X github.com/pulumi/pulumi/sdk/v3/go/common/version.Version=v3.260.0"),
    # The provider at the commit of the pulumi-kubernetes 4.25.0 release (the proxy serves
    # the provider module only as a pseudo-version), reporting the version the SDK asks for.
    Tool("pulumi-kubernetes", "4.25.0", (".",), ("pulumi-resource-kubernetes",),
         "-X github.com/pulumi/pulumi-kubernetes/provider/v4/pkg/version.Version=4.25.0",
         ("github.com/pulumi/pulumi-kubernetes/provider/v4", "cmd/pulumi-resource-kubernetes")),
    Tool("etcd", "v3.6.16", (".",), ("etcd",)),
    Tool("kubernetes", K8S, tuple(f"k8s.io/kubernetes/cmd/{c}" for c in (
        "kube-apiserver", "kube-controller-manager", "kube-scheduler")),
        ("kube-apiserver", "kube-controller-manager", "kube-scheduler"), K8S_VERSION),
    # kwok runs no stages of its own: these are the ones `kwokctl` gives it by default
    # (kustomize/stage/fast): nodes become Ready and keep a lease, pods become Ready, a Job's
    # pods complete, deleted pods go.
    Tool("kwok", "v0.8.0", ("sigs.k8s.io/kwok/cmd/kwok",), ("kwok",),
         data_from=("sigs.k8s.io/kwok", tuple(f"kustomize/stage/{f}.yaml" for f in (
             "node/fast/node-initialize", "node/heartbeat-with-lease/node-heartbeat-with-lease",
             "pod/fast/pod-ready", "pod/fast/pod-complete", "pod/fast/pod-delete")),
             "kwok-stages.yaml")),
    # The official OPA, for the resident evaluator of the pre-commit hook (issue 15): the
    # engine every other backend is compared with.
    Tool("opa", "v1.22.4", ("github.com/open-policy-agent/opa",), ("opa",)),
    # conftest, the peer the pre-commit benchmark compares with (it embeds OPA 1.21.1).
    Tool("conftest", "v0.71.1", ("github.com/open-policy-agent/conftest",), ("conftest",),
         "-X github.com/open-policy-agent/conftest/internal/version.Version=0.71.1"),
    # The NVIDIA GPU operator's Helm chart (node-feature-discovery vendored in it), from the
    # operator's own module: helm.ngc.nvidia.com cannot be reached, and the proxy serves the
    # module only as a pseudo-version of its main branch (chart version v1.0.0-devel).
    Tool("gpu-operator-chart", "20250917-d73a0086a6ba", (), (),
         trees=(("github.com/NVIDIA/gpu-operator", "deployments/gpu-operator",
                 "gpu-operator-chart"),)),
    # gator, Gatekeeper's own CLI (the policy engine Gatekeeper runs, on files): what govops'
    # evaluation of ConstraintTemplates and constraints is compared with.
    Tool("gator", "v3.18.0", ("github.com/open-policy-agent/gatekeeper/v3/cmd/gator",),
         ("gator",)),
    # Policies as their authors publish them, for the tests of manifest policies (issue 20):
    # conftest's Kubernetes example, and Gatekeeper's own ConstraintTemplates and constraints
    # (Rego v0) from its test data. The gatekeeper-library itself is not served by the proxy.
    Tool("rego-corpora", "conftest-v0.71.1-gatekeeper-v3.18.0-2", (), (), trees=(
        ("github.com/open-policy-agent/conftest", "examples/kubernetes",
         "conftest-kubernetes-example"),
        ("github.com/open-policy-agent/conftest", "examples/exceptions",
         "conftest-exceptions-example"),
        ("github.com/open-policy-agent/gatekeeper/v3", "test/gator/test/fixtures/policies",
         "gatekeeper-gator-policies"),
        ("github.com/open-policy-agent/gatekeeper/v3", "pkg/webhook/testdata/psp-all-violations",
         "gatekeeper-psp-all-violations"))),
)


class BuildFailed(Exception):
    pass


def _pins(tool: Tool) -> str:
    module = MODULES / tool.name
    digest = hashlib.sha256()
    for name in ("go.mod", "go.sum"):
        digest.update((module / name).read_bytes())
    return digest.hexdigest()[:12]


def target(tool: Tool) -> Path:
    return CACHE / f"{tool.name}-{tool.version}-{_pins(tool)}"


def _environment() -> dict[str, str]:
    env = dict(os.environ)
    # The pinned go.sum decides every module; the local Go does the build (a go.mod asking for
    # a newer toolchain fails here rather than fetching one nobody pinned).
    env.update(GOFLAGS="-mod=readonly -trimpath", GOTOOLCHAIN=env.get("GOTOOLCHAIN", "local"))
    return env


def _go(tool: Tool, folder: Path, *args: str) -> str:
    env = _environment()
    env["VERSION"] = tool.version
    run = subprocess.run(["go", *args], cwd=folder, env=env, capture_output=True, text=True,
                         check=False)
    if run.returncode != 0:
        raise BuildFailed(f"{tool.name} {tool.version}: go {args[0]} failed:\n"
                          f"{run.stderr.strip()}")
    return run.stdout


def _module_dir(tool: Tool, work: Path, module: str) -> Path:
    """Where the module the build pins lies in the module cache (downloaded if need be)."""
    return Path(json.loads(_go(tool, work, "mod", "download", "-json", module))["Dir"])


def build(tool: Tool) -> tuple[Path, float | None]:
    """The folder holding the tool's binaries, and the build's seconds (None: it was cached)."""
    done = target(tool)
    if (done / ".complete").exists():
        return done, None
    shutil.rmtree(done, ignore_errors=True)
    partial = done.with_name(done.name + ".partial")
    shutil.rmtree(partial, ignore_errors=True)
    partial.mkdir(parents=True)
    started = time.monotonic()
    work = partial / "src"  # a copy of the build module, so generated files stay out of git
    shutil.copytree(MODULES / tool.name, work)
    try:
        if tool.generate_from is not None:
            module, folder = tool.generate_from
            _go(tool, work, "run", "./generate", str(_module_dir(tool, work, module) / folder))
        if tool.data_from is not None:
            module, files, output = tool.data_from
            source = _module_dir(tool, work, module)
            (partial / output).write_text("\n---\n".join(
                (source / f).read_text().strip() for f in files) + "\n")
        for module, folder, output in tool.trees:
            shutil.copytree(_module_dir(tool, work, module) / folder, partial / output)
            for copied in (partial / output).rglob("*"):  # the module cache is read-only
                copied.chmod(0o755 if copied.is_dir() else 0o644)
        if tool.packages:
            _go(tool, work, "build", "-ldflags", f"-s -w {tool.ldflags}".strip(), "-o",
                f"{partial}/", *tool.packages)
    except BuildFailed:
        shutil.rmtree(partial, ignore_errors=True)
        raise
    shutil.rmtree(work)
    missing = [b for b in tool.outputs if not (partial / b).exists()]
    if missing:
        raise BuildFailed(f"{tool.name} {tool.version}: the build left no {', '.join(missing)}")
    (partial / ".complete").write_text(f"{tool.name} {tool.version}\n")
    partial.rename(done)
    return done, time.monotonic() - started


def link(tool: Tool, folder: Path) -> None:
    BIN.mkdir(parents=True, exist_ok=True)
    for binary in tool.outputs:
        link_path = BIN / binary
        staged = BIN / f".{binary}.new"
        staged.unlink(missing_ok=True)
        staged.symlink_to(folder / binary)
        staged.replace(link_path)


def main(names: list[str]) -> int:
    if shutil.which("go") is None:
        print("build_go_tools: the go command is not installed (Go 1.26 is needed)",
              file=sys.stderr)
        return 2
    chosen = [t for t in TOOLS if not names or t.name in names]
    unknown = set(names) - {t.name for t in TOOLS}
    if unknown:
        print(f"build_go_tools: no tool named {', '.join(sorted(unknown))}", file=sys.stderr)
        return 2
    total = time.monotonic()
    for tool in chosen:
        try:
            folder, seconds = build(tool)
        except BuildFailed as exc:
            print(f"build_go_tools: {exc}", file=sys.stderr)
            return 1
        link(tool, folder)
        said = "cached" if seconds is None else f"built in {seconds:.0f} s"
        print(f"go tools: {tool.name} {tool.version} {said} ({', '.join(tool.outputs)})")
    print(f"go tools: ready in {BIN.relative_to(ROOT)} ({time.monotonic() - total:.0f} s)")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
