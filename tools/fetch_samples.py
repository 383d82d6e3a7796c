"""Fetch the third-party files the tests read as they were published: real pixi.lock files (no
real one is among ../shared/realworld's inputs; these ship inside the sdists of projects that
lock with pixi, on PyPI) and the SPDX project's own validator with its SPDX 3.0.1 JSON Schema
(tools-java on Maven Central; spdx.org itself is not reachable here).

Each sample is pinned by its registry coordinates and the SHA-256 of what the registry serves;
a download that does not match is refused and nothing is kept. Maven artifacts come through
`mvn dependency:copy`, the ordinary client, into a local repository under .cache; PyPI's source
archives straight from PyPI's file host (`pip download` would build an sdist to read its
metadata, and these need toolchains that have nothing to do with their lock files).

A sample goes to .cache/samples/<name>-<version>/, marked complete (with its pin) only when all
of it is there: a warm machine fetches nothing, an interrupted fetch or a changed pin starts
over. Each fetch's time is printed.

    python tools/fetch_samples.py [NAME ...]
"""

from __future__ import annotations

import fnmatch
import hashlib
import shutil
import subprocess
import sys
import tarfile
import time
import urllib.request
import zipfile
from collections.abc import Callable
from dataclasses import dataclass
from http.client import HTTPException
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
CACHE = ROOT / ".cache" / "samples"
MAVEN_REPO = ROOT / ".cache" / "maven-repository"


@dataclass(frozen=True)
class Sample:
    name: str
    version: str
    registry: str  # "pypi" or "maven"
    # PyPI: the URL of a file on PyPI's file host; Maven: group:artifact:version[:type[:classifier]]
    coordinates: str
    sha256: str  # of the file the registry serves
    # Members of the archive extracted beside it (glob patterns, matched against paths in it).
    extract: tuple[str, ...] = ()
    keep_archive: bool = False  # keep the file itself (a program run by the tests)

    @property
    def folder(self) -> Path:
        return CACHE / f"{self.name}-{self.version}"


SAMPLES = (
    # pixi's own lock files of a Jupyter kernel project (rattler-lock v6), written by pixi for its
    # tests: R, Python and pyproject workspaces, 0 to 485 packages, five platforms.
    Sample("pixi-kernel", "0.7.1", "pypi",
           "https://files.pythonhosted.org/packages/57/32/9cd86c46272ce0c10cfe9dbf1966afbd8faa4"
           "452c9ba97974977b2fe6572/pixi_kernel-0.7.1.tar.gz",
           "b8788c9f07e24397576947771ef81fc3cb58d374e245939bf4f5a4a827edaf1f",
           extract=("*/pixi.lock",)),
    # A project's development environment locked by a current pixi (rattler-lock v7: a
    # `platforms` table, conda and PyPI packages on three platforms, its own project as `./`).
    Sample("batconf", "0.4.0", "pypi",
           "https://files.pythonhosted.org/packages/e7/36/c39e8779a37988d99d75489443b02fd3ab0222"
           "e7e844431449a879b3bde7/batconf-0.4.0.tar.gz",
           "32e115817d47c08367f8b95a8910dfa098ab363bfaf9094ba798fc216e526727",
           extract=("*/pixi.lock",)),
    # The SPDX project's tools (`Verify` checks a document against SPDX's JSON Schema and reads
    # it with the SPDX Java library), with the published SPDX 3.0.1 JSON Schema inside.
    Sample("spdx-tools-java", "2.0.1", "maven",
           "org.spdx:tools-java:2.0.1:jar:jar-with-dependencies",
           "91199aea28398c0f7f3d53f65437c0123fb763b65faacd55375839b1a05c73cd",
           extract=("resources/spdx-schema-v3.0.1.json",), keep_archive=True),
)


class FetchError(Exception):
    pass


def _download(sample: Sample, partial: Path) -> Path:
    if sample.registry == "pypi":
        target = partial / sample.coordinates.rsplit("/", 1)[-1]
        with urllib.request.urlopen(sample.coordinates, timeout=120) as response:
            target.write_bytes(response.read())
        return target
    if shutil.which("mvn") is None:
        raise FetchError("mvn is not installed (apt-get install maven)")
    run = subprocess.run(
        ["mvn", "-q", "-B", "dependency:copy", f"-Dartifact={sample.coordinates}",
         f"-DoutputDirectory={partial}", f"-Dmaven.repo.local={MAVEN_REPO}"],
        capture_output=True, text=True, cwd=partial)
    jars = list(partial.glob("*.jar"))
    if run.returncode != 0 or len(jars) != 1:
        last = (run.stdout + run.stderr).strip().splitlines()[-1:] or ["no output"]
        raise FetchError(f"mvn dependency:copy {sample.coordinates} failed: {last[0]}")
    return jars[0]


def _read_members(archive: Path, wanted: Callable[[str], bool]) -> dict[str, bytes]:
    """The files of `archive` whose names `wanted` accepts (a 60 MB jar is never read whole)."""
    if archive.name.endswith((".tar.gz", ".tgz")):
        with tarfile.open(archive) as tar:
            return {m.name: tar.extractfile(m).read()  # type: ignore[union-attr]
                    for m in tar.getmembers() if m.isfile() and wanted(m.name)}
    with zipfile.ZipFile(archive) as zipped:
        return {n: zipped.read(n) for n in zipped.namelist()
                if not n.endswith("/") and wanted(n)}


def _complete(folder: Path, pin: str) -> bool:
    """Whether `folder` holds this pin's sample: its marker names the pin and every file the
    fetch kept is still there."""
    marker = folder / ".complete"
    if not marker.exists():
        return False
    first, *kept = marker.read_text().splitlines() or [""]
    return first == pin and bool(kept) and all((folder / name).is_file() for name in kept)


def fetch(sample: Sample) -> float | None:
    """Fetch one sample unless it is complete; the seconds it took, or None if it was."""
    done = sample.folder
    pin = f"{sample.name} {sample.version} {sample.sha256}"
    if _complete(done, pin):
        return None  # a changed pin, or a file removed since, fetches anew
    started = time.monotonic()
    partial = done.with_name(done.name + ".partial")
    try:
        shutil.rmtree(partial, ignore_errors=True)
        partial.mkdir(parents=True)
        archive = _download(sample, partial)
        digest = hashlib.sha256(archive.read_bytes()).hexdigest()
        if digest != sample.sha256:
            raise FetchError(f"{sample.coordinates}: sha256 {digest}, pinned {sample.sha256}")
        kept = _extract(sample, archive, partial)
        if sample.keep_archive:
            kept.append(archive.name)
        else:
            archive.unlink()
        (partial / ".complete").write_text("\n".join([pin, *sorted(kept)]) + "\n")
        shutil.rmtree(done, ignore_errors=True)
        partial.rename(done)
    except (OSError, HTTPException, tarfile.TarError, zipfile.BadZipFile) as exc:
        shutil.rmtree(partial, ignore_errors=True)
        raise FetchError(f"{sample.name} {sample.version}: {exc!r}") from exc
    except FetchError:
        shutil.rmtree(partial, ignore_errors=True)
        raise
    return time.monotonic() - started


def _extract(sample: Sample, archive: Path, partial: Path) -> list[str]:
    """Write the members the tests read beside the archive; their paths."""
    members = _read_members(archive, lambda name: any(fnmatch.fnmatch(name, pattern)
                                                      for pattern in sample.extract))
    kept = []
    for pattern in sample.extract:
        matched = [m for m in members if fnmatch.fnmatch(m, pattern)]
        if not matched:
            raise FetchError(f"{archive.name} holds nothing matching {pattern}")
        for member in matched:
            if member.startswith("/") or ".." in member.split("/"):
                raise FetchError(f"{archive.name}: member {member!r} leaves its folder")
            (partial / member).parent.mkdir(parents=True, exist_ok=True)
            (partial / member).write_bytes(members[member])
            kept.append(member)
    return kept


def main(names: list[str]) -> int:
    unknown = set(names) - {s.name for s in SAMPLES}
    if unknown:
        print(f"fetch_samples: no sample named {', '.join(sorted(unknown))}", file=sys.stderr)
        return 2
    total = time.monotonic()
    for sample in SAMPLES:
        if names and sample.name not in names:
            continue
        try:
            took = fetch(sample)
        except FetchError as exc:
            print(f"fetch_samples: {exc}", file=sys.stderr)
            return 1
        said = "cached" if took is None else f"fetched in {took:.1f} s"
        print(f"samples: {sample.name} {sample.version} {said}")
    print(f"samples: ready in {CACHE.relative_to(ROOT)} ({time.monotonic() - total:.0f} s)")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
