"""The AIBOM's dependency graph is built in one pass (engine.bom.build._dependencies) instead of
through cyclonedx-python-lib's `Bom.register_dependency`, which scans every registered
dependency per call and is called once per component by the library's own output: 171.7 s
for `govops bom` of 10,000 objects with a PyPI-sized advisory database, 20.9 s now. The
document must be exactly what the library's way gives, and the output's per-component
registrations must never reach the library's scan."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from cyclonedx.model.bom import Bom

import engine.bom.build as build
from engine.repo.scripted import Step
from tests.support.cli import govops
from tests.support.repos import FIXTURES, fixture, make_repo


def _library_way(bom: Bom, root: Any, graph: Any) -> None:
    """What govops did before: the library's own registration, edge by edge."""
    bom.register_dependency(root, [graph.components[r] for r in build._roots(graph)])
    for ref, targets in graph.edges.items():
        if targets:
            bom.register_dependency(graph.components[ref],
                                    [graph.components[t] for t in targets])


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    """The fixture repo with a uv.lock (a forked torch, two indexes) and a conda environment:
    packages shared between environments and several roots."""
    files = fixture("acme-ml")
    serve, train = "environments/vllm-serve.yaml", "environments/train.yaml"
    files[serve] = files[serve].replace(b"environments/vllm-serve.txt", b"environments/uv.lock")
    files[train] = files[train].replace(b"environments/pylock.train.toml",
                                        b"environments/train-explicit.txt")
    files["environments/uv.lock"] = (FIXTURES / "lockfiles" / "uv" / "uv.lock").read_bytes()
    files["environments/train-explicit.txt"] = (
        FIXTURES / "lockfiles" / "conda" / "explicit-linux-64.txt").read_bytes()
    make_repo(tmp_path / "r", Step("formats", files))
    return tmp_path / "r"


def test_the_graph_is_the_one_the_library_builds(repo: Path,
                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    ours = govops("bom", "--repo", str(repo))
    assert ours.exit_code == 0, ours.stderr

    def library_dependencies(root: Any, graph: Any) -> list[Any]:
        bom = Bom(components=graph.components.values())
        _library_way(bom, root, graph)
        for component in graph.components.values():  # what the library's output adds
            bom.register_dependency(component)
        return list(bom.dependencies)

    monkeypatch.setattr(build, "_dependencies", library_dependencies)
    theirs = govops("bom", "--repo", str(repo))
    assert theirs.exit_code == 0, theirs.stderr
    assert ours.stdout == theirs.stdout
    document = json.loads(ours.stdout)
    assert len(document["dependencies"]) == len({d["ref"] for d in document["dependencies"]})
    assert any(d.get("dependsOn") for d in document["dependencies"])


def test_the_output_never_scans_the_registered_dependencies(
        repo: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    reached: list[str] = []
    scan = Bom.register_dependency

    def counted(self: Bom, target: Any, depends_on: Any = None) -> None:
        reached.append(str(target.bom_ref))
        scan(self, target, depends_on)

    monkeypatch.setattr(Bom, "register_dependency", counted)
    run = govops("bom", "--repo", str(repo))
    assert run.exit_code == 0, run.stderr
    assert reached == []  # every component was answered from the index
    # Without the index, the output reaches the library's scan once per component and root.
    monkeypatch.setattr(build, "_index_dependencies", lambda bom: None)
    again = govops("bom", "--repo", str(repo))
    assert again.stdout == run.stdout
    assert {"repository", "stack:dev-sandbox", "workload:dev-sandbox/playground"} <= set(reached)
    assert len(reached) == len(set(reached)) > 20
