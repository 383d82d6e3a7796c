"""Which files a Stack is built from, so a change to any of them can be traced to the stacks
it touches (the pull-request comment plans exactly those)."""

from __future__ import annotations

from engine.catalog.model import Catalog


def stack_sources(catalog: Catalog, stack: str) -> set[str]:
    """The repo paths a Stack is built from: its own YAML, the Models and Environments its
    workloads name, and their lock files with what those include (`-r`)."""
    found = catalog.get("Stack", stack)
    if found is None:
        return set()
    paths = {found.path}
    for workload in found.doc.get("spec", {}).get("workloads", []) or []:
        for kind, key in (("Model", "model"), ("Environment", "environment")):
            target = catalog.get(kind, str(workload.get(key, "")))
            if target is not None:
                paths.add(target.path)
        lock = catalog.locks.get(str(workload.get("environment", "")))
        if lock is not None:
            paths.add(lock.path)
            paths.update(path for path, _ in lock.included)
    return paths
