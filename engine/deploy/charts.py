"""A Helm chart committed in the governed repo (`spec.gpu.operator.chart`), for clusters that
cannot reach the chart's repository or that must install exactly what was reviewed.

The chart is named by its content: the digest of its files' git blob ids, so a plan is the
same in every clone, a changed chart is a changed plan, and a rollback installs the chart as
it was at the rolled-back commit. Before the engine runs, the files are written from git
objects (never from the work tree) to `charts/<digest>` in the stack's Pulumi workspace, the
path the Release names relative to it.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import tempfile
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path

import yaml

from engine.errors import GovopsError
from engine.repo.snapshot import FileEntry

CHARTS_FOLDER = "charts"


class ChartError(GovopsError):
    """A vendored chart that cannot be used: missing, not a chart, or another version; the
    message is complete and the caller adds where it was named."""


@dataclass(frozen=True)
class ChartSource:
    """Where the charts of one revision are read: its files and how to read a blob."""

    files: Mapping[str, FileEntry]
    read: Callable[[str], bytes]


@dataclass(frozen=True)
class VendoredChart:
    folder: str  # in the repo
    digest: str  # sha256:<hex> over "<blob id>  <path in the chart>" lines, in path order
    files: tuple[tuple[str, str], ...]  # (path in the chart, blob id)

    @property
    def local_path(self) -> str:
        """The Release's `chart`: relative to the Pulumi workspace, named by content."""
        return f"./{CHARTS_FOLDER}/{self.digest.removeprefix('sha256:')}"


def find_chart(source: ChartSource, folder: str, version: str) -> VendoredChart:
    """The chart committed under `folder`, whose Chart.yaml must say `version`."""
    prefix = folder.strip("/") + "/"
    found = sorted((path[len(prefix):], entry) for path, entry in source.files.items()
                   if path.startswith(prefix))
    if not found:
        raise ChartError(f"no chart at {folder!r}: nothing is committed there")
    for path, entry in found:
        if entry.is_symlink:
            raise ChartError(f"{prefix}{path} is a symlink; a vendored chart holds only "
                             "regular files")
    files = tuple((path, entry.oid) for path, entry in found)
    chart_yaml = dict(files).get("Chart.yaml")
    if chart_yaml is None:
        raise ChartError(f"{folder!r} is not a Helm chart: it has no Chart.yaml")
    try:
        meta = yaml.safe_load(source.read(chart_yaml))
    except yaml.YAMLError as exc:
        raise ChartError(f"{prefix}Chart.yaml is not YAML: {str(exc).splitlines()[0]}") from None
    declared = str(meta.get("version", "")) if isinstance(meta, dict) else ""
    if declared.removeprefix("v") != version.removeprefix("v"):
        raise ChartError(f"the chart at {folder!r} is version {declared or 'unknown'}, not "
                         f"{version}: set the version the committed chart declares")
    lines = "".join(f"{oid}  {path}\n" for path, oid in files)
    digest = "sha256:" + hashlib.sha256(lines.encode()).hexdigest()
    return VendoredChart(folder, digest, files)


def materialize(chart: VendoredChart, read: Callable[[str], bytes], workspace: Path) -> Path:
    """Write the chart's files from git objects to `<workspace>/charts/<digest>` (once: the
    name is the content), atomically, so the engine never sees half a chart."""
    target = workspace / chart.local_path
    if target.is_dir():
        return target
    target.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=".chart-", dir=target.parent))
    try:
        for path, oid in chart.files:
            out = staging / path
            out.parent.mkdir(parents=True, exist_ok=True)
            out.write_bytes(read(oid))
        os.replace(staging, target)
    except OSError as exc:
        raise GovopsError(f"cannot write chart {chart.folder!r} to {target}: {exc}") from None
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return target
