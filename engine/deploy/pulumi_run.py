"""Run one Stack's program with the Pulumi engine through the Automation API: refresh, then up
(`deploy`), and a preview of the same program and config (`preview_changes`).

`LocalWorkspace` with an inline program (the spec's program from `stacks/`, called with the
StackSpec), project `govops-<stack>`, the passphrase secrets provider, and the stack config
`govops:spec` (the StackSpec as canonical JSON, what stacks/gpu-workloads/__main__.py reads)
and `kubernetes:context` (the stack's cluster context). The state backend is
`file://<repo>/.git/govops/pulumi` unless told otherwise, so state stays next to the ledger and
is never pushed with the repository.

Secrets: PULUMI_CONFIG_PASSPHRASE from the environment; without it, a local `file://` backend
uses DEFAULT_PASSPHRASE (govops puts no secret into config or state: plans refuse secrets), and
any other backend refuses to run. PULUMI_HOME is left to the user's (`~/.pulumi`), where the
pinned kubernetes plugin is installed.

The Pulumi CLI is injectable (`pulumi_command`), so tests drive the whole sequence with a fake.
Importing this module imports pulumi: only `apply` does, never `engine.cli` at start-up.
"""

from __future__ import annotations

import hashlib
import importlib.metadata
import json
import os
import re
import shutil
import subprocess
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pulumi import automation as auto
from pulumi._version import version as _sdk_version

from engine.deploy.spec import StackSpec
from engine.errors import GovopsError
from engine.workdir import WorkDir

PASSPHRASE_ENV = "PULUMI_CONFIG_PASSPHRASE"
PASSPHRASE_FILE_ENV = "PULUMI_CONFIG_PASSPHRASE_FILE"
DEFAULT_PASSPHRASE = "govops-local-state"
PULUMI_VERSION = str(_sdk_version)
KUBERNETES_PLUGIN_VERSION = importlib.metadata.version("pulumi_kubernetes")
# The provider's server-side apply takes back fields another manager changed (kubectl scale,
# an edit by hand) instead of failing on the conflict: the approved revision is authoritative,
# and the drift it overwrites was reported by `govops drift` and is in the refresh summary.
FORCE_ENV = "PULUMI_K8S_ENABLE_PATCH_FORCE"


class PulumiMissing(GovopsError):
    """No usable `pulumi` CLI: exit 2 with what to install."""


class PulumiFailed(GovopsError):
    """The engine ran and failed (refresh, up or reading the stack back)."""

    exit_code = 1


def install_hint() -> str:
    return (f"install the Pulumi CLI v{PULUMI_VERSION} (curl -fsSL https://get.pulumi.com | sh "
            f"-s -- --version {PULUMI_VERSION}) and the kubernetes plugin v"
            f"{KUBERNETES_PLUGIN_VERSION} (pulumi plugin install resource kubernetes "
            f"v{KUBERNETES_PLUGIN_VERSION}), then put pulumi on PATH")


def pulumi_cli() -> auto.PulumiCommand:
    """The `pulumi` on PATH, checked against this SDK's minimum; PulumiMissing otherwise."""
    if shutil.which("pulumi") is None:
        raise PulumiMissing(f"the pulumi CLI is not on PATH: {install_hint()}")
    try:
        return auto.PulumiCommand()
    except (auto.errors.InvalidVersionError, OSError, subprocess.CalledProcessError) as exc:
        raise PulumiMissing(f"the pulumi CLI cannot be used ({exc}): {install_hint()}") from None


def default_backend(git_dir: Path) -> str:
    return f"file://{WorkDir(git_dir).pulumi_state.resolve()}"


def passphrase_env(backend_url: str, environ: Mapping[str, str] | None = None) -> dict[str, str]:
    """What the engine needs to open the passphrase secrets provider."""
    environ = os.environ if environ is None else environ
    if environ.get(PASSPHRASE_ENV):
        return {PASSPHRASE_ENV: environ[PASSPHRASE_ENV]}
    if environ.get(PASSPHRASE_FILE_ENV):
        return {PASSPHRASE_FILE_ENV: environ[PASSPHRASE_FILE_ENV]}
    if backend_url.startswith("file://"):
        return {PASSPHRASE_ENV: DEFAULT_PASSPHRASE}
    raise GovopsError(f"set {PASSPHRASE_ENV} (or {PASSPHRASE_FILE_ENV}): the default "
                      f"passphrase is only used with a local file:// backend, not {backend_url}")


@dataclass(frozen=True)
class RunRequest:
    spec: StackSpec
    program: Callable[[Any], None]
    backend_url: str
    work_dir: Path
    message: str


@dataclass(frozen=True)
class Deployed:
    project: str
    stack: str
    backend_url: str
    update_summary: dict[str, Any]
    refresh_summary: dict[str, Any]
    checkpoint_digest: str | None
    checkpoint_note: str | None  # why there is no digest, when there is none


def project_name(stack: str) -> str:
    return f"govops-{stack}"


def _summary(summary: auto.UpdateSummary | None) -> dict[str, Any]:
    if summary is None:
        return {}
    return {"kind": summary.kind, "result": summary.result, "version": summary.version,
            "resourceChanges": dict(sorted((summary.resource_changes or {}).items()))}


def checkpoint_digest(deployment: auto.Deployment) -> str:
    """sha256 of the exported checkpoint as sorted-key compact JSON."""
    doc = {"version": deployment.version, "deployment": deployment.deployment}
    data = json.dumps(doc, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return "sha256:" + hashlib.sha256(data.encode("utf-8")).hexdigest()


GENERIC = re.compile(r"^error: (update|preview|refresh|destroy) failed$|^error: \d+ errors? "
                     r"occurred:?$")
LABEL = re.compile(r"^(stdout|stderr):\s*|^code: -?\d+$")  # how the SDK prints a result


def last_line(exc: Exception) -> str:
    """The line of a Pulumi error that says what went wrong: the first specific `error:` (or
    its `* ` detail) the engine printed, else the last line that is not a label. Pulumi writes
    a resource's failure to stdout, under Diagnostics, and ends with a generic one."""
    lines = [LABEL.sub("", line.strip()) for line in str(exc).splitlines()]
    lines = [line for line in lines if line]
    for line in lines:
        if line.startswith(("error:", "* ")) and not GENERIC.match(line):
            return line.removeprefix("* ")
    return lines[-1] if lines else type(exc).__name__


def open_stack(request: RunRequest, command: auto.PulumiCommand,
               environ: Mapping[str, str] | None, create: bool) -> auto.Stack:
    """The stack in its workspace (backend, passphrase, inline program), with the spec's
    config set: what both apply's `up` and rollback's preview run against. Raises Pulumi's
    CommandError for the caller to word."""
    spec = request.spec
    if request.backend_url.startswith("file://"):  # the CLI will not create a state folder
        Path(request.backend_url.removeprefix("file://")).mkdir(parents=True, exist_ok=True)
    env = {**passphrase_env(request.backend_url, environ),
           "PULUMI_BACKEND_URL": request.backend_url, "PULUMI_SKIP_UPDATE_CHECK": "true",
           FORCE_ENV: "true"}
    program = request.program

    def inline() -> None:
        program(spec)

    settings = auto.ProjectSettings(name=project_name(spec.name), runtime="python",
                                    backend=auto.ProjectBackend(request.backend_url))
    workspace = auto.LocalWorkspace(
        work_dir=str(request.work_dir), program=inline, env_vars=env,
        secrets_provider="passphrase", project_settings=settings, pulumi_command=command)
    stack = (auto.Stack.create_or_select(spec.name, workspace) if create
             else auto.Stack.select(spec.name, workspace))
    stack.set_all_config({"govops:spec": auto.ConfigValue(spec.to_config()),
                          "kubernetes:context": auto.ConfigValue(spec.cluster_context)})
    return stack


def deploy(request: RunRequest, command: auto.PulumiCommand,
           environ: Mapping[str, str] | None = None) -> Deployed:
    """create/select the stack, set its config, refresh, up, read the checkpoint back."""
    spec = request.spec
    request.work_dir.mkdir(parents=True, exist_ok=True)
    try:
        stack = open_stack(request, command, environ, create=True)
        refreshed = stack.refresh(message=request.message)
        up = stack.up(message=request.message)
    except auto.errors.CommandError as exc:
        raise PulumiFailed(f"pulumi failed for stack {spec.name}: {last_line(exc)}") from None
    digest: str | None = None
    note: str | None = None
    try:
        digest = checkpoint_digest(stack.export_stack())
    except (auto.errors.CommandError, ValueError) as exc:
        note = f"stack export failed: {last_line(exc)}"
    return Deployed(project_name(spec.name), spec.name, request.backend_url, _summary(up.summary),
                    _summary(refreshed.summary), digest, note)


def _op(value: Any) -> str:
    return str(getattr(value, "value", value))


def preview_changes(request: RunRequest, command: auto.PulumiCommand,
                    environ: Mapping[str, str] | None = None
                    ) -> tuple[dict[str, int], list[str]]:
    """select the stack, set the same config, preview: (change summary, changed resources)."""
    spec = request.spec
    changed: list[str] = []

    def on_event(event: auto.EngineEvent) -> None:
        pre = event.resource_pre_event
        if pre is not None and _op(pre.metadata.op) != "same":
            changed.append(f"{_op(pre.metadata.op)} {pre.metadata.urn}")

    try:
        stack = open_stack(request, command, environ, create=False)
        result = stack.preview(message=request.message, on_event=on_event)
    except auto.errors.CommandError as exc:
        raise PulumiFailed(f"pulumi preview failed for stack {spec.name}: "
                           f"{last_line(exc)}") from None
    except RuntimeError as exc:  # the engine sent no summary event
        raise PulumiFailed(f"pulumi preview failed for stack {spec.name}: {exc}") from None
    summary = {_op(op): int(n) for op, n in sorted((result.change_summary or {}).items(),
                                                   key=lambda kv: _op(kv[0]))}
    return summary, changed
